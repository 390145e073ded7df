//! Keys. A barcode scanner is a keyboard that types a label, then Enter, and a label may hold
//! any letter: so every printable key goes to the scan field, and commands use only F-keys,
//! Ctrl, Esc, Enter, Tab, arrows and paging keys.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, StartRequest, View};

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
            KeyCode::Char('c') | KeyCode::Char('C') if ctrl => self.quit(),
            KeyCode::F(10) => self.quit(),
            // Any other Ctrl or Alt chord is not a label character.
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => Action::None,
            KeyCode::Char(c) => {
                self.type_char(c);
                Action::None
            }
            KeyCode::F(1) => {
                self.toggle_help();
                Action::None
            }
            KeyCode::Esc => {
                self.escape();
                Action::None
            }
            KeyCode::Backspace => {
                self.scan.pop();
                Action::None
            }
            KeyCode::Enter => self.start_selected(),
            KeyCode::F(5) => self.start_all_free(),
            KeyCode::Tab | KeyCode::Right | KeyCode::Down => {
                self.select_by(1);
                Action::None
            }
            KeyCode::BackTab | KeyCode::Left | KeyCode::Up => {
                self.select_by(-1);
                Action::None
            }
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
            _ => Action::None,
        }
    }

    fn type_char(&mut self, c: char) {
        if c.is_control() {
            return;
        }
        // A scan must never be lost behind the help.
        self.view = View::Line;
        if self.scan.chars().count() < MAX_LABEL_CHARS {
            self.scan.push(c);
            self.notice = None;
        } else {
            self.notice = Some(format!(
                "A label has at most {MAX_LABEL_CHARS} characters (Esc clears)"
            ));
        }
    }

    fn toggle_help(&mut self) {
        self.view = match self.view {
            View::Line => View::Help,
            View::Help => View::Line,
        };
    }

    fn escape(&mut self) {
        match self.view {
            View::Help => self.view = View::Line,
            View::Line => {
                self.scan.clear();
                self.notice = None;
            }
        }
    }

    fn select_by(&mut self, step: isize) {
        let n = self.fixtures.len();
        if n > 0 {
            let next = (self.selected as isize + step).rem_euclid(n as isize);
            self.selected = next as usize;
        }
    }

    fn quit(&mut self) -> Action {
        if self.stopping || self.runs_in_flight() == 0 {
            self.stopping = true;
            return Action::Exit;
        }
        self.begin_stopping();
        Action::Abort
    }

    fn refuse_start(&self) -> Option<String> {
        self.stopping
            .then(|| "Stopping: no new units · F10 again quits now".to_string())
    }

    /// Enter: the selected fixture starts with the scanned label (none if the field is empty).
    fn start_selected(&mut self) -> Action {
        if let Some(why) = self.refuse_start() {
            self.notice = Some(why);
            return Action::None;
        }
        let Some((fixture, busy)) = self.selected_fixture().map(|f| (f.id.clone(), f.busy)) else {
            return Action::None;
        };
        if busy {
            // Keep the label: Tab to a free fixture, then Enter.
            self.notice = Some(format!(
                "{fixture} is busy: wait for it, or Tab to a free fixture and press Enter"
            ));
            return Action::None;
        }
        let label = std::mem::take(&mut self.scan);
        let requests = vec![StartRequest {
            fixture,
            label: (!label.trim().is_empty()).then(|| label.trim().to_string()),
        }];
        self.notice = None;
        let run = self.start(requests);
        self.select_next_free();
        Action::Start(run)
    }

    /// F5: every free fixture starts without a scan.
    fn start_all_free(&mut self) -> Action {
        if let Some(why) = self.refuse_start() {
            self.notice = Some(why);
            return Action::None;
        }
        let requests: Vec<StartRequest> = self
            .fixtures
            .iter()
            .filter(|f| !f.busy)
            .map(|f| StartRequest {
                fixture: f.id.clone(),
                label: None,
            })
            .collect();
        if requests.is_empty() {
            self.notice = Some("Every fixture is busy".into());
            return Action::None;
        }
        self.notice = None;
        Action::Start(self.start(requests))
    }

    /// After a start the selection moves on to the next free fixture, ready for the next scan.
    fn select_next_free(&mut self) {
        let n = self.fixtures.len();
        if let Some(next) = (1..n)
            .map(|k| (self.selected + k) % n)
            .find(|&i| !self.fixtures[i].busy)
        {
            self.selected = next;
        }
    }
}
