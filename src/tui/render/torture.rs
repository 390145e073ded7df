//! The Torture view: the selected fixture's campaign: where it stands (with an ETA), the live
//! cut-point map, counts per outcome and the first reproducer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::panel::{clock, symbol};
use super::{bars, map, with_log};
use crate::station::torture::report::outcome_key;
use crate::tui::app::App;
use crate::tui::fixture::FixturePanel;
use crate::tui::reason;
use crate::tui::theme::Theme;
use crate::tui::torture::Campaign;

pub fn render(app: &App, frame: &mut Frame, body: Rect) {
    let area = with_log(app, frame, body);
    let Some(panel) = app.selected_fixture() else {
        return;
    };
    let block = Block::bordered()
        .title(Line::styled(
            format!(" Torture · {} ", panel.id),
            app.theme.title(),
        ))
        .title(Line::from(format!(" {} ", panel.profile)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines = Vec::new();
    if app.fixtures.len() > 1 {
        lines.push(strip(app));
    }
    lines.extend(bars::notice(app));
    let campaign = app.campaigns.get(&panel.id);
    match campaign {
        _ if !panel.caps.torture => lines.extend(not_here(panel, &app.theme)),
        None => lines.push(Line::from(
            "Ready: F5 cuts an update at every operation in every mode of the profile's \
             [torture] plan and checks the unit always comes back.",
        )),
        Some(c) => {
            lines.push(status(app, c, width));
            lines.extend(ending_text(c));
            if !c.points.is_empty() {
                lines.push(Line::default());
                lines.extend(map::rows(c, width, &app.theme));
                lines.push(Line::default());
                lines.push(Line::from(map::legend(c, width, &app.theme)));
            }
            lines.extend(reproducer(c, &app.theme));
            lines.extend(record(c, &app.theme));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// Every fixture, the selected one marked, with its campaign's state.
fn strip(app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled("Fixtures ", app.theme.dim())];
    for (i, f) in app.fixtures.iter().enumerate() {
        let mark = if i == app.selected { "▶" } else { " " };
        let state = match app.campaigns.get(&f.id) {
            _ if !f.caps.torture => "–".to_string(),
            None => "○".to_string(),
            Some(c) => match &c.end {
                None => "…".to_string(),
                Some(end) => symbol(end.outcome).to_string(),
            },
        };
        let style = if i == app.selected {
            app.theme.title()
        } else {
            ratatui::style::Style::new()
        };
        spans.push(Span::styled(format!("{mark}{} {state}  ", f.id), style));
    }
    Line::from(spans)
}

fn not_here(panel: &FixturePanel, theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled(format!("No campaign on {}", panel.id), theme.title()),
        Line::from(
            "Campaigns need a simulated fixture whose profile has a [torture] section \
             (stations/zoo.toml has one per bootloader design). Tab selects another fixture.",
        ),
    ]
}

fn status(app: &App, c: &Campaign, width: usize) -> Line<'static> {
    let now = app.now();
    let elapsed = clock(c.elapsed(now));
    if let Some(end) = &c.end {
        return Line::styled(
            format!(
                "{} {} · {} of {} cut points · {elapsed}",
                symbol(end.outcome),
                end.outcome,
                c.done(),
                c.total()
            ),
            app.theme.banner(end.outcome),
        );
    }
    if c.points.is_empty() {
        let doing = match &c.progress {
            Some(p) => format!(
                "… Calibrating: one clean update, {} {:.0}%",
                reason::phase_title(&p.phase),
                p.ratio() * 100.0
            ),
            None => "… Preparing the unit and calibrating one clean update".to_string(),
        };
        return Line::from(format!("{doing} · {elapsed}"));
    }
    let (done, total) = (c.done(), c.total());
    let ratio = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    let eta = c.eta(now).map_or("–".to_string(), clock);
    let text = format!(
        " {:>3}% · {done}/{total} cut points · ETA {eta} · {elapsed}",
        (ratio * 100.0).floor()
    );
    let bar = width.saturating_sub(text.chars().count() + 2).clamp(4, 30);
    let filled = ((ratio * bar as f64).round() as usize).min(bar);
    Line::from(vec![
        Span::styled("▶ ", app.theme.title()),
        Span::styled("█".repeat(filled), app.theme.progress()),
        Span::styled("░".repeat(bar - filled), app.theme.dim()),
        Span::raw(text),
    ])
}

fn reproducer(c: &Campaign, theme: &Theme) -> Option<Line<'static>> {
    let (point, cell) = c.reproducer()?;
    let recovered = if cell.recovered {
        "recovered by a new update"
    } else {
        "not recovered by a new update"
    };
    Some(Line::from(vec![
        Span::styled(
            "✗ Reproducer: ",
            theme.outcome(crate::record::Outcome::Fail),
        ),
        Span::styled(
            format!("{} at operation {}", point.mode, point.index),
            theme.title(),
        ),
        Span::raw(format!(
            " ({}) → {}, {recovered}",
            cell.operation,
            outcome_key(cell.outcome).2
        )),
    ]))
}

/// Under the verdict: why it did not pass (a FAIL's reproducer follows the map), or that
/// every point comes back.
fn ending_text(c: &Campaign) -> Option<Line<'static>> {
    let end = c.end.as_ref()?;
    let text = match (end.outcome, &end.text, end.needs_boot0) {
        (crate::record::Outcome::Fail, ..) => return None,
        (_, Some(t), _) => t.clone(),
        (_, None, true) => {
            "never bricks, but some points come back only with the BOOT0 strap".into()
        }
        (_, None, false) => "every cut point comes back".into(),
    };
    Some(Line::from(text))
}

fn record(c: &Campaign, theme: &Theme) -> Option<Line<'static>> {
    let record = c.end.as_ref()?.record.as_ref()?;
    Some(Line::styled(format!("record {record}"), theme.dim()))
}
