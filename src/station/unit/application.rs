//! The application steps: the DFU download, confirming the application runs (its USB
//! identity, a dual-core part's CM4 through the console), and the console tests.

use std::time::Duration;

use super::UnitRun;
use crate::dfu;
use crate::hw::UsbSelector;
use crate::image::header::{self, SlotCheck};
use crate::record::Measurement;
use crate::station::dfu_session;
use crate::station::images::SlotImage;
use crate::station::step::{StepError, StepOutput};
use crate::station::update::{self, wait_for_device};

impl UnitRun<'_> {
    pub(super) fn dfu_download(&mut self) -> Result<StepOutput, StepError> {
        let dfu = &self.profile.dfu;
        let mut settings = update::UpdateSettings::new(dfu.alt, dfu.mode, dfu.erase);
        settings.verify = dfu.verify;
        let segments = self.images.application_segments();
        let report = dfu_session::update(
            &mut self.hw,
            self.fixture,
            &segments,
            &settings,
            self.sink,
            self.unit,
            "dfu_download",
        )?;
        let mut out = StepOutput::default();
        out.details
            .insert("transfer_size".into(), report.transfer_size.into());
        out.details.insert(
            "mode".into(),
            format!("{:?}", settings.mode).to_lowercase().into(),
        );
        out.details
            .insert("requests".into(), report.requests.into());
        out.details
            .insert("verified".into(), report.verified.into());
        out.measurements.push(Measurement::new(
            "dfu_bytes",
            report.bytes as f64,
            "B",
            None,
        ));
        out.measurements.push(Measurement::new(
            "dfu_polls_per_block",
            report.polls_per_block,
            "polls",
            None,
        ));
        Ok(out)
    }

    pub(super) fn confirm_application(&mut self) -> Result<StepOutput, StepError> {
        let (vid, pid) = self.fixture.usb_application;
        let selector = UsbSelector {
            vid,
            pid,
            serial: None,
            port_path: self.fixture.usb_port.clone(),
        };
        let mut pipe = wait_for_device(
            self.hw.usb.as_ref(),
            &selector,
            self.hw.clock.as_ref(),
            Duration::from_secs(5),
        )
        .map_err(|e| {
            StepError::fail(format!("the application did not enumerate: {}", e.message))
        })?;
        let device = dfu::host::read_device_descriptor(pipe.as_mut())
            .map_err(|e| StepError::fail(e.to_string()))?;
        let product = dfu::host::read_string(pipe.as_mut(), device.product_index)
            .ok()
            .flatten()
            .unwrap_or_default();
        let (base, size) = self.images.application_slot;
        let window = self.images.application.bytes_at(base, size as usize, 0xFF);
        let SlotCheck::Valid(expected) = header::check_app(base, &window) else {
            return Err(StepError::error(
                "the profile's application image has no valid header",
            ));
        };
        let want_bcd = u16::from_be_bytes([expected.version.major, expected.version.minor]);
        let mut out = StepOutput::default();
        out.details
            .insert("usb_product".into(), product.clone().into());
        out.details.insert(
            "bcd_device".into(),
            format!("{:#06x}", device.bcd_device).into(),
        );
        if device.bcd_device != want_bcd || !product.contains(&expected.version.to_string()) {
            return Err(StepError::fail(format!(
                "the running application reports {product:?} (bcdDevice {:#06x}), expected version {}",
                device.bcd_device, expected.version
            )));
        }
        if let Some(cm4) = &self.images.cm4 {
            let reply = self.cm4_version(cm4)?;
            out.details.insert("cm4_version".into(), reply.into());
        }
        Ok(out)
    }

    /// A dual-core unit's CM4 is checked through the console: the CM7 application reports
    /// what the CM4 runs (on a real board, over shared memory).
    pub(super) fn cm4_version(&self, cm4: &SlotImage) -> Result<String, StepError> {
        let (base, size) = cm4.slot;
        let window = cm4.image.bytes_at(base, size as usize, 0xFF);
        let SlotCheck::Valid(expected) = header::check_app(base, &window) else {
            return Err(StepError::error(
                "the profile's CM4 image has no valid header",
            ));
        };
        let port = self.hw.console.as_deref().ok_or_else(|| {
            StepError::error(
                "the profile has a CM4 image, but the fixture has no console port to ask it \
                 (serial_port in the station file)",
            )
        })?;
        let reply = crate::station::console::ask(port, "version cm4", Duration::from_secs(2))?;
        let want = format!("{} {}", expected.name, expected.version);
        if reply != want {
            return Err(StepError::fail(format!(
                "the CM4 reports {reply:?}, expected {want:?}"
            )));
        }
        Ok(reply)
    }

    /// The profile's functional tests through the application's console.
    pub(super) fn console_tests(&mut self) -> bool {
        let tests = self.profile.console_tests.clone();
        for test in tests {
            let name = format!("console_{}", test.name);
            let passed = self.step(&name, |u| {
                let port = u.hw.console.as_deref().ok_or_else(|| {
                    StepError::error(
                        "the fixture has no console port (serial_port in the station file)",
                    )
                })?;
                let (reply, measurement) = crate::station::console::run_test(port, &test)?;
                let mut out = StepOutput::default();
                out.details.insert("reply".into(), reply.into());
                out.measurements.extend(measurement);
                Ok(out)
            });
            if !passed {
                return false;
            }
        }
        true
    }
}
