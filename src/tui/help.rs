//! The help's text and its keys. It scrolls (PgUp/PgDn, arrows, Home/End) when the screen is
//! shorter than the text: at 80x24 every line is reachable. Lines fit 78 columns, the inside
//! of the help at 80, so a line is a row and the scroll range is exact.

use crossterm::event::KeyCode;

use super::app::{Action, App, View};

const LINE: &[&str] = &[
    "Line view: scanning",
    "  Scan the unit's label (or type it), then Enter: the selected fixture starts.",
    "  Every printable key goes to the scan field, so a label may hold any letter.",
    "  Backspace deletes, Esc clears. A scan closes this help.",
    "  Enter     start the selected fixture with the scanned label",
    "  F6        start the selected fixture without a scan (the serial is read",
    "            from the chip)",
    "  F5        start every free fixture without a scan",
    "  F9        golden-unit check of the unit on the selected fixture: with a",
    "            [golden] unit, production starts once it passed this shift",
    "  A profile that locks units for good asks for the unit's label first: the",
    "  label you scanned (any case), else the last 8 hex digits of its UID.",
    "  A panel counts its fixture's cycles (units it has had) and shows a unit's",
    "  attempt from its second one on.",
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
    "  F7 recover: type the unit's label (the one scanned for it, else the last 8",
    "     hex digits of its UID) to confirm; it may erase the whole flash. A wrong",
    "     entry changes nothing.",
    "  F6 retest: the production steps again on the unit in the fixture.",
    "  F9 clear a unit routed to rework (it FAILed [rework] after_failures times)",
    "     for production: type your name, then what was done; the clearance",
    "     record joins its history.",
    "  Letters here are never commands.",
];

const COMMON: &[&str] = &[
    "Every view",
    "  F2 Line  F3 Torture  F4 RMA       switch views",
    "  Tab  →  ↓   Shift-Tab  ←  ↑       select the next or previous fixture",
    "  PgUp  PgDn  End                   scroll the log back, forward; End follows",
    "  F1 (or ? without a scan field)    this help; PgUp PgDn ↑ ↓ scroll it",
    "  F10  Ctrl-C   quit: running work stops after its current step and closes as",
    "                ABORTED; press again to quit at once",
    "",
    "Verdicts",
    "  ✓ PASS    the unit is good     ✗ FAIL   the unit is bad: read why under it",
    "  ! ERROR   ! TIMEOUT   the station or fixture broke: call an engineer",
    "  ■ ABORTED stopped by the operator: retest the unit",
    "  Tested counts PASS and FAIL; first-pass yield counts each unit's first test.",
];

/// The help of `view`: its own keys first, then what every view shares.
pub fn lines(view: View) -> Vec<&'static str> {
    let own = match view {
        View::Line => LINE,
        View::Torture => TORTURE,
        View::Rma => RMA,
    };
    own.iter().chain(&[""]).chain(COMMON).copied().collect()
}

/// Rows of help a screen of `rows` shows: the tabs, hints and the help's border take four.
pub fn visible_rows(rows: u16) -> u16 {
    rows.saturating_sub(4)
}

const PAGE: u16 = 10;

impl App {
    /// Opens from its top, or closes.
    pub(super) fn toggle_help(&mut self) {
        self.help = !self.help;
        self.help_scroll = 0;
    }

    /// The furthest the help scrolls on this screen (unknown screen: to its last line).
    fn help_scroll_limit(&self) -> u16 {
        let total = lines(self.view).len() as u16;
        match self.screen {
            Some((_, rows)) => total.saturating_sub(visible_rows(rows)),
            None => total.saturating_sub(1),
        }
    }

    fn scroll_help(&mut self, by: i32) {
        let next = (i32::from(self.help_scroll) + by).max(0) as u16;
        self.help_scroll = next.min(self.help_scroll_limit());
    }

    /// Over the help: paging keys scroll it, Esc closes it; in the Line view a scan closes it
    /// and is kept.
    pub(super) fn help_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Esc => self.help = false,
            KeyCode::PageDown => self.scroll_help(i32::from(PAGE)),
            KeyCode::PageUp => self.scroll_help(-i32::from(PAGE)),
            KeyCode::Down => self.scroll_help(1),
            KeyCode::Up => self.scroll_help(-1),
            KeyCode::Home => self.help_scroll = 0,
            KeyCode::End => self.help_scroll = self.help_scroll_limit(),
            KeyCode::Char('?') if !self.view.has_scan_field() => self.help = false,
            KeyCode::Char(_) if self.view.has_scan_field() => {
                // A scan must never be lost behind the help.
                self.help = false;
                return self.line_key(code);
            }
            KeyCode::Char(_) => self.not_a_scan_field(),
            _ => {}
        }
        Action::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_help_line_fits_the_help_at_80_columns() {
        for view in [View::Line, View::Torture, View::Rma] {
            for line in lines(view) {
                assert!(line.chars().count() <= 78, "{line:?}");
            }
        }
    }
}
