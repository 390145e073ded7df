//! Snapshots of the Line view and Help at 80x24 and 160x48, driven by synthetic engine events
//! (no hardware): idle, running, passing, failing.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use station::record::Outcome;
use station::station::Event;
use station::tui::{Action, App, Theme, render};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn app(t0: Instant) -> App {
    app_with(Theme::plain(), t0)
}

fn app_with(theme: Theme, t0: Instant) -> App {
    let fixtures = (1..=4)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    App::new("virtual-bench", "virtual-operator", fixtures, theme, t0)
}

fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn scan(app: &mut App, label: &str) -> Action {
    for c in label.chars() {
        press(app, KeyCode::Char(c));
    }
    press(app, KeyCode::Enter)
}

fn step(
    app: &mut App,
    fixture: &str,
    unit: u64,
    name: &str,
    outcome: Outcome,
    error: Option<&str>,
) {
    app.on_event(&Event::StepStarted {
        fixture: fixture.into(),
        unit,
        step: name.into(),
    });
    app.on_event(&Event::StepFinished {
        fixture: fixture.into(),
        unit,
        step: name.into(),
        outcome,
        duration_s: 0.25,
        error: error.map(str::to_string),
    });
}

fn progress(app: &mut App, fixture: &str, unit: u64, name: &str, phase: &str, done: u64) {
    app.on_event(&Event::StepStarted {
        fixture: fixture.into(),
        unit,
        step: name.into(),
    });
    app.on_event(&Event::Progress {
        fixture: fixture.into(),
        unit,
        step: name.into(),
        phase: phase.into(),
        done,
        total: 99_392,
    });
}

const PASSING_STEPS: [&str; 7] = [
    "attach",
    "identify",
    "traceability",
    "flash_bootloader",
    "option_bytes",
    "dfu_download",
    "confirm_application",
];

fn unit_passes(app: &mut App, fixture: &str, unit: u64, serial: &str) {
    for name in PASSING_STEPS {
        step(app, fixture, unit, name, Outcome::Pass, None);
    }
    finish(app, fixture, unit, serial, Outcome::Pass, None);
}

fn finish(
    app: &mut App,
    fixture: &str,
    unit: u64,
    serial: &str,
    outcome: Outcome,
    failure: Option<&str>,
) {
    app.on_event(&Event::UnitFinished {
        fixture: fixture.into(),
        unit,
        serial: serial.into(),
        outcome,
        record: format!("logs/{serial}/20261121T052716250Z-929cfce2a1.json"),
        failure: failure.map(str::to_string),
    });
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|frame| render(app, frame)).expect("draws");
    terminal
}

fn assert_views(app: &App, state: &str) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{state}_{w}x{h}"), draw(app, w, h).backend());
    }
}

fn has_colour(buffer: &Buffer) -> bool {
    buffer
        .content
        .iter()
        .any(|cell| cell.fg != Color::Reset || cell.bg != Color::Reset)
}

#[test]
fn idle() {
    assert_views(&app(Instant::now()), "idle");
}

#[test]
fn running() {
    let t0 = Instant::now();
    let mut app = app(t0);
    scan(&mut app, "LBL-0001");
    scan(&mut app, "LBL-0002");
    step(&mut app, "sim-1", 7, "attach", Outcome::Pass, None);
    step(&mut app, "sim-1", 7, "identify", Outcome::Pass, None);
    progress(&mut app, "sim-1", 7, "flash_bootloader", "program", 45_056);
    for name in &PASSING_STEPS[..5] {
        step(&mut app, "sim-2", 3, name, Outcome::Pass, None);
    }
    progress(&mut app, "sim-2", 3, "dfu_download", "program", 90_112);
    app.tick(t0 + Duration::from_secs(12));
    assert_views(&app, "running");
}

#[test]
fn passing() {
    let t0 = Instant::now();
    let mut app = app(t0);
    assert!(matches!(press(&mut app, KeyCode::F(5)), Action::Start(r) if r.units.len() == 4));
    app.tick(t0 + Duration::from_secs(9));
    for i in 1..=4 {
        let serial = format!("UID-5ACE47BC5AC5372E928A22{i:02}");
        unit_passes(&mut app, &format!("sim-{i}"), i, &serial);
    }
    app.tick(t0 + Duration::from_secs(60));
    assert_views(&app, "passing");
}

/// sim-1 passes, sim-2 fails its DFU download, sim-3's engine fails, sim-4 is free.
fn failing_app(theme: Theme) -> App {
    let t0 = Instant::now();
    let mut app = app_with(theme, t0);
    scan(&mut app, "LBL-0001");
    scan(&mut app, "LBL-0002");
    let Action::Start(sim_3) = scan(&mut app, "LBL-0003") else {
        panic!("Enter starts sim-3");
    };
    app.tick(t0 + Duration::from_secs(8));
    unit_passes(&mut app, "sim-1", 11, "UID-5ACE47BC5AC5372E928A2201");
    for name in &PASSING_STEPS[..5] {
        step(&mut app, "sim-2", 12, name, Outcome::Pass, None);
    }
    let why = "USB device 1209:df00 did not enumerate within 5s: check the USB cable, then retest";
    step(
        &mut app,
        "sim-2",
        12,
        "dfu_download",
        Outcome::Fail,
        Some(why),
    );
    let failure = format!("dfu_download: {why}");
    let serial = "UID-5ACE47BC5AC5372E928A2202";
    finish(&mut app, "sim-2", 12, serial, Outcome::Fail, Some(&failure));
    app.on_run_ended(
        sim_3.id,
        Some("error: fixtures/bootloader.hex: sha256 does not match the pin"),
    );
    app.tick(t0 + Duration::from_secs(30));
    app
}

#[test]
fn failing() {
    assert_views(&failing_app(Theme::plain()), "failing");
}

#[test]
fn no_color_leaves_words_and_symbols_but_no_colour() {
    let plain = draw(&failing_app(Theme::plain()), 80, 24);
    let coloured = draw(&failing_app(Theme::colour()), 80, 24);
    assert!(!has_colour(plain.backend().buffer()));
    assert!(has_colour(coloured.backend().buffer()));
    // The same words either way: colour only repeats them.
    assert_eq!(plain.backend().to_string(), coloured.backend().to_string());
}

#[test]
fn help() {
    let mut app = app(Instant::now());
    press(&mut app, KeyCode::F(1));
    assert_views(&app, "help");
}

#[test]
fn every_size_renders_without_panicking() {
    let t0 = Instant::now();
    let mut running = app(t0);
    press(&mut running, KeyCode::F(5));
    progress(&mut running, "sim-1", 1, "flash_bootloader", "erase", 512);
    let mut help = app(t0);
    press(&mut help, KeyCode::F(1));
    let apps = [app(t0), running, failing_app(Theme::colour()), help];
    for app in &apps {
        for (w, h) in [(1, 1), (10, 5), (40, 12), (79, 23), (80, 24), (200, 60)] {
            draw(app, w, h);
        }
    }
}
