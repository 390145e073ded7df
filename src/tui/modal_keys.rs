//! Keys while a modal is open: typing goes to its field, Enter answers, Esc cancels. A
//! confirmation starts its action or refuses; an entry (a name, a reason) asks until it has
//! what it needs.

use crossterm::event::KeyCode;

use super::app::{Action, App, Job};
use super::modal::Confirm;
use super::rma::RecoverRun;

impl App {
    /// A modal is open: it takes typing, Enter answers, Esc cancels (the operator's name
    /// cannot be cancelled: Esc clears it).
    pub(super) fn modal_key(&mut self, code: KeyCode, chord: bool) -> Action {
        let Some(modal) = self.modal.as_mut() else {
            return Action::None;
        };
        match code {
            KeyCode::Char(c) if !chord => modal.type_char(c),
            KeyCode::Backspace => {
                modal.typed.pop();
            }
            KeyCode::Esc if !modal.can_cancel() => modal.typed.clear(),
            KeyCode::Esc => {
                self.modal = None;
                self.notice = Some("Cancelled: nothing was changed".into());
            }
            KeyCode::Enter if modal.is_entry() => return self.answer_entry(),
            KeyCode::Enter => return self.answer_modal(),
            _ => {}
        }
        Action::None
    }

    /// An entry's Enter: the next field, the same one again (a name is missing), or done.
    fn answer_entry(&mut self) -> Action {
        let Some(modal) = self.modal.as_mut() else {
            return Action::None;
        };
        let Ok(Some(answers)) = modal.enter() else {
            return Action::None;
        };
        let Some(modal) = self.modal.take() else {
            return Action::None;
        };
        match modal.confirm {
            Confirm::Operator => self.operator_named(answers.concat()),
            Confirm::ReworkClear { .. } => {
                if let Some(why) = self.occupied(&modal.fixture) {
                    self.notice = Some(why);
                    return Action::None;
                }
                self.clear_rework(modal.fixture, answers)
            }
            Confirm::PermanentLock { .. } | Confirm::Recover { .. } => Action::None,
        }
    }

    fn answer_modal(&mut self) -> Action {
        let Some(modal) = self.modal.take() else {
            return Action::None;
        };
        let typed = match modal.check() {
            Ok(typed) => typed,
            Err(why) => {
                let why = format!("Refused: {why}");
                self.log.push(super::log::LogKind::Info, why.clone());
                if matches!(modal.confirm, Confirm::Recover { .. }) {
                    self.rma_unit(&modal.fixture).refused = Some(why.clone());
                }
                self.notice = Some(why);
                return Action::None;
            }
        };
        if let Some(why) = self
            .refuse_start()
            .or_else(|| self.occupied(&modal.fixture))
        {
            self.notice = Some(why);
            return Action::None;
        }
        self.notice = None;
        match modal.confirm {
            Confirm::PermanentLock {
                mut request,
                retest,
                ..
            } => {
                request.typed_label = Some(typed);
                Action::Start(self.start(vec![request], retest))
            }
            Confirm::Recover { .. } => {
                let fixture = modal.fixture;
                self.rma_unit(&fixture).recover = Some(RecoverRun::default());
                self.begin_job(&fixture, Job::Recover);
                Action::Recover { fixture, typed }
            }
            Confirm::Operator | Confirm::ReworkClear { .. } => Action::None,
        }
    }
}
