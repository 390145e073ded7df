//! Keys. A barcode scanner is a keyboard that types a label, then Enter, and a label may hold
//! any letter: so in the Line view every printable key goes to the scan field, and commands
//! use only F-keys, Ctrl, Esc, Enter, Tab, arrows and paging keys. Views without a scan field
//! take `?` for help and ignore other letters. A confirmation takes every key but quit.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, View};

/// Longer input is not a label; the field stops growing.
pub const MAX_LABEL_CHARS: usize = 64;

const LOG_PAGE: usize = 5;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') if ctrl => return self.quit(),
            KeyCode::F(10) => return self.quit(),
            _ => {}
        }
        if self.modal.is_some() {
            return self.modal_key(key.code, ctrl || key.modifiers.contains(KeyModifiers::ALT));
        }
        match key.code {
            // Any other Ctrl or Alt chord is not a label character.
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => Action::None,
            KeyCode::F(1) => {
                self.toggle_help();
                Action::None
            }
            KeyCode::F(2) => self.show(View::Line),
            KeyCode::F(3) => self.show(View::Torture),
            KeyCode::F(4) => self.show(View::Rma),
            code if self.help => self.help_key(code),
            KeyCode::Tab | KeyCode::Right | KeyCode::Down => self.select_by(1),
            KeyCode::BackTab | KeyCode::Left | KeyCode::Up => self.select_by(-1),
            KeyCode::PageUp => {
                self.log.scroll_back(LOG_PAGE);
                Action::None
            }
            KeyCode::PageDown => {
                self.log.scroll_forward(LOG_PAGE);
                Action::None
            }
            KeyCode::End => {
                self.log.follow();
                Action::None
            }
            code => match self.view {
                View::Line => self.line_key(code),
                View::Torture => self.torture_key(code),
                View::Rma => self.rma_key(code),
            },
        }
    }

    fn show(&mut self, view: View) -> Action {
        self.view = view;
        self.help = false;
        self.notice = None;
        Action::None
    }

    /// Letters in a view without a scan field: never a command, only a hint.
    pub(super) fn not_a_scan_field(&mut self) {
        self.notice = Some("No scan field here: F2 goes to the Line view to scan".into());
    }

    pub(super) fn line_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char(c) => self.type_char(c),
            KeyCode::Esc => {
                self.scan.clear();
                self.notice = None;
            }
            KeyCode::Backspace => {
                self.scan.pop();
            }
            KeyCode::Enter => return self.start_scanned(),
            KeyCode::F(5) => return self.start_all_free(),
            KeyCode::F(6) => return self.start_without_scan(),
            KeyCode::F(9) => return self.start_golden(),
            _ => {}
        }
        Action::None
    }

    fn type_char(&mut self, c: char) {
        if c.is_control() {
            return;
        }
        if self.scan.chars().count() < MAX_LABEL_CHARS {
            self.scan.push(c);
            self.notice = None;
        } else {
            self.notice = Some(format!(
                "A label has at most {MAX_LABEL_CHARS} characters (Esc clears)"
            ));
        }
    }

    /// The terminal's size, for what depends on it (how far the help scrolls).
    pub fn resize(&mut self, columns: u16, rows: u16) {
        self.screen = Some((columns, rows));
    }

    fn select_by(&mut self, step: isize) -> Action {
        let n = self.fixtures.len();
        if n > 0 {
            let next = (self.selected as isize + step).rem_euclid(n as isize);
            self.selected = next as usize;
        }
        Action::None
    }

    fn quit(&mut self) -> Action {
        if self.stopping || !self.working() {
            self.stopping = true;
            return Action::Exit;
        }
        self.begin_stopping();
        Action::Abort
    }
}
