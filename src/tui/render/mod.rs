//! Drawing: a pure function of the [`App`] onto a ratatui frame, so it renders the same on a
//! terminal and on a `TestBackend`.
//!
//! ```text
//!  view tabs (F2 F3 F4), station and operator      1 row
//!  the view: Line, Torture or RMA                  the rest
//!  key hints of the view                           1 row
//! ```
//!
//! Help (F1) and typed confirmations draw over the view.

mod bars;
mod big_text;
mod help;
mod line;
mod map;
mod modal;
mod panel;
mod rma;
mod rma_actions;
mod torture;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::app::{App, View};

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let [tabs, body, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    bars::tabs(app, frame, tabs);
    match app.view {
        View::Line => line::render(app, frame, body),
        View::Torture => torture::render(app, frame, body),
        View::Rma => rma::render(app, frame, body),
    }
    bars::hints(app, frame, hints);
    if app.help {
        help::render(app, frame, body);
    }
    if let Some(m) = &app.modal {
        modal::render(app, m, frame, body);
    }
}

/// The log pane's height in a view of `height` rows.
fn log_height(height: u16) -> u16 {
    (height.saturating_sub(8) / 4).clamp(5, 14)
}

/// `body` split into the view's own area and the log below it.
fn with_log(app: &App, frame: &mut Frame, body: Rect) -> Rect {
    let [top, log] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(log_height(body.height)),
    ])
    .areas(body);
    bars::log(app, frame, log);
    top
}

/// Rows `text` takes when wrapped at word boundaries to `width` columns (as `Wrap` does; a
/// word longer than a row is split).
fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let (mut rows, mut used) = (1usize, 0usize);
    for word in text.split(' ').map(|w| w.chars().count()) {
        if used > 0 && used + 1 + word <= width {
            used += 1 + word;
            continue;
        }
        if used > 0 {
            rows += 1;
        }
        // A word longer than a row runs on over the next ones.
        rows += word.saturating_sub(1) / width;
        used = word - word.saturating_sub(1) / width * width;
    }
    rows.min(usize::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use super::wrapped_rows;

    #[test]
    fn words_wrap_as_a_paragraph_wraps_them() {
        assert_eq!(wrapped_rows("", 10), 1);
        assert_eq!(wrapped_rows("abc def", 7), 1);
        assert_eq!(wrapped_rows("abc defg", 7), 2);
        assert_eq!(wrapped_rows("abcdefghijkl", 5), 3);
    }
}
