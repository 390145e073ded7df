//! One unit on a fixture and the steps it goes through: the production order (attach,
//! identify, traceability, bootloader over SWD, unit data, option bytes, DFU download, confirm
//! the application, console tests), the golden-unit check, and the guaranteed teardown. The
//! steps themselves live beside this file, one file per kind of work; the harness that runs
//! each one is `station::step`.

mod application;
mod data;
mod options;
mod swd;

use std::time::Duration;

use super::events::{Event, EventSink};
use super::gates::UnitGates;
use super::images::UnitImages;
use super::step::{StepContext, StepError, StepOutput, StepRun};
use crate::config::{Fixture, Profile};
use crate::hw::{AttachMode, Clock, FixtureHw, ResetKind};
use crate::record::{DeviceInfo, Outcome, StepRecord};

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
    pub gates: Option<&'a UnitGates<'a>>,
    /// This unit's production attempt, once the checks know it.
    pub attempt: Option<u32>,
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
            unit: hw.bench.as_ref().map_or(0, |b| b.number()),
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

    /// One step under the harness (`step::run`). Returns false when the unit is done.
    pub fn step(
        &mut self,
        name: &str,
        body: impl FnMut(&mut Self) -> Result<StepOutput, StepError>,
    ) -> bool {
        super::step::run(self, name, body)
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
        if self.scanned_label.is_none() {
            self.scanned_label = gates.known_label(&uid);
        }
        let mut out = StepOutput::default();
        out.details.insert("attempt".into(), found.attempt.into());
        out.details
            .insert("failures_since_clearance".into(), found.failures.into());
        if let Some(label) = &self.scanned_label {
            out.details.insert("label".into(), label.clone().into());
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
}

impl StepRun for UnitRun<'_> {
    fn context(&self, step: &str) -> StepContext {
        StepContext {
            clock: self.clock(),
            fixture: self.fixture.id.clone(),
            unit: self.unit,
            failed: self.failure.is_some(),
            stopping: self.stopping(),
            ..StepContext::of(self.profile, step)
        }
    }

    fn emit(&self, event: Event) {
        self.sink.emit(event);
    }

    fn record(&mut self, step: StepRecord) {
        self.steps.push(step);
        if let Some(journal) = &self.journal {
            journal(&self.steps, self.device.as_ref());
        }
    }

    fn fail(&mut self, why: (Outcome, String)) {
        self.failure = Some(why);
    }
}
