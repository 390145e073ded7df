//! What one fixture's panel knows: the unit on it, its step and progress, and the verdict of
//! its last unit, which stays until the next start.

use std::time::{Duration, Instant};

use crate::record::Outcome;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// 0.0 ..= 1.0.
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The engine's failure text ("step: message") when the unit did not pass.
    pub failure: Option<String>,
}

/// What a fixture's profile allows or asks for beyond a plain production run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// A simulated fixture whose profile has a `[torture]` section.
    pub torture: bool,
    /// The profile does something irreversible (RDP level 2, OTP unit data): each start needs
    /// the unit's label typed.
    pub permanent_lock: bool,
}

/// Where a panel stands, for rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelState {
    /// Never started in this session.
    Ready,
    /// Started, no event yet.
    Starting,
    Running,
    /// The last unit's verdict is shown.
    Done,
}

#[derive(Clone, Debug)]
pub struct FixturePanel {
    pub id: String,
    pub profile: String,
    pub caps: Caps,
    /// A unit is on the fixture: from its start until its record is written (or its engine
    /// run ends without one).
    pub busy: bool,
    /// The engine run (one per start action) the current unit belongs to.
    pub run: Option<u64>,
    /// The scanned label; the engine records it and binds it to the chip.
    pub label: Option<String>,
    /// The unit is the shift's golden-unit check, not production.
    pub golden: bool,
    /// Units the fixture has been given, in all sessions (its records' `fixture_cycles`, the
    /// store's unit counter): pogo pins and cables wear with them.
    pub cycles: Option<u64>,
    /// The unit's production attempt, from its record.
    pub attempt: Option<u32>,
    pub unit: Option<u64>,
    /// Known once the unit's record is written.
    pub serial: Option<String>,
    pub step: Option<String>,
    pub progress: Option<Progress>,
    /// The unit's finished steps, in order: name, outcome, seconds on the fixture's clock.
    pub finished_steps: Vec<(String, Outcome, f64)>,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    pub verdict: Option<Verdict>,
    /// Where the unit's record was written.
    pub record: Option<String>,
}

impl FixturePanel {
    pub fn new(id: impl Into<String>, profile: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            profile: profile.into(),
            caps: Caps::default(),
            busy: false,
            run: None,
            label: None,
            golden: false,
            cycles: None,
            attempt: None,
            unit: None,
            serial: None,
            step: None,
            progress: None,
            finished_steps: Vec::new(),
            started_at: None,
            finished_at: None,
            verdict: None,
            record: None,
        }
    }

    pub fn state(&self) -> PanelState {
        match (self.busy, &self.verdict, self.unit) {
            (_, Some(_), _) => PanelState::Done,
            (true, None, None) => PanelState::Starting,
            (true, None, Some(_)) => PanelState::Running,
            (false, None, _) => PanelState::Ready,
        }
    }

    /// A new unit starts: the previous verdict goes.
    pub fn begin(&mut self, run: u64, label: Option<String>, now: Instant) {
        *self = Self {
            caps: self.caps,
            cycles: self.cycles,
            busy: true,
            run: Some(run),
            label,
            started_at: Some(now),
            ..Self::new(
                std::mem::take(&mut self.id),
                std::mem::take(&mut self.profile),
            )
        };
    }

    /// The engine numbers a fixture's units with its cycle counter.
    fn note_unit(&mut self, unit: u64) {
        self.unit = Some(unit);
        self.note_cycles(unit);
    }

    pub fn note_cycles(&mut self, cycles: u64) {
        if cycles > 0 {
            self.cycles = Some(self.cycles.unwrap_or(0).max(cycles));
        }
    }

    /// What the unit's record adds: its attempt, the fixture's cycles.
    pub fn recorded(&mut self, unit: u64, attempt: Option<u32>, cycles: Option<u64>) {
        if self.unit == Some(unit) {
            self.attempt = attempt;
        }
        self.note_cycles(cycles.unwrap_or(0));
    }

    /// A start the engine refused before any unit began: the fixture is as it was, free.
    pub fn withdraw(&mut self) {
        self.busy = false;
        self.run = None;
        self.label = None;
        self.golden = false;
        self.started_at = None;
    }

    pub fn step_started(&mut self, unit: u64, step: &str) {
        self.note_unit(unit);
        self.step = Some(step.to_string());
        self.progress = None;
    }

    pub fn progressed(&mut self, unit: u64, step: &str, progress: Progress) {
        self.note_unit(unit);
        if self.step.as_deref() != Some(step) {
            self.step = Some(step.to_string());
        }
        self.progress = Some(progress);
    }

    pub fn step_finished(&mut self, step: &str, outcome: Outcome, duration_s: f64) {
        self.finished_steps
            .push((step.to_string(), outcome, duration_s));
        self.progress = None;
    }

    pub fn unit_finished(
        &mut self,
        unit: u64,
        serial: &str,
        verdict: Verdict,
        record: &str,
        now: Instant,
    ) {
        self.busy = false;
        self.note_unit(unit);
        self.serial = Some(serial.to_string());
        self.record = Some(record.to_string());
        self.verdict = Some(verdict);
        self.progress = None;
        self.finished_at = Some(now);
    }

    /// Engine run `run` ended. When this panel's unit belongs to it and got no verdict (the
    /// engine failed, or stopped before the unit started), `fallback` becomes its verdict and
    /// is returned.
    pub fn run_ended(&mut self, run: u64, fallback: Verdict, now: Instant) -> Option<&Verdict> {
        if self.run != Some(run) || self.verdict.is_some() {
            return None;
        }
        self.busy = false;
        self.progress = None;
        self.verdict = Some(fallback);
        self.finished_at = Some(now);
        self.verdict.as_ref()
    }

    /// From the start to the verdict, or to `now` while it runs.
    pub fn elapsed(&self, now: Instant) -> Option<Duration> {
        let start = self.started_at?;
        Some(
            self.finished_at
                .unwrap_or(now)
                .saturating_duration_since(start),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_start_clears_the_last_verdict_and_keeps_the_identity() {
        let now = Instant::now();
        let mut p = FixturePanel::new("sim-1", "f407-demo");
        p.begin(1, Some("A1".into()), now);
        p.step_started(3, "attach");
        let pass = Verdict {
            outcome: Outcome::Pass,
            failure: None,
        };
        p.unit_finished(3, "UID-1", pass, "r.json", now);
        assert_eq!(p.state(), PanelState::Done);
        p.begin(2, None, now);
        assert_eq!(p.state(), PanelState::Starting);
        assert_eq!((p.id.as_str(), p.profile.as_str()), ("sim-1", "f407-demo"));
        assert!(p.verdict.is_none() && p.serial.is_none());
        assert_eq!(p.cycles, Some(3), "the fixture's cycles stay");
    }

    #[test]
    fn cycles_only_grow_and_the_attempt_is_the_units_own() {
        let mut p = FixturePanel::new("sim-1", "f407-demo");
        p.note_cycles(40);
        p.step_started(12, "attach");
        assert_eq!(p.cycles, Some(40));
        p.recorded(11, Some(3), Some(41));
        assert_eq!((p.cycles, p.attempt), (Some(41), None));
        p.recorded(12, Some(2), None);
        assert_eq!(p.attempt, Some(2));
    }
}
