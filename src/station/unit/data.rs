//! The unit-data step: the unit's data (`[unit_data]`) composed, written to its flash sector
//! or OTP before the option bytes lock the part, read back and recorded.

use super::UnitRun;
use crate::hw::{FlashOptions, Segment};
use crate::station::step::{StepError, StepOutput};

impl UnitRun<'_> {
    /// Write the unit's data (`[unit_data]`) before the option bytes lock the part, read it
    /// back and record it. OTP is never rewritten: other data there fails the unit.
    pub(super) fn unit_data(&mut self) -> Result<StepOutput, StepError> {
        use crate::config::unit_data::{Area, mac_text, otp_area};
        use crate::station::unit_data::{Inputs, allocate, compose};
        let Some(spec) = self.profile.unit_data.clone() else {
            return Ok(StepOutput::default());
        };
        let uid = self
            .device
            .as_ref()
            .map(|d| d.uid.clone())
            .unwrap_or_default();
        let label = self.label();
        let mut out = StepOutput::default();
        out.details.insert(
            "area".into(),
            serde_json::to_value(spec.area).unwrap_or_default(),
        );
        out.details
            .insert("address".into(), format!("{:#010x}", spec.address).into());
        let mut current = vec![0u8; spec.size as usize];
        self.hw.debug.read_bytes(spec.address, &mut current)?;
        let blank = current.iter().all(|b| *b == 0xFF);
        if spec.area == Area::Otp && blank {
            self.authorise_irreversible("OTP writes are irreversible", "to write its OTP")?;
        }
        let mac = match &spec.mac_pool {
            None => None,
            Some(pool) => {
                let (mac, new) =
                    allocate(self.records_dir, pool, &uid).map_err(StepError::error)?;
                out.details.insert("mac_newly_allocated".into(), new.into());
                Some(mac)
            }
        };
        let composed = compose(
            &spec,
            &Inputs {
                label: &label,
                uid: &uid,
                mac,
            },
        )
        .map_err(StepError::error)?;
        out.details
            .insert("fields".into(), composed.fields.clone().into());
        out.details.insert(
            "sha256".into(),
            crate::image::sha256_hex(&composed.bytes).into(),
        );
        let written = current != composed.bytes;
        out.details.insert("written".into(), written.into());
        if written {
            match spec.area {
                Area::Otp if !blank => {
                    return Err(StepError::fail(format!(
                        "the OTP at {:#010x} already holds other data (OTP cannot be rewritten); \
                         it reads {}",
                        spec.address,
                        hex_preview(&current)
                    )));
                }
                Area::Otp => {
                    let (base, len, block) = otp_area(self.profile.family)
                        .ok_or_else(|| StepError::error("this family has no OTP"))?;
                    let layout = crate::stm32::otp::OtpLayout { base, len, block };
                    let clock = self.clock();
                    crate::stm32::otp::program(
                        self.hw.debug.as_mut(),
                        clock.as_ref(),
                        &layout,
                        spec.address,
                        &composed.bytes,
                        spec.lock,
                    )
                    .map_err(|e| match e {
                        crate::stm32::otp::OtpError::Hw(h) => StepError::from(h),
                        other => StepError::fail(other.to_string()),
                    })?;
                    out.details.insert("locked".into(), spec.lock.into());
                }
                Area::Flash => {
                    let options = FlashOptions {
                        verify: true,
                        preverify: false,
                    };
                    let segment = Segment::new(spec.address, composed.bytes.clone());
                    self.hw.debug.flash(&[segment], &options, &mut |_| {})?;
                }
            }
        }
        let mut back = vec![0u8; spec.size as usize];
        self.hw.debug.read_bytes(spec.address, &mut back)?;
        if back != composed.bytes {
            return Err(StepError::fail(format!(
                "the unit data read back differs from what was written: {}",
                hex_preview(&back)
            )));
        }
        if let Some(mac) = mac {
            out.details.insert("mac".into(), mac_text(&mac).into());
        }
        Ok(out)
    }
}

/// The first bytes of a buffer in hex, for an error message.
fn hex_preview(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}{}",
        shown.join(" "),
        if bytes.len() > 16 { " ..." } else { "" }
    )
}
