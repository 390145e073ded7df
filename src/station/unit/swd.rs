//! The steps over SWD: identify the part, flash the bootloader (a unit this station locked
//! before is reopened first, behind its typed label).

use super::UnitRun;
use crate::hw::{FlashOptions, HwError};
use crate::record::{DeviceInfo, Measurement};
use crate::station::dut::attach_under_reset;
use crate::station::events::Event;
use crate::station::step::{StepError, StepOutput};
use crate::stm32;

impl UnitRun<'_> {
    pub(super) fn identify(&mut self) -> Result<StepOutput, StepError> {
        let id = stm32::read_identity(self.hw.debug.as_mut(), self.profile.family).map_err(
            |e| match e {
                stm32::IdentityError::Hw(h) => StepError::from(h),
                wrong @ stm32::IdentityError::WrongPart { .. } => {
                    StepError::fail(wrong.to_string())
                }
            },
        )?;
        let expected_kib = self.profile.memory.flash.size / 1024;
        if id.flash_kib != expected_kib {
            return Err(StepError::fail(format!(
                "the part reports {} KiB of flash, the profile expects {expected_kib} KiB",
                id.flash_kib
            )));
        }
        self.device = Some(DeviceInfo {
            uid: id.uid_hex(),
            idcode: id.idcode,
            flash_size_kib: id.flash_kib,
        });
        let mut out = StepOutput::default();
        out.details.insert("uid".into(), id.uid_hex().into());
        out.details
            .insert("idcode".into(), format!("{:#010x}", id.idcode).into());
        Ok(out)
    }

    /// The profile's bootloader over SWD: preverified (an identical one is skipped), verified.
    pub(super) fn flash_bootloader_image(&mut self) -> Result<crate::hw::FlashReport, HwError> {
        let segments = self.images.bootloader.segments.clone();
        let options = FlashOptions {
            verify: true,
            preverify: true,
        };
        let sink = self.sink;
        let (fixture, unit) = (self.fixture.id.clone(), self.unit);
        self.hw.debug.flash(&segments, &options, &mut |p| {
            sink.emit(Event::Progress {
                fixture: fixture.clone(),
                unit,
                step: "flash_bootloader".into(),
                phase: format!("{:?}", p.phase).to_lowercase(),
                done: p.done,
                total: p.total,
            });
        })
    }

    /// A unit provisioned before (a retest, a rework) is read-protected: the flash can only
    /// be written again after RDP regresses to 0, which erases it, so a person must have typed
    /// its label. Returns the evidence for the step's record.
    pub(super) fn reopen_if_locked(&mut self) -> Result<Option<serde_json::Value>, StepError> {
        use crate::stm32::options;
        let family = self.profile.family;
        let before = options::read(family, self.hw.debug.as_mut())?;
        let level = options::summary(family, &before).rdp_level;
        if level == 0 {
            return Ok(None);
        }
        if level == 2 {
            return Err(StepError::fail(
                "the unit is at RDP level 2, which is permanent: it cannot be provisioned again",
            ));
        }
        self.authorise_irreversible(
            "the unit is read-protected (RDP 1): provisioning it again regresses RDP, which \
             erases its whole flash",
            "to erase and provision it again",
        )?;
        let opened = options::opened(family, &before).map_err(StepError::error)?;
        self.program_options(&opened)?;
        self.hw.debug.detach();
        self.power_cycle()?;
        attach_under_reset(&mut self.hw)?;
        let after = options::read(family, self.hw.debug.as_mut())?;
        if after != opened {
            return Err(StepError::fail(format!(
                "RDP regression read back {}, expected {}",
                options::decode(family, &after),
                options::decode(family, &opened)
            )));
        }
        Ok(Some(serde_json::json!({
            "before": options::decode(family, &before),
            "after": options::decode(family, &after),
        })))
    }

    pub(super) fn flash_bootloader(&mut self) -> Result<StepOutput, StepError> {
        let mut regressed = None;
        let report = match self.flash_bootloader_image() {
            // A unit this station provisioned before is locked by its own option bytes:
            // provisioning it again erases it, behind its typed label. A new unit that
            // arrives locked is a faulty one (RMA), never erased on the line.
            Err(HwError::Protected(why)) if self.attempt.is_some_and(|a| a > 1) => {
                regressed = self.reopen_if_locked()?;
                if regressed.is_none() {
                    return Err(HwError::Protected(why).into());
                }
                self.flash_bootloader_image()?
            }
            other => other?,
        };
        let mut out = StepOutput::default();
        if let Some(evidence) = regressed {
            out.details.insert("rdp_regressed".into(), evidence);
        }
        out.details
            .insert("skipped_identical".into(), report.skipped.into());
        out.details
            .insert("bytes".into(), self.images.bootloader.total_bytes().into());
        out.measurements.push(Measurement::new(
            "bootloader_bytes",
            report.bytes_programmed as f64,
            "B",
            None,
        ));
        Ok(out)
    }
}
