//! The RMA view: what `station inspect` shows of the unit on the selected fixture (UID, read
//! protection, option bytes, bootloader and slot checks, what would boot), the recovery and
//! retest actions as they run, and the unit's history. Wide screens put the history beside.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::panel::symbol;
use super::{bars, rma_actions, with_log};
use crate::tui::app::App;
use crate::tui::rma::{Check, RmaUnit, UnitHistory, UnitView};
use crate::tui::theme::Theme;

/// Width of a field name column ("Would boot ").
const NAME_WIDTH: usize = 11;

/// Inner width from which the history goes beside the unit instead of under it.
const SIDE_BY_SIDE: u16 = 120;

pub fn render(app: &App, frame: &mut Frame, body: Rect) {
    let area = with_log(app, frame, body);
    let Some(panel) = app.selected_fixture() else {
        return;
    };
    let block = Block::bordered()
        .title(Line::styled(
            format!(" RMA · {} ", panel.id),
            app.theme.title(),
        ))
        .title(Line::from(format!(" {} ", panel.profile)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let empty = RmaUnit::default();
    let unit = app.rma.get(&panel.id).unwrap_or(&empty);
    let mut lines = Vec::new();
    if app.fixtures.len() > 1 {
        lines.push(strip(app));
    }
    lines.extend(bars::notice(app));
    lines.extend(rma_actions::lines(app, panel, unit));
    if let Some(view) = &unit.inspection {
        // A unit tested or recovered since may hold something else now.
        let stale = match (unit.inspected_at, panel.started_at) {
            (Some(inspected), Some(started)) => started > inspected,
            _ => false,
        };
        lines.extend(unit_lines(view, stale, &app.theme));
    }
    let history = unit
        .history
        .as_ref()
        .map(|h| history_lines(h, &app.theme))
        .unwrap_or_default();
    let (info, side) = if inner.width >= SIDE_BY_SIDE {
        let [info, side] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .spacing(2)
                .areas(inner);
        (info, side)
    } else {
        let rows = (history.len() as u16).min(inner.height / 3);
        let [info, side] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(rows)]).areas(inner);
        (info, side)
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), info);
    frame.render_widget(Paragraph::new(history).wrap(Wrap { trim: false }), side);
}

fn strip(app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled("Fixtures ", app.theme.dim())];
    for (i, f) in app.fixtures.iter().enumerate() {
        let (mark, style) = if i == app.selected {
            ("▶", app.theme.title())
        } else {
            (" ", ratatui::style::Style::new())
        };
        spans.push(Span::styled(format!("{mark}{}  ", f.id), style));
    }
    Line::from(spans)
}

fn field(name: &str, value: impl Into<String>, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<NAME_WIDTH$}"), theme.dim()),
        Span::raw(value.into()),
    ])
}

fn check(name: &str, c: &Check, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<NAME_WIDTH$}"), theme.dim()),
        Span::styled(format!("{} ", c.state.symbol()), theme.check(c.state)),
        Span::raw(c.text.clone()),
    ])
}

fn rdp_words(level: Option<u8>) -> String {
    match level {
        Some(0) => "level 0: open".into(),
        Some(1) => "level 1: flash read-protected against debuggers".into(),
        Some(2) => "level 2: locked for good".into(),
        Some(l) => format!("level {l}"),
        None => "unknown".into(),
    }
}

fn unit_lines(v: &UnitView, stale: bool, theme: &Theme) -> Vec<Line<'static>> {
    let uid = v
        .uid
        .clone()
        .unwrap_or_else(|| "not readable this way".into());
    let label = v
        .label
        .as_deref()
        .map(|l| format!(" · label {l}"))
        .unwrap_or_default();
    let when = if stale {
        ", before the last production test: F5 inspects again"
    } else {
        ""
    };
    let mut lines = vec![
        Line::default(),
        field(
            "Inspected",
            format!("over {}{when}", v.via.to_uppercase()),
            theme,
        ),
        field("UID", format!("{uid}{label}"), theme),
        field("RDP", rdp_words(v.rdp_level), theme),
        field("USB now", v.usb_now.clone(), theme),
        check("Would boot", &v.would_boot, theme),
        check("Bootloader", &v.bootloader, theme),
    ];
    for (name, c) in &v.slots {
        lines.push(check(&format!("Slot {name}"), c, theme));
    }
    if !v.option_bytes.is_empty() {
        let text: Vec<String> = v
            .option_bytes
            .iter()
            .map(|(k, val)| format!("{k} {val}"))
            .collect();
        lines.push(field("Options", text.join(" · "), theme));
    }
    if let Some(chip) = &v.chip {
        lines.push(field("Chip", chip.clone(), theme));
    }
    for note in &v.notes {
        lines.push(field("Note", note.clone(), theme));
    }
    lines
}

fn history_lines(h: &UnitHistory, theme: &Theme) -> Vec<Line<'static>> {
    let problems = match h.problems {
        0 => String::new(),
        n => format!(", {n} unreadable"),
    };
    let mut lines = vec![Line::styled(
        format!(
            "History: {} record(s), newest first{problems}",
            h.rows.len()
        ),
        theme.title(),
    )];
    for row in &h.rows {
        let why = row
            .failure
            .as_deref()
            .map(|f| format!("  {f}"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", symbol(row.outcome)),
                theme.outcome(row.outcome),
            ),
            Span::raw(format!(
                "{} {:<10} {:<7} {}{why}",
                row.started,
                row.kind,
                row.outcome.to_string(),
                row.fixture
            )),
        ]));
    }
    lines
}
