//! Help (F1): how scanning works, every key, and how to read a verdict.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::tui::app::App;

const TEXT: &[&str] = &[
    "Scanning",
    "  Scan the unit's label (or type it), then press Enter: the selected fixture",
    "  starts. Every printable key goes to the scan field, so a label may hold any",
    "  letter. Backspace deletes, Esc clears. A scan closes this help.",
    "",
    "Keys",
    "  Enter             start the selected fixture with the scanned label",
    "  Tab  →  ↓         select the next fixture (Shift-Tab  ←  ↑: the previous)",
    "  F5                start every free fixture without a scan",
    "  PgUp  PgDn  End   scroll the log back, forward; End follows it again",
    "  F1  Esc           close this help",
    "  F10  Ctrl-C       quit: running units stop after their current step and",
    "                    close as ABORTED; press again to quit at once",
    "",
    "Verdicts",
    "  ✓ PASS    the unit is good     ✗ FAIL   the unit is bad: read why under it",
    "  ! ERROR   ! TIMEOUT   the station or fixture broke: call an engineer",
    "  ■ ABORTED stopped by the operator: retest the unit",
    "  Tested counts PASS and FAIL; first-pass yield counts each unit's first test.",
];

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::styled(" Help ", app.theme.title()))
        .title(Line::from(" F1 or Esc closes ").right_aligned());
    let lines: Vec<Line> = TEXT
        .iter()
        .map(|text| match text.starts_with(' ') || text.is_empty() {
            true => Line::from(*text),
            false => Line::styled(*text, app.theme.title()),
        })
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
