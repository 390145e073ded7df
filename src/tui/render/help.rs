//! Help (F1, or `?` in views without a scan field): the current view's keys first, then what
//! every view shares, and how to read a verdict. Scrolled by PgUp/PgDn when it does not fit;
//! its bottom border says which lines show.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::help;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let close = if app.view.has_scan_field() {
        " F1 or Esc closes "
    } else {
        " F1, ? or Esc closes "
    };
    let text = help::lines(app.view);
    let total = text.len() as u16;
    let visible = area.height.saturating_sub(2);
    let scroll = app.help_scroll.min(total.saturating_sub(visible));
    let mut block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::styled(" Help ", app.theme.title()))
        .title(Line::from(close).right_aligned());
    if visible < total {
        let last = (scroll + visible).min(total);
        let more = match (scroll > 0, last < total) {
            (true, true) => "↑↓ PgUp/PgDn",
            (false, true) => "↓ PgDn for more",
            _ => "↑ PgUp",
        };
        block = block.title_bottom(
            Line::from(format!(" lines {}–{last} of {total} · {more} ", scroll + 1))
                .right_aligned(),
        );
    }
    let lines: Vec<Line> = text
        .into_iter()
        .map(|text| match text.starts_with(' ') || text.is_empty() {
            true => Line::from(text),
            false => Line::styled(text, app.theme.title()),
        })
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}
