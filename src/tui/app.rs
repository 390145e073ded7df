//! The TUI's state: pure data, changed only by engine messages (`on_message`), keys
//! (`on_key`, in keys.rs and commands.rs) and the clock (`tick`). Rendering reads it; nothing
//! here touches a terminal or hardware.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::counters::Counters;
use super::fixture::{Caps, FixturePanel};
use super::gate::GoldenGate;
use super::log::{Log, LogKind};
use super::modal::Modal;
use super::rma::RmaUnit;
use super::theme::Theme;
use super::torture::Campaign;
use crate::config::{FixtureBackend, Station};
use crate::error::ExitStatus;
use crate::record::Outcome;
use crate::station::rma::inspect::Via;

/// The screens, switched by F2, F3 and F4. Help (F1) and confirmations draw over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Production: the fixture panels and the scan field.
    Line,
    /// Interrupted-update torture campaigns.
    Torture,
    /// Returned units: inspect, history, recover, retest.
    Rma,
}

impl View {
    /// Only the Line view has a scan field; elsewhere `?` opens the help.
    pub fn has_scan_field(self) -> bool {
        self == View::Line
    }
}

/// Start one unit on a fixture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartRequest {
    pub fixture: String,
    pub label: Option<String>,
    /// The unit's label as a person typed it to authorise RDP level 2 on it.
    pub typed_label: Option<String>,
}

/// One start action: one engine run on a background thread, one unit per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartRun {
    pub id: u64,
    pub units: Vec<StartRequest>,
    /// Test the units the fixtures hold again instead of newly arrived ones.
    pub retest: bool,
    /// The shift's golden-unit check on the unit the fixture holds, instead of production.
    pub golden: bool,
}

/// What the event loop must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// Run these units on the engine, on a background thread.
    Start(StartRun),
    /// Run the torture campaign of this fixture's profile.
    Torture(String),
    /// Inspect the unit on this fixture, and read its history.
    Inspect(String, Via),
    /// Recover the unit on this fixture; `typed` is the label the technician typed.
    Recover {
        fixture: String,
        typed: String,
    },
    /// Write a rework clearance for `unit` (its UID or serial), by the technician `by`.
    ClearRework {
        fixture: String,
        unit: String,
        by: String,
        reason: Option<String>,
    },
    /// The operator named themselves: later work records this name.
    SetOperator(String),
    /// Set the abort flag; quit once the in-flight work has closed as ABORTED.
    Abort,
    /// Quit now.
    Exit,
}

/// Work on a fixture other than a production unit; one at a time per fixture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Torture,
    Inspect,
    Recover,
    Clear,
}

impl Job {
    pub fn words(self) -> &'static str {
        match self {
            Job::Torture => "torture campaign",
            Job::Inspect => "RMA inspection",
            Job::Recover => "RMA recovery",
            Job::Clear => "rework clearance",
        }
    }
}

pub struct App {
    pub station: String,
    pub operator: String,
    pub fixtures: Vec<FixturePanel>,
    /// Index into `fixtures`: the fixture every view works on.
    pub selected: usize,
    /// What the scanner (or the operator) typed since the last Enter.
    pub scan: String,
    pub view: View,
    /// The help is drawn over the view.
    pub help: bool,
    /// A typed confirmation waiting for its answer: it takes every key but quit.
    pub modal: Option<Modal>,
    pub counters: Counters,
    pub log: Log,
    /// One line for the operator: why a key did nothing, or that the station is stopping.
    pub notice: Option<String>,
    /// Quitting: the abort flag is set and in-flight work is closing.
    pub stopping: bool,
    /// Torture campaigns by fixture: the running one, or the last one's result.
    pub campaigns: BTreeMap<String, Campaign>,
    /// What the RMA view knows of each fixture's unit.
    pub rma: BTreeMap<String, RmaUnit>,
    /// The station's golden unit, and whether production waits for its check.
    pub golden: GoldenGate,
    /// Help rows scrolled past (PgUp/PgDn while the help is open).
    pub help_scroll: u16,
    /// The terminal's size at the last frame (columns, rows), once known.
    pub screen: Option<(u16, u16)>,
    jobs: BTreeMap<String, Job>,
    /// Engine runs whose thread has not ended yet.
    runs_in_flight: BTreeSet<u64>,
    next_run: u64,
    pub theme: Theme,
    /// Worst outcome over the session's production units, for the exit code.
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
            help: false,
            modal: None,
            counters: Counters::default(),
            log: Log::default(),
            notice: None,
            stopping: false,
            campaigns: BTreeMap::new(),
            rma: BTreeMap::new(),
            golden: GoldenGate::default(),
            help_scroll: 0,
            screen: None,
            jobs: BTreeMap::new(),
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
        let mut app = Self::new(station.id.clone(), operator, fixtures, theme, now);
        app.golden.uid = station
            .golden
            .as_ref()
            .map(|(uid, _)| uid.to_ascii_uppercase());
        for (panel, fixture) in app.fixtures.iter_mut().zip(&station.fixtures) {
            let profile = station.profile_of(fixture);
            panel.caps = Caps {
                torture: profile.torture.is_some() && fixture.backend == FixtureBackend::Sim,
                permanent_lock: *profile.option_bytes.rdp.get_ref() == 2
                    || profile
                        .unit_data
                        .as_ref()
                        .is_some_and(|u| u.area == crate::config::unit_data::Area::Otp),
            };
        }
        app
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

    pub(super) fn fixture_mut(&mut self, id: &str) -> Option<&mut FixturePanel> {
        self.fixtures.iter_mut().find(|f| f.id == id)
    }

    pub fn selected_fixture(&self) -> Option<&FixturePanel> {
        self.fixtures.get(self.selected)
    }

    /// The torture campaign or RMA work under way on a fixture.
    pub fn job(&self, fixture: &str) -> Option<Job> {
        self.jobs.get(fixture).copied()
    }

    /// Why nothing new may start on `fixture` now, if so.
    pub fn occupied(&self, fixture: &str) -> Option<String> {
        if let Some(job) = self.job(fixture) {
            return Some(format!("{fixture} is busy with a {}", job.words()));
        }
        self.fixture(fixture)
            .filter(|f| f.busy)
            .map(|_| format!("{fixture} is busy with a production unit"))
    }

    /// Units on fixtures, not yet closed.
    pub fn busy_count(&self) -> usize {
        self.fixtures.iter().filter(|f| f.busy).count() + self.jobs.len()
    }

    /// Engine runs still working (their threads have not ended).
    pub fn runs_in_flight(&self) -> usize {
        self.runs_in_flight.len()
    }

    /// Anything running on a background thread: production runs, campaigns, RMA work.
    pub fn working(&self) -> bool {
        !self.runs_in_flight.is_empty() || !self.jobs.is_empty()
    }

    /// Quitting and every background thread has ended.
    pub fn should_exit(&self) -> bool {
        self.stopping && !self.working()
    }

    /// The worst over the session's production units, ranked as for `station run`.
    pub fn exit_status(&self) -> ExitStatus {
        self.exit_status
    }

    pub(super) fn record_outcome(&mut self, outcome: Outcome) {
        self.exit_status = self.exit_status.worst(exit_status_of(outcome));
    }

    pub(super) fn begin_job(&mut self, fixture: &str, job: Job) {
        self.jobs.insert(fixture.to_string(), job);
    }

    pub(super) fn end_job(&mut self, fixture: &str) {
        self.jobs.remove(fixture);
    }

    pub(super) fn run_ended_bookkeeping(&mut self, run: u64) {
        self.runs_in_flight.remove(&run);
    }

    /// Begin quitting: the caller sets the abort flag.
    pub fn begin_stopping(&mut self) {
        if !self.stopping {
            self.stopping = true;
            self.modal = None;
            self.log
                .push(LogKind::Info, "stopping: running work closes as ABORTED");
        }
        self.notice = Some(stopping_notice(self.busy_count()));
    }

    /// Mark the requests' fixtures as started, as one engine run for the caller to start.
    pub(super) fn start(&mut self, units: Vec<StartRequest>, retest: bool) -> StartRun {
        self.start_run(units, retest, false)
    }

    pub(super) fn start_run(
        &mut self,
        units: Vec<StartRequest>,
        retest: bool,
        golden: bool,
    ) -> StartRun {
        let (now, id) = (self.now, self.next_run);
        self.next_run += 1;
        self.runs_in_flight.insert(id);
        self.counters.started(now);
        for request in &units {
            let label = request.label.clone();
            let mut said = match &label {
                Some(l) => format!("label {l}"),
                None => "no scan".to_string(),
            };
            if retest {
                said.push_str(", retest of the unit on the fixture");
            }
            if golden {
                said = "golden-unit check of the unit on the fixture".into();
            }
            if let Some(panel) = self.fixture_mut(&request.fixture) {
                panel.begin(id, label, now);
                panel.golden = golden;
            }
            self.log
                .push(LogKind::Info, format!("{} start, {said}", request.fixture));
        }
        StartRun {
            id,
            units,
            retest,
            golden,
        }
    }
}

pub(super) fn stopping_notice(in_flight: usize) -> String {
    format!("Stopping: {in_flight} job(s) closing as ABORTED · F10 again quits now")
}

pub(super) fn exit_status_of(outcome: Outcome) -> ExitStatus {
    match outcome {
        Outcome::Pass => ExitStatus::Pass,
        Outcome::Fail => ExitStatus::Fail,
        Outcome::Error | Outcome::Timeout => ExitStatus::Station,
        Outcome::Aborted => ExitStatus::Aborted,
    }
}
