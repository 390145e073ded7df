//! `station bench tui`: how long a frame takes to render (8 fixtures at 200x60, on a
//! `TestBackend`), and how much CPU the event loop uses while idle. Goals: 2 ms per frame,
//! under 1% CPU.

use std::io;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;

use super::app::{App, View};
use super::event_loop::{Input, drive};
use super::render::render;
use super::theme::Theme;
use crate::chip::BootOutcome;
use crate::record::Outcome;
use crate::station::Event;
use crate::station::torture::{CutMode, Point};

pub const FRAME_GOAL: Duration = Duration::from_millis(2);
pub const IDLE_CPU_GOAL: f64 = 0.01;

#[derive(Clone, Debug, Serialize)]
pub struct FrameStats {
    pub view: String,
    pub width: u16,
    pub height: u16,
    pub fixtures: usize,
    pub frames: usize,
    pub mean_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdleStats {
    pub wall_s: f64,
    pub frames: usize,
    /// CPU time of the loop's thread, when the platform tells it.
    pub cpu_ms: Option<f64>,
    pub cpu_share: Option<f64>,
    pub met: Option<bool>,
}

/// The `q`-th quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A busy station: `n` fixtures running, passed and failed, a full log and a campaign.
pub fn sample_app(n: usize) -> App {
    let t0 = Instant::now();
    let fixtures = (1..=n)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    let mut app = App::new("bench", "operator", fixtures, Theme::colour(), t0);
    let steps = ["attach", "identify", "flash_bootloader", "option_bytes"];
    for (i, id) in (1..=n).map(|i| format!("sim-{i}")).enumerate() {
        let unit = i as u64 + 1;
        let ev = |step: &str, outcome| Event::StepFinished {
            fixture: id.clone(),
            unit,
            step: step.into(),
            outcome,
            duration_s: 0.5,
            error: None,
        };
        for step in steps {
            app.on_event(&ev(step, Outcome::Pass));
        }
        match i % 3 {
            0 => app.on_event(&Event::Progress {
                fixture: id.clone(),
                unit,
                step: "dfu_download".into(),
                phase: "program".into(),
                done: 40_960,
                total: 99_392,
            }),
            1 => app.on_event(&finished(&id, unit, Outcome::Pass, None)),
            _ => app.on_event(&finished(
                &id,
                unit,
                Outcome::Fail,
                Some("dfu_download: USB device 1209:df00 did not enumerate within 5s"),
            )),
        }
    }
    for i in 0..200 {
        app.log
            .push(super::log::LogKind::Info, format!("line {i} of the log"));
    }
    campaign(&mut app, t0);
    app
}

fn finished(fixture: &str, unit: u64, outcome: Outcome, failure: Option<&str>) -> Event {
    Event::UnitFinished {
        fixture: fixture.into(),
        unit,
        serial: format!("UID-5ACE47BC5AC5372E928A22{unit:02}"),
        outcome,
        record: "logs/UID/record.json".into(),
        failure: failure.map(str::to_string),
    }
}

/// A half-run campaign of 6 modes x 120 operations on the first fixture.
fn campaign(app: &mut App, t0: Instant) {
    let Some(fixture) = app.fixtures.first().map(|f| f.id.clone()) else {
        return;
    };
    app.campaigns
        .insert(fixture.clone(), super::torture::Campaign::new(t0));
    let points: Vec<Point> = CutMode::ALL
        .iter()
        .flat_map(|&mode| (0..120).map(move |index| Point { mode, index }))
        .collect();
    let total = points.len() as u64;
    app.on_event(&Event::TorturePlanned {
        fixture: fixture.clone(),
        unit: 1,
        plan_operations: 120,
        flash_operations: 120,
        points: points.clone(),
    });
    let outcomes = [
        BootOutcome::NewImage,
        BootOutcome::OldImage,
        BootOutcome::CorruptApp,
    ];
    for (i, p) in points.iter().take(points.len() / 2).enumerate() {
        let outcome = outcomes[i % outcomes.len()];
        app.on_event(&Event::TorturePoint {
            fixture: fixture.clone(),
            unit: 1,
            mode: p.mode,
            index: p.index,
            operation: format!("write block {}", p.index),
            outcome,
            recovered: outcome != BootOutcome::CorruptApp,
            bricks: outcome == BootOutcome::CorruptApp,
            resumed: false,
            done: i as u64 + 1,
            total,
        });
    }
}

/// Render `frames` frames of `app` in `view` at `width` x `height`, timing each.
pub fn frames(
    app: &mut App,
    view: View,
    (width, height): (u16, u16),
    frames: usize,
) -> io::Result<FrameStats> {
    app.view = view;
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let start = Instant::now();
        terminal.draw(|frame| render(app, frame))?;
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().sum::<Duration>() / frames.max(1) as u32;
    let p99 = quantile(&times, 0.99);
    Ok(FrameStats {
        view: format!("{view:?}").to_lowercase(),
        width,
        height,
        fixtures: app.fixtures.len(),
        frames,
        mean_ms: ms(mean),
        p99_ms: ms(p99),
        max_ms: ms(times.last().copied().unwrap_or_default()),
        met: p99 <= FRAME_GOAL,
    })
}

/// No input until `until`, then F10; waits as a terminal does, blocking for the timeout.
struct Silence {
    until: Instant,
    polls: usize,
}

impl Input for Silence {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
        self.polls += 1;
        let now = Instant::now();
        if now >= self.until {
            let f10 = KeyEvent::new(KeyCode::F(10), KeyModifiers::NONE);
            return Ok(Some(TermEvent::Key(f10)));
        }
        std::thread::sleep(timeout.min(self.until - now));
        Ok(None)
    }
}

/// CPU time this thread has used (Linux: /proc/thread-self/schedstat, in nanoseconds).
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Run the real event loop on `app` for `duration` with no input and no engine work, and
/// measure the CPU its thread used.
pub fn idle(app: &mut App, duration: Duration) -> io::Result<IdleStats> {
    app.view = View::Line;
    let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
    let (_sender, messages) = std::sync::mpsc::channel();
    let abort = AtomicBool::new(false);
    let mut input = Silence {
        until: Instant::now() + duration,
        polls: 0,
    };
    let (wall0, cpu0) = (Instant::now(), thread_cpu_time());
    drive(
        &mut terminal,
        app,
        &mut |_| {},
        &messages,
        &mut input,
        &abort,
    )?;
    let wall = wall0.elapsed();
    let cpu = cpu0
        .zip(thread_cpu_time())
        .map(|(a, b)| b.saturating_sub(a));
    let share = cpu.map(|c| c.as_secs_f64() / wall.as_secs_f64().max(1e-9));
    Ok(IdleStats {
        wall_s: wall.as_secs_f64(),
        frames: input.polls,
        cpu_ms: cpu.map(|c| c.as_secs_f64() * 1000.0),
        cpu_share: share,
        met: share.map(|s| s < IDLE_CPU_GOAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_is_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=200).map(Duration::from_micros).collect();
        assert_eq!(quantile(&samples, 0.99), Duration::from_micros(198));
        assert_eq!(quantile(&samples[..1], 0.99), Duration::from_micros(1));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn the_sample_station_renders_every_view_with_its_campaign() {
        let mut app = sample_app(8);
        assert_eq!(app.campaigns.values().next().map(|c| c.total()), Some(720));
        for view in [View::Line, View::Torture, View::Rma] {
            let stats = frames(&mut app, view, (200, 60), 2).unwrap();
            assert_eq!((stats.frames, stats.fixtures), (2, 8));
        }
    }
}
