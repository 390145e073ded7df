//! One unit through the provisioning steps of the first end-to-end run: attach, identify,
//! flash the bootloader, option bytes, DFU download of the application, confirm it runs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::{Event, EventSink};
use crate::backend::FixtureHw;
use crate::config::{Fixture, Profile};
use crate::dfu;
use crate::hw::{
    AttachMode, Clock, FlashOptions, HwError, ResetKind, Segment, UsbBus, UsbControl, UsbSelector,
};
use crate::image::Image;
use crate::image::header::{self, SlotCheck};
use crate::record::{DeviceInfo, Limits, Measurement, Outcome, StepRecord};
use crate::stm32;

/// Why a step did not pass, and whose fault that is.
#[derive(Debug)]
pub struct StepError {
    pub outcome: Outcome,
    pub message: String,
}

impl StepError {
    pub fn fail(m: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            message: m.into(),
        }
    }
    pub fn error(m: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Error,
            message: m.into(),
        }
    }
}

impl From<HwError> for StepError {
    fn from(e: HwError) -> Self {
        let outcome = match &e {
            // The unit's own faults.
            HwError::NoResponse(_) | HwError::Protected(_) | HwError::VerifyMismatch(_) => {
                Outcome::Fail
            }
            HwError::Timeout(_) => Outcome::Timeout,
            // The station's or fixture's.
            HwError::NotFound(_) | HwError::Busy(_) | HwError::Backend(_) => Outcome::Error,
        };
        Self {
            outcome,
            message: e.to_string(),
        }
    }
}

/// What a step hands back for its record entry.
#[derive(Default)]
pub struct StepOutput {
    pub measurements: Vec<Measurement>,
    pub details: BTreeMap<String, serde_json::Value>,
}

/// The images a unit run uses, loaded and checked against their pins before any hardware.
pub struct UnitImages {
    pub bootloader: Image,
    pub application: Image,
    pub application_slot: (u32, u32),
    /// Dual-core parts: the Cortex-M4's application and its slot.
    pub cm4: Option<SlotImage>,
}

pub struct SlotImage {
    pub image: Image,
    /// (start, size)
    pub slot: (u32, u32),
}

impl UnitImages {
    /// Every application image's segments: the main core's, then the CM4's.
    pub fn application_segments(&self) -> Vec<Segment> {
        let mut segments = self.application.segments.clone();
        if let Some(cm4) = &self.cm4 {
            segments.extend(cm4.image.segments.iter().cloned());
        }
        segments
    }
}

/// Keeps a killed run's progress: called with the steps done and the device, after each step.
pub type Journal<'a> = Box<dyn Fn(&[StepRecord], Option<&DeviceInfo>) + 'a>;

pub struct UnitRun<'a> {
    pub fixture: &'a Fixture,
    pub profile: &'a Profile,
    pub images: &'a UnitImages,
    pub hw: FixtureHw,
    pub unit: u64,
    pub sink: &'a dyn EventSink,
    pub steps: Vec<StepRecord>,
    pub device: Option<DeviceInfo>,
    pub failure: Option<(Outcome, String)>,
    /// Set when the operator stops the run: the unit ends after its current step.
    pub abort: &'a std::sync::atomic::AtomicBool,
    /// Told what has been done after every step, so a killed run can be closed later.
    pub journal: Option<Journal<'a>>,
    /// Labels a person typed to authorise permanent actions (RDP level 2, OTP writes).
    pub typed_labels: &'a [String],
    /// The records directory (the MAC pool lives under it).
    pub records_dir: &'a std::path::Path,
    /// Set by the fixture's watchdog: the unit stops before its next step.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The label scanned for this unit, if any.
    pub scanned_label: Option<String>,
    /// Rework, label binding and golden checks (production runs).
    pub gates: Option<&'a super::gates::UnitGates<'a>>,
    /// This unit's production attempt, once the checks know it.
    pub attempt: Option<u32>,
}

fn limits_of(profile: &Profile, name: &str) -> Option<Limits> {
    profile.limit(name).map(|l| Limits {
        low: l.low,
        high: l.high,
    })
}

impl<'a> UnitRun<'a> {
    /// A run of RMA or engineering steps on the unit a fixture holds: no journal, no gates,
    /// nothing typed yet.
    pub fn on_held_unit(
        fixture: &'a Fixture,
        profile: &'a Profile,
        images: &'a UnitImages,
        hw: FixtureHw,
        sink: &'a dyn EventSink,
        abort: &'a std::sync::atomic::AtomicBool,
        records_dir: &'a std::path::Path,
    ) -> Self {
        UnitRun {
            fixture,
            profile,
            unit: hw.sim_state.as_ref().map_or(0, |(unit, _)| *unit),
            images,
            hw,
            sink,
            steps: Vec::new(),
            device: None,
            failure: None,
            abort,
            typed_labels: &[],
            records_dir,
            journal: None,
            cancel: None,
            scanned_label: None,
            gates: None,
            attempt: None,
        }
    }

    fn clock(&self) -> std::sync::Arc<dyn Clock> {
        self.hw.clock.clone()
    }

    /// Whether the operator or the watchdog stopped the unit.
    fn stopping(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.abort.load(SeqCst) || self.cancel.as_ref().is_some_and(|c| c.load(SeqCst))
    }

    /// Run one step under the profile's policy for it: timed on the fixture's clock (longer
    /// than its timeout is TIMEOUT), tried again after an ERROR or TIMEOUT (and a FAIL when
    /// the policy says so), recorded with every try's error. Returns false when the unit is done.
    pub fn step(
        &mut self,
        name: &str,
        mut body: impl FnMut(&mut Self) -> Result<StepOutput, StepError>,
    ) -> bool {
        if self.failure.is_some() {
            return false;
        }
        if self.stopping() {
            self.failure = Some((
                Outcome::Aborted,
                format!("aborted by the operator before {name}"),
            ));
            return false;
        }
        let policy = self.profile.step_policy(name);
        let started_at: DateTime<Utc> = Utc::now();
        let t0 = self.clock().now();
        self.sink.emit(Event::StepStarted {
            fixture: self.fixture.id.clone(),
            unit: self.unit,
            step: name.into(),
        });
        let mut earlier = Vec::new();
        let (outcome, error, mut output) = loop {
            let t_try = self.clock().now();
            let result = body(self);
            let took = self.clock().now().saturating_sub(t_try);
            let (outcome, error, output) = self.judge(name, result, took, policy.timeout_s);
            let again = match outcome {
                Outcome::Error | Outcome::Timeout => true,
                Outcome::Fail => policy.retry_fail,
                _ => false,
            };
            if !again || earlier.len() as u32 >= policy.retries || self.stopping() {
                break (outcome, error, output);
            }
            earlier.push(format!("{outcome}: {}", error.unwrap_or_default()));
        };
        let duration = self.clock().now().saturating_sub(t0);
        if !earlier.is_empty() {
            output
                .details
                .insert("tries".into(), (earlier.len() + 1).into());
            output
                .details
                .insert("earlier_tries".into(), earlier.into());
        }
        self.sink.emit(Event::StepFinished {
            fixture: self.fixture.id.clone(),
            unit: self.unit,
            step: name.into(),
            outcome,
            duration_s: duration.as_secs_f64(),
            error: error.clone(),
        });
        self.steps.push(StepRecord {
            name: name.into(),
            outcome,
            started_at,
            ended_at: Utc::now().max(started_at),
            measurements: output.measurements,
            error: error.clone(),
            details: output.details,
        });
        if let Some(journal) = &self.journal {
            journal(&self.steps, self.device.as_ref());
        }
        if outcome != Outcome::Pass {
            self.failure = Some((outcome, format!("{name}: {}", error.unwrap_or_default())));
            return false;
        }
        true
    }

    /// One try's outcome: its error, its timeout, then its measurements against their limits.
    fn judge(
        &self,
        name: &str,
        result: Result<StepOutput, StepError>,
        took: Duration,
        timeout_s: Option<f64>,
    ) -> (Outcome, Option<String>, StepOutput) {
        let mut out = match result {
            Err(e) => return (e.outcome, Some(e.message), StepOutput::default()),
            Ok(out) => out,
        };
        if let Some(limit) = timeout_s
            && took.as_secs_f64() > limit
        {
            let why = format!(
                "took {:.1} s, longer than its {limit} s timeout (steps.{name}.timeout_s)",
                took.as_secs_f64()
            );
            return (Outcome::Timeout, Some(why), out);
        }
        let limit_name = format!("{name}_s");
        out.measurements.insert(
            0,
            Measurement::new(
                &limit_name,
                took.as_secs_f64(),
                "s",
                limits_of(self.profile, &limit_name),
            ),
        );
        let failed = out.measurements.iter().find(|m| !m.passed).map(|m| {
            format!(
                "{} = {:.3} {} is outside its limits",
                m.name, m.value, m.unit
            )
        });
        match failed {
            Some(why) => (Outcome::Fail, Some(why), out),
            None => (Outcome::Pass, None, out),
        }
    }

    /// Guaranteed at the end of every unit, however it ended: the probe is released and the
    /// DUT powered off (when the fixture switches its power), so it can be taken out.
    pub fn teardown(&mut self) -> Option<(Outcome, String)> {
        use crate::config::PowerSpec;
        self.hw.debug.detach();
        let switched = !matches!(self.fixture.power, PowerSpec::None | PowerSpec::Manual);
        let power = self.hw.power.as_mut().filter(|_| switched)?;
        power.set_power(false).err().map(|e| {
            (
                Outcome::Error,
                format!("teardown: the fixture could not power the unit off: {e}"),
            )
        })
    }

    pub fn provision(&mut self) {
        let ok = self.step("attach", |u| {
            u.hw.debug.attach(AttachMode::Normal)?;
            Ok(StepOutput::default())
        }) && self.step("identify", Self::identify)
            && (self.gates.is_none() || self.step("traceability", Self::traceability))
            && self.step("flash_bootloader", Self::flash_bootloader)
            && (self.profile.unit_data.is_none() || self.step("unit_data", Self::unit_data))
            && self.step("option_bytes", Self::option_bytes)
            && self.step("dfu_download", Self::dfu_download)
            && self.step("confirm_application", Self::confirm_application)
            && self.console_tests();
        let _ = ok;
        self.hw.debug.detach();
    }

    /// The shift's golden-unit check: nothing on the unit is reprogrammed over SWD (it may be
    /// locked); its identity, option bytes, the DFU update path, the application and its
    /// console tests are.
    pub fn check_golden(&mut self) {
        let ok = self.step("attach", |u| {
            u.hw.debug.attach(AttachMode::Normal)?;
            Ok(StepOutput::default())
        }) && self.step("identify", Self::identify)
            && self.step("golden_identity", |u| {
                let uid = u.device.as_ref().map_or(String::new(), |d| d.uid.clone());
                let gates = u
                    .gates
                    .ok_or_else(|| StepError::error("no golden unit configured"))?;
                gates.check_golden(&uid)?;
                Ok(StepOutput::default())
            })
            && self.step("option_bytes_check", Self::option_bytes_check)
            && self.step("dfu_download", Self::dfu_download)
            && self.step("confirm_application", Self::confirm_application)
            && self.console_tests();
        let _ = ok;
        self.hw.debug.detach();
    }

    /// Rework routing and the label's binding to this chip, before anything changes on it.
    fn traceability(&mut self) -> Result<StepOutput, StepError> {
        let uid = self
            .device
            .as_ref()
            .map(|d| d.uid.clone())
            .ok_or_else(|| StepError::error("the unit was not identified"))?;
        let Some(gates) = self.gates else {
            return Ok(StepOutput::default());
        };
        let (attempt, checked) = gates.check(&uid);
        self.attempt = attempt;
        let found = checked?;
        let mut out = StepOutput::default();
        out.details.insert("attempt".into(), found.attempt.into());
        out.details
            .insert("failures_since_clearance".into(), found.failures.into());
        if let Some(label) = &self.scanned_label {
            out.details.insert("label".into(), label.clone().into());
        }
        Ok(out)
    }

    /// The option bytes read back equal what the profile asks for (nothing is programmed).
    fn option_bytes_check(&mut self) -> Result<StepOutput, StepError> {
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

    /// The profile's functional tests through the application's console.
    fn console_tests(&mut self) -> bool {
        let tests = self.profile.console_tests.clone();
        for test in tests {
            let name = format!("console_{}", test.name);
            let passed = self.step(&name, |u| {
                let path = u.hw.console.clone().ok_or_else(|| {
                    StepError::error(
                        "the fixture has no console port (serial_port in the station file)",
                    )
                })?;
                let (reply, measurement) = super::console::run_test(&path, &test)?;
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

    fn identify(&mut self) -> Result<StepOutput, StepError> {
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
    fn flash_bootloader_image(&mut self) -> Result<crate::hw::FlashReport, HwError> {
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
    fn reopen_if_locked(&mut self) -> Result<Option<serde_json::Value>, StepError> {
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
        super::rma::attach_under_reset(&mut self.hw)?;
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

    fn flash_bootloader(&mut self) -> Result<StepOutput, StepError> {
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

    /// RDP level 2 never comes back: the profile allows it, and a person must also have typed
    /// this unit's label (the last 8 hex digits of its UID) for this run.
    fn authorise_permanent_lock(&self) -> Result<(), StepError> {
        self.authorise_irreversible(
            "RDP level 2 is permanent (the debug port closes for good)",
            "to lock it",
        )
    }

    /// The label a person types for this unit: its scanned label, else the last 8 hex digits
    /// of its UID.
    fn label(&self) -> String {
        if let Some(label) = &self.scanned_label {
            return label.clone();
        }
        let uid = self.device.as_ref().map_or("", |d| d.uid.as_str());
        uid[uid.len().saturating_sub(8)..].to_string()
    }

    /// Irreversible actions need this unit's label typed for the run.
    fn authorise_irreversible(&self, why: &str, goal: &str) -> Result<(), StepError> {
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

    fn option_bytes(&mut self) -> Result<StepOutput, StepError> {
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

    /// Write the unit's data (`[unit_data]`) before the option bytes lock the part, read it
    /// back and record it. OTP is never rewritten: other data there fails the unit.
    fn unit_data(&mut self) -> Result<StepOutput, StepError> {
        use super::unit_data::{Inputs, allocate, compose};
        use crate::config::unit_data::{Area, mac_text, otp_area};
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
    fn confirm_permanent_lock(
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

    fn power_cycle(&mut self) -> Result<(), StepError> {
        match self.hw.power.as_mut() {
            Some(power) => {
                power.set_power(false)?;
                self.hw.clock.sleep(Duration::from_millis(200));
                power.set_power(true)?;
                self.hw.clock.sleep(Duration::from_millis(50));
                Ok(())
            }
            None => {
                self.hw.debug.reset(ResetKind::Run)?;
                Ok(())
            }
        }
    }

    fn dfu_download(&mut self) -> Result<StepOutput, StepError> {
        let dfu = &self.profile.dfu;
        let settings = super::update::UpdateSettings::new(dfu.alt, dfu.mode, dfu.erase);
        let segments = self.images.application_segments();
        let report = super::update::update(
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

    fn confirm_application(&mut self) -> Result<StepOutput, StepError> {
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
    fn cm4_version(&self, cm4: &SlotImage) -> Result<String, StepError> {
        let (base, size) = cm4.slot;
        let window = cm4.image.bytes_at(base, size as usize, 0xFF);
        let SlotCheck::Valid(expected) = header::check_app(base, &window) else {
            return Err(StepError::error(
                "the profile's CM4 image has no valid header",
            ));
        };
        let path = self.hw.console.clone().ok_or_else(|| {
            StepError::error(
                "the profile has a CM4 image, but the fixture has no console port to ask it \
                 (serial_port in the station file)",
            )
        })?;
        let reply = super::console::ask(&path, "version cm4", Duration::from_secs(2))?;
        let want = format!("{} {}", expected.name, expected.version);
        if reply != want {
            return Err(StepError::fail(format!(
                "the CM4 reports {reply:?}, expected {want:?}"
            )));
        }
        Ok(reply)
    }
}

/// Poll the bus for a device until `deadline` passes on the fixture's clock.
pub fn wait_for_device(
    bus: &dyn UsbBus,
    selector: &UsbSelector,
    clock: &dyn Clock,
    deadline: Duration,
) -> Result<Box<dyn UsbControl>, StepError> {
    let start = clock.now();
    loop {
        match bus.open(selector) {
            Ok(pipe) => return Ok(pipe),
            Err(crate::hw::UsbError::NotFound(_)) | Err(crate::hw::UsbError::NoDevice) => {}
            Err(e) => return Err(StepError::error(e.to_string())),
        }
        if clock.now().saturating_sub(start) >= deadline {
            return Err(StepError::fail(format!(
                "USB device {selector} did not enumerate within {deadline:?}: check the USB cable, then retest"
            )));
        }
        clock.sleep(Duration::from_millis(100));
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
