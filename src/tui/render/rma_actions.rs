//! The RMA view's actions on the selected fixture as they run and how they ended: the
//! inspection, the recovery, a rework clearance (and a unit routed to rework), the retest.

use ratatui::text::Line;

use super::panel::{clock, symbol};
use crate::record::Outcome;
use crate::tui::app::{App, Job};
use crate::tui::fixture::{FixturePanel, PanelState};
use crate::tui::reason;
use crate::tui::rma::{RecoverRun, RmaUnit};
use crate::tui::theme::Theme;

/// What runs or ran on the fixture: inspection, recovery, retest.
pub fn lines(app: &App, panel: &FixturePanel, unit: &RmaUnit) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines = Vec::new();
    match (app.job(&panel.id), &unit.inspection) {
        (Some(Job::Inspect), _) => lines.push(Line::styled(
            format!("… Inspecting the unit on {}", panel.id),
            theme.title(),
        )),
        (_, None) if unit.inspect_error.is_none() => lines.push(Line::from(format!(
            "F5 inspects the unit on {} over SWD (F8: through its bootloader, over DFU): \
             identity, read protection, option bytes, bootloader and slots, what would boot, \
             and its history.",
            panel.id
        ))),
        _ => {}
    }
    if let Some(e) = &unit.inspect_error {
        lines.push(Line::styled(
            format!("! Inspect failed: {e}"),
            theme.notice(),
        ));
    }
    if let Some(why) = &unit.refused {
        lines.push(Line::styled(format!("■ {why}"), theme.notice()));
    }
    if let Some(run) = &unit.recover {
        lines.push(recover_line(run, theme));
    }
    lines.extend(rework_lines(app, panel, unit));
    lines.extend(retest_line(app, panel));
    lines
}

/// A unit routed to rework, a clearance being written, or how the last one ended.
fn rework_lines(app: &App, panel: &FixturePanel, unit: &RmaUnit) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines = Vec::new();
    if app.job(&panel.id) == Some(Job::Clear) {
        lines.push(Line::styled(
            "… Writing the rework clearance",
            theme.title(),
        ));
    } else if let Some(end) = &unit.clearance {
        let record = end
            .record
            .as_deref()
            .map(|r| format!(" · record {r}"))
            .unwrap_or_default();
        let text = match end.outcome {
            Outcome::Pass => format!("Rework clearance: {}{record}", end.text),
            _ => format!("No rework clearance written: {}", end.text),
        };
        lines.push(Line::styled(
            format!("{} {text}", symbol(end.outcome)),
            theme.outcome(end.outcome),
        ));
    }
    if unit.history.as_ref().is_some_and(|h| h.routed_to_rework()) {
        lines.push(Line::styled(
            "■ Routed to rework: production refuses this unit until it is cleared · F9 \
             clears it once reworked",
            theme.notice(),
        ));
    }
    lines
}

fn recover_line(run: &RecoverRun, theme: &Theme) -> Line<'static> {
    match &run.end {
        Some(end) => {
            let record = end
                .record
                .as_deref()
                .map(|r| format!(" · record {r}"))
                .unwrap_or_default();
            let text = if end.outcome == Outcome::Pass {
                "Recovered".to_string()
            } else {
                format!("Recover {}: {}", end.outcome, end.text)
            };
            Line::styled(
                format!("{} {text}{record}", symbol(end.outcome)),
                theme.outcome(end.outcome),
            )
        }
        None => {
            let step = run
                .step
                .as_deref()
                .map_or("starting".to_string(), |s| s.replace('_', " "));
            let progress = run
                .progress
                .as_ref()
                .map(|p| {
                    format!(
                        ", {} {:.0}%",
                        reason::phase_title(&p.phase),
                        p.ratio() * 100.0
                    )
                })
                .unwrap_or_default();
            Line::styled(
                format!(
                    "▶ Recovering: {step}{progress} ({} steps done)",
                    run.steps.len()
                ),
                theme.title(),
            )
        }
    }
}

/// The production test on this fixture: a retest under way, or the last verdict.
fn retest_line(app: &App, panel: &FixturePanel) -> Option<Line<'static>> {
    let theme = &app.theme;
    let elapsed = panel.elapsed(app.now()).map(clock).unwrap_or_default();
    match (panel.state(), &panel.verdict) {
        (PanelState::Done, Some(v)) => {
            let serial = panel.serial.clone().unwrap_or_default();
            let why = match v.outcome {
                Outcome::Pass => String::new(),
                o => format!(": {}", reason::explain(o, v.failure.as_deref()).sentence()),
            };
            Some(Line::styled(
                format!(
                    "{} Production test {} {serial} · {elapsed}{why}",
                    symbol(v.outcome),
                    v.outcome
                ),
                theme.outcome(v.outcome),
            ))
        }
        (PanelState::Starting | PanelState::Running, _) => {
            let step = panel
                .step
                .as_deref()
                .map_or("starting".to_string(), reason::step_title);
            Some(Line::styled(
                format!("▶ Production test: {step} · {elapsed}"),
                theme.title(),
            ))
        }
        _ => None,
    }
}
