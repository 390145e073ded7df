//! Typed confirmations for permanent or destructive actions: the person types the unit's
//! label (or the last 8 hex digits of its UID); a wrong entry refuses and nothing happens.

use super::app::StartRequest;
use crate::station::rma::UnitRef;

/// Longer input is not a label; the field stops growing.
pub const MAX_TYPED_CHARS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Start (or retest) a unit whose profile does something irreversible to it: RDP level 2,
    /// or OTP unit data.
    PermanentLock { request: StartRequest, retest: bool },
    /// Recover the unit an inspection identified: it may erase the whole flash.
    Recover {
        uid: String,
        label: String,
        label_source: String,
        rdp_level: Option<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modal {
    pub fixture: String,
    pub confirm: Confirm,
    pub typed: String,
}

impl Modal {
    pub fn new(fixture: impl Into<String>, confirm: Confirm) -> Self {
        Self {
            fixture: fixture.into(),
            confirm,
            typed: String::new(),
        }
    }

    pub fn title(&self) -> String {
        match &self.confirm {
            Confirm::PermanentLock { .. } => format!("Irreversible: {}", self.fixture),
            Confirm::Recover { .. } => format!("Recover the unit on {}?", self.fixture),
        }
    }

    /// What will happen, and what to type, in plain words.
    pub fn prompt(&self) -> Vec<String> {
        match &self.confirm {
            Confirm::PermanentLock { .. } => vec![
                "This profile does something to the unit that can never be undone: read \
                 protection level 2 (the debug port closes for good) or writing its OTP."
                    .into(),
                "Type the unit's label, the last 8 hex digits of its UID, to go on.".into(),
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
        }
    }

    pub fn type_char(&mut self, c: char) {
        if !c.is_control() && self.typed.chars().count() < MAX_TYPED_CHARS {
            self.typed.push(c);
        }
    }

    /// The typed label when it authorises the action, else why it does not.
    pub fn check(&self) -> Result<String, String> {
        let typed = self.typed.trim().to_string();
        match &self.confirm {
            Confirm::PermanentLock { .. } => {
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
                let unit = UnitRef {
                    uid: uid.clone(),
                    production: None,
                    label: label.clone(),
                };
                if unit.matches(&typed) {
                    Ok(typed)
                } else {
                    Err(format!(
                        "you typed {typed:?}, but the unit in {} has label {label} (UID {uid}): \
                         nothing was changed",
                        self.fixture
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recover() -> Modal {
        Modal::new(
            "sim-4",
            Confirm::Recover {
                uid: "892B3F850C6F3C0EB958888F".into(),
                label: "B958888F".into(),
                label_source: "the last 8 hex digits of its UID".into(),
                rdp_level: Some(1),
            },
        )
    }

    #[test]
    fn recover_takes_the_label_in_either_case_and_refuses_anything_else() {
        let mut m = recover();
        for c in "b958888f".chars() {
            m.type_char(c);
        }
        assert_eq!(m.check(), Ok("b958888f".into()));
        m.typed = "B958888".into();
        let refusal = m.check().unwrap_err();
        assert!(refusal.contains("nothing was changed"), "{refusal}");
        assert!(m.prompt()[0].contains("ERASES THE WHOLE FLASH"));
    }

    #[test]
    fn a_permanent_lock_needs_eight_hex_digits() {
        let request = StartRequest {
            fixture: "sim-1".into(),
            label: None,
            typed_label: None,
        };
        let mut m = Modal::new(
            "sim-1",
            Confirm::PermanentLock {
                request,
                retest: false,
            },
        );
        m.typed = "12AB34cd".into();
        assert_eq!(m.check(), Ok("12AB34cd".into()));
        m.typed = "12AB34cz".into();
        assert!(m.check().is_err());
    }
}
