//! A typed confirmation, drawn over the view: what will happen, and the field to type the
//! unit's label into.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::modal::Modal;

const WIDTH: u16 = 72;

pub fn render(app: &App, modal: &Modal, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let width = WIDTH.min(area.width);
    let inner_width = width.saturating_sub(2).max(1) as usize;
    let mut lines: Vec<Line> = modal.prompt().into_iter().map(Line::from).collect();
    let prompt_rows: usize = modal
        .prompt()
        .iter()
        .map(|l| l.chars().count().div_ceil(inner_width).max(1))
        .sum();
    lines.push(Line::default());
    let field = format!("› {}", modal.typed);
    lines.push(Line::styled(field.clone(), theme.title()));
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled("Enter", theme.key()),
        Span::raw(" confirm  "),
        Span::styled("Esc", theme.key()),
        Span::raw(" cancel: nothing changes"),
    ]));
    let height = (prompt_rows as u16 + 6).min(area.height);
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
    let row = inner.y + prompt_rows as u16 + 1;
    if row < inner.y + inner.height {
        let x = inner.x + (field.chars().count() as u16).min(inner.width.saturating_sub(1));
        frame.set_cursor_position(Position::new(x, row));
    }
}
