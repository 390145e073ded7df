//! The live cut-point map: one row per cut mode, one cell per operation index, each cell the
//! outcome's letter (the same letters as `station report torture`) in its colour. A point
//! that bricks is in reverse video. When the screen is narrower than the plan, a cell stands
//! for several operations and shows the worst of them.

use ratatui::text::{Line, Span};

use crate::chip::BootOutcome;
use crate::station::torture::report::outcome_key;
use crate::tui::theme::Theme;
use crate::tui::torture::Campaign;

/// "power-inside" and a space.
const LABEL_WIDTH: usize = 13;

/// Operations per cell for `columns` operations in `width` columns of screen.
pub fn per_cell(columns: u64, width: usize) -> u64 {
    let cells = width.saturating_sub(LABEL_WIDTH).max(1) as u64;
    columns.div_ceil(cells).max(1)
}

/// The ruler and one row per mode.
pub fn rows(c: &Campaign, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let modes = c.modes();
    let columns = modes.iter().map(|m| c.columns(*m)).max().unwrap_or(0);
    let k = per_cell(columns, width);
    let cells = columns.div_ceil(k) as usize;
    let mut lines = vec![ruler(cells, k, theme)];
    for mode in modes {
        let mut spans = vec![Span::styled(
            format!("{:<LABEL_WIDTH$}", mode.name()),
            theme.dim(),
        )];
        for j in 0..c.columns(mode).div_ceil(k) {
            let (worst, planned, pending) = c.bucket(mode, j * k..(j + 1) * k);
            spans.push(match (worst, planned, pending) {
                (Some(cell), ..) => {
                    let style = if cell.bricks {
                        theme.bricks(cell.outcome)
                    } else {
                        theme.boot(cell.outcome)
                    };
                    Span::styled(outcome_key(cell.outcome).1, style)
                }
                (None, true, _) => Span::styled("·", theme.dim()),
                (None, false, _) => Span::raw(" "),
            });
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Operation indices every ten cells.
fn ruler(cells: usize, k: u64, theme: &Theme) -> Line<'static> {
    let mut text = format!("{:<LABEL_WIDTH$}", "operation");
    let mut j = 0;
    while j < cells {
        let mark = (j as u64 * k).to_string();
        text.push_str(&format!("{mark:<10}"));
        j += 10;
    }
    let keep = LABEL_WIDTH + cells;
    Line::styled(text.chars().take(keep).collect::<String>(), theme.dim())
}

/// Each outcome seen with its letter and count, the points still to run, and what a cell
/// and reverse video mean.
pub fn legend(c: &Campaign, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (outcome, n) in c.counts() {
        let (_, letter, words) = outcome_key(outcome);
        spans.push(Span::styled(letter, theme.boot(outcome)));
        spans.push(Span::raw(format!(" {words} {n}  ")));
    }
    let left = c.total().saturating_sub(c.done());
    if left > 0 {
        spans.push(Span::styled("·", theme.dim()));
        spans.push(Span::raw(format!(" to run {left}  ")));
    }
    let bricking = c.bricking();
    if bricking > 0 {
        spans.push(Span::styled(
            format!("beyond a field update (reverse video) {bricking}  "),
            theme.bricks(BootOutcome::Bricked),
        ));
    }
    let columns = c.modes().iter().map(|m| c.columns(*m)).max().unwrap_or(0);
    let k = per_cell(columns, width);
    if k > 1 {
        spans.push(Span::styled(
            format!("one cell = {k} operations, the worst shown"),
            theme.dim(),
        ));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_wider_than_the_screen_folds_operations_into_cells() {
        assert_eq!(per_cell(60, 80), 1);
        assert_eq!(per_cell(67, 80), 1);
        assert_eq!(per_cell(68, 80), 2);
        assert_eq!(per_cell(200, 80), 3);
        assert_eq!(per_cell(0, 80), 1);
    }
}
