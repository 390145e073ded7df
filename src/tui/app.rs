//! The TUI's state: pure data, changed only by engine events (`on_event`, `on_run_ended`),
//! keys (`on_key`, in keys.rs) and the clock (`tick`). Rendering reads it; nothing here
//! touches a terminal or hardware.

use std::collections::BTreeSet;
use std::time::Instant;

use super::counters::Counters;
use super::engine::EngineMessage;
use super::fixture::{FixturePanel, Progress, Verdict};
use super::log::{Log, LogKind};
use super::theme::Theme;
use crate::config::Station;
use crate::error::ExitStatus;
use crate::record::Outcome;
use crate::station::Event;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Line,
    Help,
}

/// Start one unit on a fixture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartRequest {
    pub fixture: String,
    pub label: Option<String>,
}

/// One start action: one engine run on a background thread, one unit per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartRun {
    pub id: u64,
    pub units: Vec<StartRequest>,
}

/// What the event loop must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// Run these units on the engine, on a background thread.
    Start(StartRun),
    /// Set the abort flag; quit once the in-flight units have closed as ABORTED.
    Abort,
    /// Quit now.
    Exit,
}

pub struct App {
    pub station: String,
    pub operator: String,
    pub fixtures: Vec<FixturePanel>,
    /// Index into `fixtures`.
    pub selected: usize,
    /// What the scanner (or the operator) typed since the last Enter.
    pub scan: String,
    pub view: View,
    pub counters: Counters,
    pub log: Log,
    /// One line for the operator: why a key did nothing, or that the station is stopping.
    pub notice: Option<String>,
    /// Quitting: the abort flag is set and in-flight units are closing.
    pub stopping: bool,
    /// Engine runs whose thread has not ended yet.
    runs_in_flight: BTreeSet<u64>,
    next_run: u64,
    pub theme: Theme,
    /// Worst outcome over the session's units, for the exit code.
    exit_status: ExitStatus,
    now: Instant,
}

impl App {
    /// `fixtures` are (fixture id, profile name) pairs, in panel order.
    pub fn new(
        station: impl Into<String>,
        operator: impl Into<String>,
        fixtures: Vec<(String, String)>,
        theme: Theme,
        now: Instant,
    ) -> Self {
        Self {
            station: station.into(),
            operator: operator.into(),
            fixtures: fixtures
                .into_iter()
                .map(|(id, profile)| FixturePanel::new(id, profile))
                .collect(),
            selected: 0,
            scan: String::new(),
            view: View::Line,
            counters: Counters::default(),
            log: Log::default(),
            notice: None,
            stopping: false,
            runs_in_flight: BTreeSet::new(),
            next_run: 1,
            theme,
            exit_status: ExitStatus::Pass,
            now,
        }
    }

    pub fn for_station(station: &Station, operator: &str, theme: Theme, now: Instant) -> Self {
        let fixtures = station
            .fixtures
            .iter()
            .map(|f| (f.id.clone(), station.profile_of(f).name.clone()))
            .collect();
        Self::new(station.id.clone(), operator, fixtures, theme, now)
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    pub fn fixture(&self, id: &str) -> Option<&FixturePanel> {
        self.fixtures.iter().find(|f| f.id == id)
    }

    fn fixture_mut(&mut self, id: &str) -> Option<&mut FixturePanel> {
        self.fixtures.iter_mut().find(|f| f.id == id)
    }

    pub fn selected_fixture(&self) -> Option<&FixturePanel> {
        self.fixtures.get(self.selected)
    }

    /// Units on fixtures, not yet closed.
    pub fn busy_count(&self) -> usize {
        self.fixtures.iter().filter(|f| f.busy).count()
    }

    /// Engine runs still working (their threads have not ended).
    pub fn runs_in_flight(&self) -> usize {
        self.runs_in_flight.len()
    }

    /// Quitting and every engine run has ended.
    pub fn should_exit(&self) -> bool {
        self.stopping && self.runs_in_flight.is_empty()
    }

    /// The worst over the session's units, ranked as for `station run`.
    pub fn exit_status(&self) -> ExitStatus {
        self.exit_status
    }

    pub fn on_message(&mut self, message: &EngineMessage) {
        match message {
            EngineMessage::Event(event) => self.on_event(event),
            EngineMessage::RunEnded { run, error } => self.on_run_ended(*run, error.as_deref()),
        }
    }

    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::StepStarted {
                fixture,
                unit,
                step,
            } => {
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.step_started(*unit, step);
                }
            }
            Event::Progress {
                fixture,
                unit,
                step,
                phase,
                done,
                total,
            } => {
                let progress = Progress {
                    phase: phase.clone(),
                    done: *done,
                    total: *total,
                };
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.progressed(*unit, step, progress);
                }
            }
            Event::StepFinished {
                fixture,
                unit,
                step,
                outcome,
                duration_s,
                error,
            } => {
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.step_finished(step, *outcome, *duration_s);
                }
                let why = error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                self.log.push(
                    LogKind::Outcome(*outcome),
                    format!("{fixture} #{unit} {step} {outcome} {duration_s:.2} s{why}"),
                );
            }
            Event::UnitFinished {
                fixture,
                unit,
                serial,
                outcome,
                record,
                failure,
            } => self.unit_finished(fixture, *unit, serial, *outcome, record, failure),
        }
    }

    fn unit_finished(
        &mut self,
        fixture: &str,
        unit: u64,
        serial: &str,
        outcome: Outcome,
        record: &str,
        failure: &Option<String>,
    ) {
        let now = self.now;
        let verdict = Verdict {
            outcome,
            failure: failure.clone(),
        };
        if let Some(panel) = self.fixture_mut(fixture) {
            panel.unit_finished(unit, serial, verdict, record, now);
        }
        self.counters.unit_finished(serial, outcome);
        self.exit_status = self.exit_status.worst(exit_status_of(outcome));
        self.log.push(
            LogKind::Outcome(outcome),
            format!("{fixture} #{unit} unit {outcome} {serial} record {record}"),
        );
    }

    /// Engine run `run` ended; `error` when the engine failed. Its units that closed no
    /// record get a verdict here.
    pub fn on_run_ended(&mut self, run: u64, error: Option<&str>) {
        self.runs_in_flight.remove(&run);
        let fallback = match error {
            Some(e) => Verdict {
                outcome: Outcome::Error,
                failure: Some(e.trim_start_matches("error: ").to_string()),
            },
            None if self.stopping => Verdict {
                outcome: Outcome::Aborted,
                failure: Some("stopped before the unit started".into()),
            },
            None => Verdict {
                outcome: Outcome::Error,
                failure: Some("the engine ended without a result".into()),
            },
        };
        let now = self.now;
        let mut made_up = Vec::new();
        for panel in &mut self.fixtures {
            if let Some(outcome) = panel
                .run_ended(run, fallback.clone(), now)
                .map(|v| v.outcome)
            {
                made_up.push((panel.id.clone(), outcome));
            }
        }
        let why = fallback.failure.unwrap_or_default();
        for (fixture, outcome) in made_up {
            self.exit_status = self.exit_status.worst(exit_status_of(outcome));
            self.log.push(
                LogKind::Outcome(outcome),
                format!("{fixture} {outcome}: {why}"),
            );
        }
        if self.stopping {
            self.notice = Some(stopping_notice(self.busy_count()));
        }
    }

    /// Begin quitting: the caller sets the abort flag.
    pub fn begin_stopping(&mut self) {
        if !self.stopping {
            self.stopping = true;
            self.log
                .push(LogKind::Info, "stopping: running units close as ABORTED");
        }
        self.notice = Some(stopping_notice(self.busy_count()));
    }

    /// Mark the requests' fixtures as started, as one engine run for the caller to start.
    pub(super) fn start(&mut self, units: Vec<StartRequest>) -> StartRun {
        let (now, id) = (self.now, self.next_run);
        self.next_run += 1;
        self.runs_in_flight.insert(id);
        self.counters.started(now);
        for request in &units {
            let label = request.label.clone();
            let said = match &label {
                Some(l) => format!("label {l}"),
                None => "no scan".to_string(),
            };
            if let Some(panel) = self.fixture_mut(&request.fixture) {
                panel.begin(id, label, now);
            }
            self.log
                .push(LogKind::Info, format!("{} start, {said}", request.fixture));
        }
        StartRun { id, units }
    }
}

fn stopping_notice(in_flight: usize) -> String {
    format!("Stopping: {in_flight} unit(s) closing as ABORTED · F10 again quits now")
}

fn exit_status_of(outcome: Outcome) -> ExitStatus {
    match outcome {
        Outcome::Pass => ExitStatus::Pass,
        Outcome::Fail => ExitStatus::Fail,
        Outcome::Error | Outcome::Timeout => ExitStatus::Station,
        Outcome::Aborted => ExitStatus::Aborted,
    }
}
