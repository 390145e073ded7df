//! A modal, drawn over the view: what will happen, the answers given so far, the field to
//! type into, and why the last Enter was not taken.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::wrapped_rows;
use crate::tui::app::App;
use crate::tui::modal::{Confirm, Modal};

const WIDTH: u16 = 72;

pub fn render(app: &App, modal: &Modal, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let width = WIDTH.min(area.width);
    let inner_width = width.saturating_sub(2).max(1);
    let mut lines: Vec<Line> = modal.prompt().into_iter().map(Line::from).collect();
    let mut above: u16 = modal
        .prompt()
        .iter()
        .map(|l| wrapped_rows(l, inner_width))
        .sum();
    lines.push(Line::default());
    above += 1;
    if let (Confirm::ReworkClear { .. }, Some(name)) = (&modal.confirm, modal.answers.first()) {
        lines.push(Line::from(format!("Technician › {name}")));
        above += 1;
    }
    let name = modal.field().map(|f| format!("{f} ")).unwrap_or_default();
    let field = format!("{name}› {}", modal.typed);
    lines.push(Line::styled(field.clone(), theme.title()));
    let mut below = 0;
    if let Some(error) = &modal.error {
        lines.push(Line::styled(format!("! {error}"), theme.notice()));
        below += 1;
    }
    lines.push(Line::default());
    let cancel = if modal.can_cancel() {
        " cancel: nothing changes"
    } else {
        " clears · F10 quits"
    };
    lines.push(Line::from(vec![
        Span::styled("Enter", theme.key()),
        Span::raw(" confirm  "),
        Span::styled("Esc", theme.key()),
        Span::raw(cancel),
    ]));
    let height = (above + below + 5).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.notice())
        .title(Line::styled(format!(" {} ", modal.title()), theme.title()));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
    let row = inner.y + above;
    if row < inner.y + inner.height {
        let x = inner.x + (field.chars().count() as u16).min(inner.width.saturating_sub(1));
        frame.set_cursor_position(Position::new(x, row));
    }
}
