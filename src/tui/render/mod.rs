//! Drawing: a pure function of the [`App`] onto a ratatui frame, so it renders the same on a
//! terminal and on a `TestBackend`.
//!
//! ```text
//!  counters                                        1 row
//!  scan field (station, operator)                  3 rows
//!  fixture panels, a grid                          the rest
//!  log                                             5 rows and up
//!  key hints                                       1 row
//! ```

mod bars;
mod big_text;
mod help;
mod panel;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::app::{App, View};

/// Panels narrower than this are hard to read; the grid uses fewer columns instead.
const MIN_PANEL_WIDTH: u16 = 36;

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let log_height = (area.height.saturating_sub(10) / 4).clamp(5, 14);
    let [counters, scan, grid, log, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(log_height),
        Constraint::Length(1),
    ])
    .areas(area);
    bars::counters(app, frame, counters);
    bars::scan(app, frame, scan);
    fixture_grid(app, frame, grid);
    bars::log(app, frame, log);
    bars::hints(app, frame, hints);
    if app.view == View::Help {
        help::render(app, frame, scan.union(log));
    }
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
