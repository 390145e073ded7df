//! The thin parts around the panels: counters, scan field, log and key hints.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::app::{App, View};
use crate::tui::log::LogKind;

pub fn counters(app: &App, frame: &mut Frame, area: Rect) {
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
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
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
        .title(
            Line::from(format!(" {} · operator {} ", app.station, app.operator)).right_aligned(),
        );
    let inner = block.inner(area);
    let prompt = format!("› {}", app.scan);
    let mut spans = vec![Span::styled(prompt.clone(), app.theme.title())];
    match &app.notice {
        Some(notice) => spans.push(Span::styled(format!("   ! {notice}"), app.theme.notice())),
        None if app.scan.is_empty() => spans.push(Span::styled(
            "scan a label, then Enter · F5 starts every free fixture",
            app.theme.dim(),
        )),
        None => {}
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).block(block), area);
    if app.view == View::Line && inner.height > 0 {
        let x = inner.x + (prompt.chars().count() as u16).min(inner.width.saturating_sub(1));
        frame.set_cursor_position(Position::new(x, inner.y));
    }
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

pub fn hints(app: &App, frame: &mut Frame, area: Rect) {
    let keys: &[(&str, &str)] = match (app.view, app.stopping) {
        (_, true) => &[("F10/Ctrl-C", "quit now")],
        (View::Help, false) => &[("F1/Esc", "close help"), ("F10/Ctrl-C", "quit")],
        (View::Line, false) => &[
            ("Enter", "start"),
            ("Tab/←→", "select"),
            ("F5", "start all"),
            ("F1", "help"),
            ("PgUp/PgDn", "log"),
            ("F10/Ctrl-C", "quit"),
        ],
    };
    let gap = if area.width >= 90 { "  " } else { " " };
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys {
        spans.push(Span::styled(*key, app.theme.key()));
        spans.push(Span::raw(format!(" {what}{gap}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
