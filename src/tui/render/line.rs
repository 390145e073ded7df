//! The Line view: the scan field (with the station counters under it), what production waits
//! for (the golden unit), one panel per fixture in a grid, and the log.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};

use super::{bars, panel, with_log, wrapped_rows};
use crate::tui::app::App;
use crate::tui::gate::GOLDEN_REMEDY;

/// Panels narrower than this are hard to read; the grid uses fewer columns instead.
const MIN_PANEL_WIDTH: u16 = 36;

pub fn render(app: &App, frame: &mut Frame, body: Rect) {
    let top = with_log(app, frame, body);
    let waiting = golden_waiting(app, top.width);
    let rows = waiting.as_ref().map_or(0, |(_, rows)| *rows);
    let [scan, banner, grid] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(rows),
        Constraint::Min(0),
    ])
    .areas(top);
    bars::scan(app, frame, scan);
    if let Some((paragraph, _)) = waiting {
        frame.render_widget(paragraph, banner);
    }
    fixture_grid(app, frame, grid);
}

/// Production refused until the golden unit passed: said plainly, with the remedy, over the
/// panels (not only in the log). With the rows it takes at `width`.
fn golden_waiting(app: &App, width: u16) -> Option<(Paragraph<'static>, u16)> {
    let headline = app.golden.headline()?;
    let inner = width.saturating_sub(2);
    let height = 2 + wrapped_rows(&headline, inner) + wrapped_rows(GOLDEN_REMEDY, inner);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(app.theme.notice())
        .title(Line::styled(
            " ■ PRODUCTION WAITS FOR THE GOLDEN UNIT ",
            app.theme.title(),
        ));
    let lines = vec![
        Line::styled(headline, app.theme.notice()),
        Line::from(GOLDEN_REMEDY),
    ];
    let paragraph = Paragraph::new(lines).block(block).wrap(Wrap { trim: true });
    Some((paragraph, height))
}

fn fixture_grid(app: &App, frame: &mut Frame, area: Rect) {
    let n = app.fixtures.len();
    if n == 0 {
        return;
    }
    let (columns, rows) = grid_shape(n, area.width);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(area);
    let mut panels = app.fixtures.iter().enumerate();
    for row_area in row_areas.iter() {
        let cells = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns])
            .split(*row_area);
        for cell in cells.iter() {
            if let Some((i, fixture)) = panels.next() {
                panel::render(app, fixture, i == app.selected, frame, *cell);
            }
        }
    }
}

/// Columns and rows for `n` panels: about square, no narrower than [`MIN_PANEL_WIDTH`].
fn grid_shape(n: usize, width: u16) -> (usize, usize) {
    let square = (1..=n).find(|c| c * c >= n).unwrap_or(1);
    let fit = usize::from(width / MIN_PANEL_WIDTH).max(1);
    let columns = square.min(fit);
    (columns, n.div_ceil(columns))
}

#[cfg(test)]
mod tests {
    use super::grid_shape;

    #[test]
    fn four_fixtures_make_two_by_two_and_narrow_screens_stack() {
        assert_eq!(grid_shape(4, 80), (2, 2));
        assert_eq!(grid_shape(8, 200), (3, 3));
        assert_eq!(grid_shape(4, 40), (1, 4));
        assert_eq!(grid_shape(1, 80), (1, 1));
    }
}
