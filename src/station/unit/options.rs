//! The option-byte steps: program what the profile asks, read back and verify, RDP level 2
//! only behind the unit's typed label and with the closed debug port as proof; the golden
//! unit's read-only check.

use super::UnitRun;
use crate::hw::AttachMode;
use crate::record::Outcome;
use crate::station::step::{StepError, StepOutput};

impl UnitRun<'_> {
    /// The option bytes read back equal what the profile asks for (nothing is programmed).
    pub(super) fn option_bytes_check(&mut self) -> Result<StepOutput, StepError> {
        use crate::stm32::options;
        let family = self.profile.family;
        let now = options::read(family, self.hw.debug.as_mut())?;
        let wanted =
            options::encode(family, &self.profile.option_bytes, &now).map_err(StepError::error)?;
        let mut out = StepOutput::default();
        out.details
            .insert("read".into(), options::decode(family, &now));
        if now != wanted {
            return Err(StepError::fail(format!(
                "option bytes read {}, the profile asks for {}",
                options::decode(family, &now),
                options::decode(family, &wanted)
            )));
        }
        self.hw.debug.detach();
        self.power_cycle()?;
        Ok(out)
    }

    /// RDP level 2 never comes back: the profile allows it, and a person must also have typed
    /// this unit's label (the last 8 hex digits of its UID) for this run.
    pub(super) fn authorise_permanent_lock(&self) -> Result<(), StepError> {
        self.authorise_irreversible(
            "RDP level 2 is permanent (the debug port closes for good)",
            "to lock it",
        )
    }

    /// The label a person types for this unit: its scanned label, else the last 8 hex digits
    /// of its UID.
    pub(super) fn label(&self) -> String {
        if let Some(label) = &self.scanned_label {
            return label.clone();
        }
        let uid = self.device.as_ref().map_or("", |d| d.uid.as_str());
        uid[uid.len().saturating_sub(8)..].to_string()
    }

    /// Irreversible actions need this unit's label typed for the run.
    pub(super) fn authorise_irreversible(&self, why: &str, goal: &str) -> Result<(), StepError> {
        let label = self.label();
        let label = label.as_str();
        if !label.is_empty()
            && self
                .typed_labels
                .iter()
                .any(|t| t.eq_ignore_ascii_case(label))
        {
            return Ok(());
        }
        Err(StepError {
            outcome: Outcome::Aborted,
            message: format!(
                "{why}: type this unit's label {label} (`--yes-i-typed {label}`) {goal}; \
                 nothing was changed"
            ),
        })
    }

    pub(super) fn option_bytes(&mut self) -> Result<StepOutput, StepError> {
        use crate::stm32::options::{self, Activation};
        let family = self.profile.family;
        let before = options::read(family, self.hw.debug.as_mut())?;
        let wanted = options::encode(family, &self.profile.option_bytes, &before)
            .map_err(StepError::error)?;
        let mut out = StepOutput::default();
        let level = |w| options::decode(family, w)["rdp_level"].as_u64();
        let permanent = level(&wanted) == Some(2) && level(&before) != Some(2);
        if permanent {
            self.authorise_permanent_lock()?;
        }
        out.details
            .insert("before".into(), options::decode(family, &before));
        out.details
            .insert("requested".into(), options::decode(family, &wanted));
        let changed = before != wanted;
        if changed {
            let activation = self.program_options(&wanted)?;
            if permanent {
                return self.confirm_permanent_lock(out, &wanted);
            }
            match activation {
                Activation::Immediate => {}
                // The new values govern the part after a reset; a power cycle also ends the
                // debug session that RDP level 1 would hold against the flash.
                Activation::NextReset | Activation::ResetsItself => {
                    self.hw.debug.detach();
                    self.power_cycle()?;
                    self.hw.debug.attach(AttachMode::Normal)?;
                }
            }
        }
        let after = options::read(family, self.hw.debug.as_mut())?;
        out.details
            .insert("after".into(), options::decode(family, &after));
        out.details.insert("programmed".into(), changed.into());
        if after != wanted {
            return Err(StepError::fail(format!(
                "option bytes read back {:?}, expected {:?}",
                after.0, wanted.0
            )));
        }
        self.hw.debug.detach();
        self.power_cycle()?;
        Ok(out)
    }

    /// Program `wanted` with the family's sequence. Never leaves half-programmed option bytes
    /// without saying so: an error carries what the part reads now.
    pub fn program_options(
        &mut self,
        wanted: &crate::stm32::options::OptionWords,
    ) -> Result<crate::stm32::options::Activation, StepError> {
        use crate::stm32::options::{self, OptionError};
        let family = self.profile.family;
        let clock = self.clock();
        let target = self.hw.debug.as_mut();
        options::program(family, target, clock.as_ref(), wanted).map_err(|e| {
            let now = options::read(family, target)
                .ok()
                .map(|w| options::decode(family, &w));
            let message = format!(
                "{e}; the option bytes now read {}",
                now.map_or("(unreadable)".into(), |v| v.to_string())
            );
            match e {
                OptionError::Hw(h) => StepError {
                    outcome: StepError::from(h).outcome,
                    message,
                },
                _ => StepError::fail(message),
            }
        })
    }

    /// After RDP level 2 is programmed the debug port closes at the next reset for good, so
    /// the values are read back before it, and the closed port after it is the proof.
    pub(super) fn confirm_permanent_lock(
        &mut self,
        mut out: StepOutput,
        wanted: &crate::stm32::options::OptionWords,
    ) -> Result<StepOutput, StepError> {
        use crate::stm32::options;
        let family = self.profile.family;
        // On L4/G0 the part has already reset itself (OBL_LAUNCH): nothing answers any more.
        let read = options::read(family, self.hw.debug.as_mut()).ok();
        out.details.insert("programmed".into(), true.into());
        out.details.insert(
            "after".into(),
            read.as_ref()
                .map_or("unreadable: the part reset to apply them".into(), |w| {
                    options::decode(family, w)
                }),
        );
        if let Some(after) = &read
            && after != wanted
        {
            return Err(StepError::fail(format!(
                "option bytes read back {:?}, expected {:?}; the part may be locked",
                after.0, wanted.0
            )));
        }
        self.hw.debug.detach();
        self.power_cycle()?;
        let attached = self.hw.debug.attach(AttachMode::Normal);
        let closed = attached.is_err();
        out.details
            .insert("debug_port_closed".into(), closed.into());
        if let Err(e) = attached {
            out.details
                .insert("attach_after_lock".into(), e.to_string().into());
        }
        if !closed {
            self.hw.debug.detach();
            return Err(StepError::fail(
                "the part still answers on SWD after RDP level 2 was programmed",
            ));
        }
        Ok(out)
    }
}
