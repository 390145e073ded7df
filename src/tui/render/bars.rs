//! The thin parts around the views: view tabs, scan field with counters, log and key hints.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::app::{App, View};
use crate::tui::log::LogKind;

pub fn tabs(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (view, key, name) in [
        (View::Line, "F2", "Line"),
        (View::Torture, "F3", "Torture"),
        (View::Rma, "F4", "RMA"),
    ] {
        // Brackets mark the current view without colour; reverse video repeats it.
        if view == app.view {
            spans.push(Span::styled(format!("[{key} {name}]"), app.theme.key()));
        } else {
            spans.push(Span::raw(format!(" {key} {name} ")));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let operator = match app.operator.as_str() {
        "" => "not signed in",
        name => name,
    };
    let right = format!("{} · operator {operator} ", app.station);
    frame.render_widget(Paragraph::new(Line::from(right).right_aligned()), area);
}

fn counters_line(app: &App) -> Line<'static> {
    let c = &app.counters;
    let percent = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}%", v * 100.0));
    let per_hour = c
        .units_per_hour(app.now())
        .map_or("–".to_string(), |v| format!("{v:.0}"));
    let mut pairs = vec![
        ("Tested", c.tested().to_string()),
        ("Passed", c.passed.to_string()),
        ("Failed", c.failed.to_string()),
        ("First-pass yield", percent(c.first_pass_yield())),
        ("Units/hour", per_hour),
    ];
    if c.not_judged > 0 {
        pairs.push(("Not judged", c.not_judged.to_string()));
    }
    let mut spans = vec![Span::raw(" ")];
    for (name, value) in pairs {
        spans.push(Span::raw(format!("{name} ")));
        spans.push(Span::styled(value, app.theme.title()));
        spans.push(Span::raw("  "));
    }
    Line::from(spans)
}

pub fn scan(app: &App, frame: &mut Frame, area: Rect) {
    let target = app
        .selected_fixture()
        .map_or_else(|| "no fixture".to_string(), |f| f.id.clone());
    let block = Block::bordered()
        .title(Line::styled(
            format!(" Scan → {target} "),
            app.theme.title(),
        ))
        .title_bottom(counters_line(app));
    let inner = block.inner(area);
    let prompt = format!("› {}", app.scan);
    let mut spans = vec![Span::styled(prompt.clone(), app.theme.title())];
    match &app.notice {
        Some(notice) => spans.push(Span::styled(format!("   ! {notice}"), app.theme.notice())),
        None if app.scan.is_empty() => spans.push(Span::styled(
            "scan a label, then Enter · F6 starts without a scan",
            app.theme.dim(),
        )),
        None => {}
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).block(block), area);
    if !app.help && app.modal.is_none() && inner.height > 0 {
        let x = inner.x + (prompt.chars().count() as u16).min(inner.width.saturating_sub(1));
        frame.set_cursor_position(Position::new(x, inner.y));
    }
}

/// The notice, for views without a scan field to carry it.
pub fn notice(app: &App) -> Option<Line<'static>> {
    app.notice
        .as_ref()
        .map(|n| Line::styled(format!("! {n}"), app.theme.notice()))
}

pub fn log(app: &App, frame: &mut Frame, area: Rect) {
    let back = app.log.scrolled_back();
    let title = if back > 0 {
        format!(" Log · {back} lines back (End follows) ")
    } else {
        " Log ".to_string()
    };
    let block = Block::bordered().title(Line::styled(title, app.theme.title()));
    let height = block.inner(area).height as usize;
    let lines: Vec<Line> = app
        .log
        .window(height)
        .map(|line| {
            let style = match line.kind {
                LogKind::Info => app.theme.dim(),
                LogKind::Outcome(outcome) => app.theme.outcome(outcome),
            };
            Line::from(vec![
                Span::styled(line.kind.symbol(), style),
                Span::raw(" "),
                Span::raw(line.text.clone()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A key, what it does, and whether it may go when the bar is too narrow.
type Hint = (&'static str, &'static str, bool);

/// The keys of what is on screen now.
fn keys(app: &App) -> Vec<Hint> {
    if app.stopping {
        return vec![("F10/Ctrl-C", "quit now", false)];
    }
    if let Some(modal) = &app.modal {
        let enter = match modal.field() {
            Some("Technician") => "next",
            Some(_) => "done",
            None => "confirm",
        };
        let mut keys = vec![("Enter", enter, false)];
        if modal.can_cancel() {
            keys.push(("Esc", "cancel", false));
        }
        keys.push(("F10", "quit", false));
        return keys;
    }
    if app.help {
        let close = match app.view.has_scan_field() {
            true => ("F1/Esc", "close help", false),
            false => ("F1/?/Esc", "close help", false),
        };
        return vec![
            ("PgUp/PgDn", "scroll help", false),
            close,
            ("F10", "quit", false),
        ];
    }
    let golden = app.golden.uid.is_some() || app.golden.waiting.is_some();
    match app.view {
        View::Line if app.golden.waiting.is_some() => vec![
            ("F9", "golden check", false),
            ("Tab", "select", false),
            ("F1", "help", false),
            ("PgUp/PgDn", "log", true),
            ("F10", "quit", false),
        ],
        View::Line => {
            let mut keys = vec![
                ("Enter", "start scanned", false),
                ("F6", "start, no scan", false),
                ("F5", "start all", false),
                ("Tab", "select", true),
                ("F1", "help", false),
                ("PgUp/PgDn", "log", true),
                ("F10", "quit", false),
            ];
            if golden {
                keys.insert(3, ("F9", "golden check", true));
            }
            keys
        }
        View::Torture => vec![
            ("F5", "start campaign", false),
            ("Tab", "select", true),
            ("F1/?", "help", false),
            ("PgUp/PgDn", "log", true),
            ("F10", "quit", false),
        ],
        View::Rma => vec![
            ("F5", "inspect", false),
            ("F7", "recover", false),
            ("F6", "retest", false),
            ("F9", "clear rework", true),
            ("F8", "via DFU", true),
            ("Tab", "select", true),
            ("F1/?", "help", false),
            ("F10", "quit", false),
        ],
    }
}

pub fn hints(app: &App, frame: &mut Frame, area: Rect) {
    let mut keys = keys(app);
    let width = |keys: &[Hint], gap: usize| -> usize {
        1 + keys
            .iter()
            .map(|(k, w, _)| k.chars().count() + 1 + w.chars().count() + gap)
            .sum::<usize>()
    };
    let room = area.width as usize;
    let mut gap = 2;
    // Narrow: single spaces first, then the keys that may go, last first.
    while width(&keys, gap) > room {
        if gap == 2 {
            gap = 1;
        } else if let Some(i) = keys.iter().rposition(|(.., optional)| *optional) {
            keys.remove(i);
        } else {
            break;
        }
    }
    let mut spans = vec![Span::raw(" ")];
    for (key, what, _) in keys {
        spans.push(Span::styled(key, app.theme.key()));
        spans.push(Span::raw(format!(" {what}{}", " ".repeat(gap))));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
