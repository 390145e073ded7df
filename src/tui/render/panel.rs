//! One fixture's panel: its unit, step and progress while it runs; a big verdict with the
//! reason in plain words once it is done.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use super::big_text;
use crate::record::Outcome;
use crate::tui::app::{App, Job};
use crate::tui::fixture::{FixturePanel, PanelState, Progress, Verdict};
use crate::tui::reason::{self, STEPS};
use crate::tui::theme::Theme;

/// Width of a field name column ("Elapsed ").
const NAME_WIDTH: usize = 8;

pub fn render(app: &App, panel: &FixturePanel, selected: bool, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let marker = if selected { "▶ " } else { "" };
    let mut block = Block::bordered()
        .title(Line::styled(
            format!(" {marker}{} ", panel.id),
            theme.title(),
        ))
        .title(Line::from(format!(" {} ", panel.profile)).right_aligned());
    if let Some(cycles) = panel.cycles {
        // Pogo pins and cables wear with the units a fixture has had.
        let plural = if cycles == 1 { "" } else { "s" };
        block = block.title_bottom(Line::from(format!(" {cycles} cycle{plural} ")).right_aligned());
    }
    if selected {
        block = block
            .border_type(BorderType::Thick)
            .border_style(theme.selected_border());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let elapsed = panel.elapsed(app.now()).map(clock).unwrap_or_default();
    if let (Some(job), false) = (app.job(&panel.id), panel.busy) {
        return render_job(job, theme, frame, inner);
    }
    match (panel.state(), &panel.verdict) {
        (PanelState::Done, Some(verdict)) => {
            render_done(panel, verdict, &elapsed, theme, frame, inner)
        }
        (PanelState::Ready, _) => render_ready(selected, theme, frame, inner),
        _ => render_running(panel, &elapsed, theme, frame, inner),
    }
}

/// A campaign or RMA work holds the fixture: where to watch it.
fn render_job(job: Job, theme: &Theme, frame: &mut Frame, area: Rect) {
    let view = match job {
        Job::Torture => "F3 shows it",
        Job::Inspect | Job::Recover | Job::Clear => "F4 shows it",
    };
    let lines = vec![
        Line::styled(format!("▶ Busy: {}", job.words()), theme.title()),
        Line::styled(view, theme.dim()),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn render_ready(selected: bool, theme: &Theme, frame: &mut Frame, area: Rect) {
    let hint = if selected {
        "Place a unit, scan its label, press Enter"
    } else {
        "Tab selects this fixture"
    };
    let lines = vec![
        Line::styled("○ Ready", theme.title()),
        Line::styled(hint, theme.dim()),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn render_running(
    panel: &FixturePanel,
    elapsed: &str,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let unit = panel
        .unit
        .map_or_else(|| "…".to_string(), |u| format!("#{u}"));
    let step = match panel.step.as_deref() {
        None => "… Starting".to_string(),
        Some(step) => match reason::step_number(step) {
            Some(n) => format!("{n}/{} {}", STEPS.len(), reason::step_title(step)),
            None => reason::step_title(step),
        },
    };
    let gauge = panel
        .progress
        .as_ref()
        .map(|p| progress_line(p, area.width as usize, theme))
        .unwrap_or_default();
    let mut lines = vec![
        label_line(panel, theme),
        field("Unit", unit, theme),
        field("Step", step, theme),
        gauge,
        field("Elapsed", elapsed.to_string(), theme),
    ];
    if area.height as usize > lines.len() + STEPS.len() {
        lines.push(Line::default());
        lines.extend(checklist(panel, theme));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Every step with a mark: ✓ passed, ▶ running, · to come (tall panels only).
fn checklist(panel: &FixturePanel, theme: &Theme) -> Vec<Line<'static>> {
    STEPS
        .iter()
        .map(|(id, title)| {
            let done = panel.finished_steps.iter().find(|(name, ..)| name == id);
            let (mark, style, time) = match done {
                Some((_, outcome, secs)) => (
                    symbol(*outcome),
                    theme.outcome(*outcome),
                    format!("{secs:.2} s"),
                ),
                None if panel.step.as_deref() == Some(*id) => ("▶", theme.title(), String::new()),
                None => ("·", theme.dim(), String::new()),
            };
            Line::from(vec![
                Span::styled(format!("  {mark} "), style),
                Span::raw(format!("{title:<26}{time}")),
            ])
        })
        .collect()
}

fn render_done(
    panel: &FixturePanel,
    verdict: &Verdict,
    elapsed: &str,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let word = verdict.outcome.to_string();
    let (width, height) = (area.width as usize, area.height as usize);
    let big = width >= big_text::width(&word) && height >= 2 + big_text::HEIGHT + 3;
    let banner_rows = if big { big_text::HEIGHT + 1 } else { 1 };
    // Counted as the Step line counts them (n/7), the checks beyond those said apart: the
    // run's "Step 6/7" must not end as "All 8 steps passed".
    let in_list = |s: &String| reason::step_number(s).is_some();
    let main = panel
        .finished_steps
        .iter()
        .filter(|(s, ..)| in_list(s))
        .count();
    let steps = (main.max(STEPS.len()), panel.finished_steps.len() - main);
    let (mut why, detail) = why_lines(verdict, big, elapsed, steps, theme);
    // The engine's own words only get the room left: the head comes first.
    let why_rows: usize = why.iter().map(|l| l.width().div_ceil(width.max(1))).sum();
    why.extend(detail);
    let head = head_lines(
        panel,
        width,
        height.saturating_sub(banner_rows + why_rows),
        theme,
    );
    let [head_area, banner_area, why_area] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Length(banner_rows as u16),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(head), head_area);
    let outcome = verdict.outcome;
    let banner = if big {
        let rows = big_text::rows(&word).into_iter();
        Paragraph::new(
            rows.map(|row| Line::from(row).centered())
                .collect::<Vec<_>>(),
        )
        .style(theme.outcome(outcome))
    } else {
        // A full-width bar in reverse video: it stands out without colour.
        Paragraph::new(Line::from(format!("{} {word} · {elapsed}", symbol(outcome))).centered())
            .style(theme.banner(outcome))
    };
    frame.render_widget(banner, banner_area.intersection(area));
    frame.render_widget(Paragraph::new(why).wrap(Wrap { trim: true }), why_area);
}

/// The label (when scanned) and the serial, as many as `room` allows, the label first: it is
/// what the operator reads off the unit.
fn head_lines(
    panel: &FixturePanel,
    width: usize,
    room: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut serial = panel.serial.clone().unwrap_or_else(|| "unknown".into());
    if let Some(unit) = panel.unit {
        // The fixture's cycle count, not an attempt number (a retest has an attempt line).
        let with_unit = format!("{serial} · cycle {unit}");
        if NAME_WIDTH + with_unit.chars().count() <= width {
            serial = with_unit;
        }
    }
    let mut lines = Vec::new();
    if panel.label.is_some() || panel.golden {
        lines.push(label_line(panel, theme));
    }
    lines.push(field("Serial", serial, theme));
    if let Some(attempt) = panel.attempt.filter(|a| *a > 1) {
        lines.push(field(
            "Attempt",
            format!("{attempt} (tested {} time(s) before)", attempt - 1),
            theme,
        ));
    }
    lines.truncate(room.max(1));
    lines
}

/// Under the verdict: for a pass, that all steps passed; otherwise what went wrong and what
/// to do. Second, the engine's own words, for an engineer.
fn why_lines(
    verdict: &Verdict,
    big: bool,
    elapsed: &str,
    (steps, more): (usize, usize),
    theme: &Theme,
) -> (Vec<Line<'static>>, Option<Line<'static>>) {
    let mut lines = Vec::new();
    if big {
        let text = format!(
            "{} {} · {elapsed}",
            symbol(verdict.outcome),
            verdict.outcome
        );
        lines.push(Line::styled(text, theme.outcome(verdict.outcome)).centered());
    }
    if verdict.outcome == Outcome::Pass {
        let more = match more {
            0 => String::new(),
            1 => ", and 1 more check".into(),
            n => format!(", and {n} more checks"),
        };
        lines.push(Line::from(format!("All {steps} steps passed{more}")));
        return (lines, None);
    }
    let why = reason::explain(verdict.outcome, verdict.failure.as_deref());
    lines.push(Line::styled(why.sentence(), theme.title()));
    let detail = (!why.detail.is_empty()).then(|| Line::styled(why.detail, theme.dim()));
    (lines, detail)
}

pub fn symbol(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✓",
        Outcome::Fail => "✗",
        Outcome::Error | Outcome::Timeout => "!",
        Outcome::Aborted => "■",
    }
}

fn label_line(panel: &FixturePanel, theme: &Theme) -> Line<'static> {
    if panel.golden {
        return field("Check", "golden unit of the shift".into(), theme);
    }
    let label = panel.label.clone().unwrap_or_else(|| "(no scan)".into());
    field("Label", label, theme)
}

fn field(name: &str, value: String, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<NAME_WIDTH$}"), theme.dim()),
        Span::raw(value),
    ])
}

/// "████░░░░  45% Programming 44/97 KiB", shortened to fit `width`.
fn progress_line(progress: &Progress, width: usize, theme: &Theme) -> Line<'static> {
    let percent = (progress.ratio() * 100.0).floor() as u32;
    let phase = reason::phase_title(&progress.phase);
    let kib = format!(
        " {}/{} KiB",
        progress.done / 1024,
        progress.total.div_ceil(1024)
    );
    let mut text = format!(" {percent:>3}% {phase}");
    let room = width.saturating_sub(NAME_WIDTH);
    if room >= text.len() + kib.len() + 10 {
        text.push_str(&kib);
    }
    let bar_width = room.saturating_sub(text.chars().count()).max(4);
    let filled = ((progress.ratio() * bar_width as f64).round() as usize).min(bar_width);
    Line::from(vec![
        Span::raw(" ".repeat(NAME_WIDTH)),
        Span::styled("█".repeat(filled), theme.progress()),
        Span::styled("░".repeat(bar_width - filled), theme.dim()),
        Span::raw(text),
    ])
}

/// "0:07", "12:34", "1:02:03".
pub fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture::Verdict;

    fn text(lines: &[Line]) -> String {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_pass_counts_its_steps_as_the_step_line_did_and_the_checks_beyond_them_apart() {
        let pass = Verdict {
            outcome: Outcome::Pass,
            failure: None,
        };
        let theme = Theme::plain();
        let (lines, _) = why_lines(&pass, false, "1 s", (STEPS.len(), 1), &theme);
        assert_eq!(text(&lines), "All 7 steps passed, and 1 more check");
        let (lines, _) = why_lines(&pass, false, "1 s", (STEPS.len(), 0), &theme);
        assert_eq!(text(&lines), "All 7 steps passed");
    }
}
