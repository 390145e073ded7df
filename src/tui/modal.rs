//! What a modal asks, drawn over the view; it takes every key but quit.
//!
//! - Typed confirmations for permanent or destructive actions: the person types the unit's
//!   label (the label scanned for it, else the last 8 hex digits of its UID, in any case); a
//!   wrong entry refuses and nothing happens.
//! - Entries: the operator's name when the station requires one, and the technician's name
//!   and reason for a rework clearance. An empty name is asked again.

use super::app::StartRequest;

/// Longer input is not a label; the field stops growing.
pub const MAX_TYPED_CHARS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Start (or retest) a unit whose profile does something irreversible to it: RDP level 2,
    /// or OTP unit data. `expected` is the label the engine checks: the one scanned for the
    /// unit, or on a retest the last 8 hex digits of its inspected UID. Without one, the UID
    /// is not known before the unit is identified: any 8 hex digits are taken and the engine
    /// checks them against the chip.
    PermanentLock {
        request: StartRequest,
        retest: bool,
        expected: Option<String>,
        /// A retest of a unit locked at RDP level 1: testing it again regresses RDP, which
        /// erases its flash (the engine asks for the label; without it the retest stopped at
        /// once, reading as if the operator had stopped it).
        reopen: bool,
    },
    /// Recover the unit an inspection identified: it may erase the whole flash.
    Recover {
        uid: String,
        label: String,
        label_source: String,
        rdp_level: Option<u8>,
    },
    /// The station requires an operator's name and none was given.
    Operator,
    /// Clear a unit for production again: the technician's name, then an optional reason.
    ReworkClear {
        /// The UID or serial the records know the unit by.
        unit: String,
        /// Production FAILs since its last clearance, as far as the TUI knows.
        failures: u32,
        /// Its last production test was refused as routed to rework.
        routed: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modal {
    /// The fixture the action is for; empty for the operator's name.
    pub fixture: String,
    pub confirm: Confirm,
    pub typed: String,
    /// An entry's earlier answers (a rework clearance: the name, before the reason).
    pub answers: Vec<String>,
    /// Why the last Enter was not taken; the entry stays open.
    pub error: Option<String>,
}

impl Modal {
    pub fn new(fixture: impl Into<String>, confirm: Confirm) -> Self {
        Self {
            fixture: fixture.into(),
            confirm,
            typed: String::new(),
            answers: Vec::new(),
            error: None,
        }
    }

    /// An entry asks for names and words and stays open until they are valid; a confirmation
    /// closes on the first Enter, refused or not.
    pub fn is_entry(&self) -> bool {
        matches!(
            self.confirm,
            Confirm::Operator | Confirm::ReworkClear { .. }
        )
    }

    /// Esc cannot leave the operator's name unanswered (F10 still quits).
    pub fn can_cancel(&self) -> bool {
        self.confirm != Confirm::Operator
    }

    pub fn title(&self) -> String {
        match &self.confirm {
            Confirm::PermanentLock { reopen: true, .. } => {
                format!("Erases the unit: {}", self.fixture)
            }
            Confirm::PermanentLock { .. } => format!("Irreversible: {}", self.fixture),
            Confirm::Recover { .. } => format!("Recover the unit on {}?", self.fixture),
            Confirm::Operator => "Who is operating this station?".into(),
            Confirm::ReworkClear { .. } => {
                format!("Clear the unit on {} for production", self.fixture)
            }
        }
    }

    /// What will happen, and what to type, in plain words.
    pub fn prompt(&self) -> Vec<String> {
        match &self.confirm {
            Confirm::PermanentLock { reopen, .. } => vec![
                if *reopen {
                    "The unit is read-protected (RDP level 1): testing it again regresses RDP, \
                     which erases its whole flash, then provisions it again."
                        .into()
                } else {
                    "This profile does something to the unit that can never be undone: read \
                     protection level 2 (the debug port closes for good) or writing its OTP."
                        .into()
                },
                if self.scanned() {
                    "Type the unit's label, the one you scanned (any case), to go on.".into()
                } else {
                    "Type the unit's label, the last 8 hex digits of its UID, to go on.".into()
                },
            ],
            Confirm::Recover {
                uid,
                label_source,
                rdp_level,
                ..
            } => {
                let erase = if rdp_level.is_some_and(|l| l >= 1) {
                    "regresses read protection 1 → 0, which ERASES THE WHOLE FLASH, then "
                } else {
                    ""
                };
                vec![
                    format!(
                        "Recover {erase}rewrites the bootloader and option bytes of UID {uid}."
                    ),
                    format!("Type the unit's label ({label_source}) to go on."),
                ]
            }
            Confirm::Operator => vec![
                "This station records who tested each unit. Type your name, then Enter.".into(),
            ],
            Confirm::ReworkClear {
                unit,
                failures,
                routed,
            } => {
                let routed = if *routed {
                    ", so production refuses it until it is cleared"
                } else {
                    ""
                };
                vec![
                    format!(
                        "{unit} failed {failures} production test(s) since its last \
                         clearance{routed}. A clearance record names who reworked it."
                    ),
                    "Type your name, Enter; then what was done (optional), Enter.".into(),
                ]
            }
        }
    }

    /// An entry's field being typed: its name.
    pub fn field(&self) -> Option<&'static str> {
        match (&self.confirm, self.answers.len()) {
            (Confirm::Operator, _) => Some("Name"),
            (Confirm::ReworkClear { .. }, 0) => Some("Technician"),
            (Confirm::ReworkClear { .. }, _) => Some("Reason (optional)"),
            _ => None,
        }
    }

    fn scanned(&self) -> bool {
        matches!(&self.confirm, Confirm::PermanentLock { request, .. } if request.label.is_some())
    }

    pub fn type_char(&mut self, c: char) {
        if !c.is_control() && self.typed.chars().count() < MAX_TYPED_CHARS {
            self.typed.push(c);
        }
    }

    /// An entry's Enter: `Ok(Some(answers))` once every field is answered, `Ok(None)` when the
    /// next field is asked, `Err` (kept in `error`) when a name is missing.
    pub fn enter(&mut self) -> Result<Option<Vec<String>>, String> {
        let typed = std::mem::take(&mut self.typed).trim().to_string();
        let needs_name = matches!(
            (&self.confirm, self.answers.len()),
            (Confirm::Operator, _) | (Confirm::ReworkClear { .. }, 0)
        );
        if needs_name && typed.is_empty() {
            let why = "A name is needed: type it, then Enter".to_string();
            self.error = Some(why.clone());
            return Err(why);
        }
        self.error = None;
        self.answers.push(typed);
        let questions = match self.confirm {
            Confirm::ReworkClear { .. } => 2,
            _ => 1,
        };
        Ok((self.answers.len() >= questions).then(|| self.answers.clone()))
    }

    /// A confirmation's answer: the label to give the engine when the typed one authorises
    /// the action, else why it does not.
    pub fn check(&self) -> Result<String, String> {
        let typed = self.typed.trim().to_string();
        match &self.confirm {
            Confirm::PermanentLock {
                expected: Some(label),
                ..
            } => {
                if typed.eq_ignore_ascii_case(label) {
                    Ok(label.clone())
                } else {
                    Err(format!(
                        "you typed {typed:?}, which is not the unit's label: nothing was started"
                    ))
                }
            }
            Confirm::PermanentLock { expected: None, .. } => {
                if typed.len() == 8 && typed.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(typed)
                } else {
                    Err(format!(
                        "you typed {typed:?}, which is not 8 hex digits (the last 8 of the \
                         unit's UID): nothing was started"
                    ))
                }
            }
            Confirm::Recover { uid, label, .. } => {
                // The engine compares a label exactly: it gets the label as recorded.
                if typed.eq_ignore_ascii_case(label) {
                    Ok(label.clone())
                } else {
                    Err(format!(
                        "you typed {typed:?}, but the unit in {} has label {label} (UID {uid}): \
                         nothing was changed",
                        self.fixture
                    ))
                }
            }
            Confirm::Operator | Confirm::ReworkClear { .. } => {
                Err("this asks for a name, not a label".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recover(label: &str) -> Modal {
        Modal::new(
            "sim-4",
            Confirm::Recover {
                uid: "892B3F850C6F3C0EB958888F".into(),
                label: label.into(),
                label_source: "the last 8 hex digits of its UID".into(),
                rdp_level: Some(1),
            },
        )
    }

    fn lock(label: Option<&str>, expected: Option<&str>) -> Modal {
        let request = StartRequest {
            fixture: "sim-1".into(),
            label: label.map(str::to_string),
            typed_label: None,
        };
        Modal::new(
            "sim-1",
            Confirm::PermanentLock {
                request,
                retest: false,
                expected: expected.map(str::to_string),
                reopen: false,
            },
        )
    }

    #[test]
    fn recover_takes_the_label_in_either_case_and_refuses_anything_else() {
        let mut m = recover("B958888F");
        for c in "b958888f".chars() {
            m.type_char(c);
        }
        assert_eq!(m.check(), Ok("B958888F".into()));
        m.typed = "B958888".into();
        let refusal = m.check().unwrap_err();
        assert!(refusal.contains("nothing was changed"), "{refusal}");
        assert!(m.prompt()[0].contains("ERASES THE WHOLE FLASH"));
        // A scanned label with letters: any case, and the engine gets it as recorded.
        let mut m = recover("SN-Qx10");
        m.typed = "sn-qX10".into();
        assert_eq!(m.check(), Ok("SN-Qx10".into()));
    }

    #[test]
    fn without_a_scan_a_permanent_lock_needs_eight_hex_digits() {
        let mut m = lock(None, None);
        m.typed = "12AB34cd".into();
        assert_eq!(m.check(), Ok("12AB34cd".into()));
        m.typed = "12AB34cz".into();
        assert!(m.check().is_err());
    }

    #[test]
    fn with_a_scan_a_permanent_lock_needs_that_label_in_any_case() {
        let mut m = lock(Some("Fq?-x1"), Some("Fq?-x1"));
        m.typed = "fQ?-X1".into();
        assert_eq!(m.check(), Ok("Fq?-x1".into()));
        m.typed = "12AB34cd".into();
        let refusal = m.check().unwrap_err();
        assert!(refusal.contains("nothing was started"), "{refusal}");
        assert!(m.prompt()[1].contains("scanned"));
    }

    #[test]
    fn a_rework_entry_asks_a_name_then_an_optional_reason() {
        let mut m = Modal::new(
            "sim-1",
            Confirm::ReworkClear {
                unit: "UID-1".into(),
                failures: 2,
                routed: true,
            },
        );
        assert!(m.is_entry() && m.can_cancel());
        m.typed = "  ".into();
        assert!(m.enter().is_err());
        assert!(m.error.is_some());
        m.typed = "ana".into();
        assert_eq!(m.enter(), Ok(None));
        assert_eq!(m.field(), Some("Reason (optional)"));
        assert_eq!(m.enter(), Ok(Some(vec!["ana".into(), String::new()])));
    }

    #[test]
    fn the_operator_entry_cannot_be_cancelled_or_left_empty() {
        let mut m = Modal::new("", Confirm::Operator);
        assert!(!m.can_cancel());
        assert!(m.enter().is_err());
        m.typed = " Ana Lima ".into();
        assert_eq!(m.enter(), Ok(Some(vec!["Ana Lima".into()])));
    }
}
