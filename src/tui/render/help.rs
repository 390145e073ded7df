//! Help (F1, or `?` in views without a scan field): the current view's keys first, then what
//! every view shares, and how to read a verdict.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::tui::app::{App, View};

const LINE: &[&str] = &[
    "Line view: scanning",
    "  Scan the unit's label (or type it), then Enter: the selected fixture starts.",
    "  Every printable key goes to the scan field, so a label may hold any letter.",
    "  Backspace deletes, Esc clears. A scan closes this help.",
    "  Enter             start the selected fixture with the scanned label",
    "  F6                start the selected fixture without a scan (the serial is",
    "                    read from the chip)",
    "  F5                start every free fixture without a scan",
];

const TORTURE: &[&str] = &[
    "Torture view: interrupted updates",
    "  F5 starts the selected fixture's campaign: one clean update, then the same",
    "  update cut at every operation in every mode of the profile's [torture] plan.",
    "  Map: a row per cut mode, a cell per operation. N new image  O old image",
    "  B waits in bootloader  S needs BOOT0  C corrupt application  X bricked",
    "  · still to run. Reverse video: no field update brings the unit back.",
    "  The first such point is the reproducer. Letters here are never commands.",
];

const RMA: &[&str] = &[
    "RMA view: returned units",
    "  F5 inspect over SWD · F8 inspect through the bootloader over DFU",
    "  F7 recover: type the unit's label (or the last 8 hex digits of its UID) to",
    "     confirm; it may erase the whole flash. A wrong entry changes nothing.",
    "  F6 retest: the production steps again on the unit in the fixture.",
    "  Letters here are never commands.",
];

const COMMON: &[&str] = &[
    "Every view",
    "  F2 Line  F3 Torture  F4 RMA       switch views",
    "  Tab  →  ↓   Shift-Tab  ←  ↑       select the next or previous fixture",
    "  PgUp  PgDn  End                   scroll the log back, forward; End follows",
    "  F10  Ctrl-C   quit: running work stops after its current step and closes as",
    "                ABORTED; press again to quit at once",
    "",
    "Verdicts",
    "  ✓ PASS    the unit is good     ✗ FAIL   the unit is bad: read why under it",
    "  ! ERROR   ! TIMEOUT   the station or fixture broke: call an engineer",
    "  ■ ABORTED stopped by the operator: retest the unit",
    "  Tested counts PASS and FAIL; first-pass yield counts each unit's first test.",
];

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let close = if app.view.has_scan_field() {
        " F1 or Esc closes "
    } else {
        " F1, ? or Esc closes "
    };
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::styled(" Help ", app.theme.title()))
        .title(Line::from(close).right_aligned());
    let view = match app.view {
        View::Line => LINE,
        View::Torture => TORTURE,
        View::Rma => RMA,
    };
    let lines: Vec<Line> = view
        .iter()
        .chain(&[""])
        .chain(COMMON)
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
