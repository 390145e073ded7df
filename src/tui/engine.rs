//! The engine off the UI thread: every start action, campaign and RMA action runs on its own
//! background thread, and everything it says comes back through one channel: the engine's
//! events (the same as `--json`), how each piece of work ended, and what the records add
//! (cycles, attempts, the golden-unit gate).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

use super::app::{Action, StartRun};
use super::jobs::{self, Survey};
use super::rma::{JobEnd, UnitHistory, UnitView};
use super::torture::CampaignEnd;
use crate::config::Station;
use crate::station::rma::inspect::Via;
use crate::station::{self, Event, RunOptions};

#[derive(Clone, Debug, PartialEq)]
pub enum EngineMessage {
    Event(Event),
    /// An engine run's thread ended; `error` when the engine itself failed.
    RunEnded {
        run: u64,
        error: Option<String>,
    },
    /// A torture campaign ended, with its record or without one.
    TortureEnded {
        fixture: String,
        end: CampaignEnd,
    },
    /// An inspection of the unit on a fixture, with its history.
    Inspected {
        fixture: String,
        result: Result<UnitView, String>,
    },
    /// A recovery ended; `after` is the unit inspected again once it did.
    Recovered {
        fixture: String,
        end: JobEnd,
        after: Option<Result<UnitView, String>>,
    },
    /// A rework clearance ended; `history` is the unit's history after it.
    Cleared {
        fixture: String,
        end: JobEnd,
        history: Option<Result<UnitHistory, String>>,
    },
    /// What the records say of the station, at start and after each engine run.
    Surveyed(Survey),
    /// Production was refused before any unit started: it waits for the golden unit.
    RunRefused {
        run: u64,
        why: String,
    },
    /// A unit's record was written: its production attempt and the fixture's cycles.
    UnitRecorded {
        fixture: String,
        unit: u64,
        attempt: Option<u32>,
        cycles: Option<u64>,
    },
}

/// A background thread's way back: the engine's events, each unit's record read as it is
/// written, and any other message.
struct Reporter {
    sender: Sender<EngineMessage>,
}

impl Reporter {
    fn send(&self, message: EngineMessage) {
        let _ = self.sender.send(message);
    }
}

impl station::EventSink for Reporter {
    fn emit(&self, event: Event) {
        let recorded = match &event {
            Event::UnitFinished {
                fixture,
                unit,
                record,
                ..
            } => jobs::recorded(fixture, *unit, record),
            _ => None,
        };
        self.send(EngineMessage::Event(event));
        if let Some(message) = recorded {
            self.send(message);
        }
    }
}

pub struct EngineRunner {
    station: Arc<Station>,
    /// Set once the operator names themselves when the station requires it.
    operator: Mutex<String>,
    abort: &'static AtomicBool,
    sender: Sender<EngineMessage>,
}

impl EngineRunner {
    pub fn new(
        station: Arc<Station>,
        operator: impl Into<String>,
        abort: &'static AtomicBool,
    ) -> (Self, Receiver<EngineMessage>) {
        let (sender, receiver) = channel();
        let runner = Self {
            station,
            operator: Mutex::new(operator.into()),
            abort,
            sender,
        };
        (runner, receiver)
    }

    /// Do what a key asked for; returns at once, the work reports through the channel.
    pub fn perform(&self, action: &Action) {
        match action {
            Action::None => {}
            Action::Start(run) => self.start(run),
            Action::Torture(fixture) => self.torture(fixture),
            Action::Inspect(fixture, via) => self.inspect(fixture, *via),
            Action::Recover { fixture, typed } => self.recover(fixture, typed),
            Action::ClearRework {
                fixture,
                unit,
                by,
                reason,
            } => self.clear_rework(fixture, unit, by, reason.as_deref()),
            Action::SetOperator(name) => {
                *self.operator.lock().unwrap_or_else(PoisonError::into_inner) = name.clone()
            }
            Action::Abort | Action::Exit => self.abort(),
        }
    }

    fn operator(&self) -> String {
        self.operator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Read the fixtures' cycles and the golden-unit gate from the records, off the UI thread.
    pub fn survey(&self) {
        let ended = EngineMessage::Surveyed;
        self.spawn("survey".into(), ended, |station, _| jobs::survey(station));
    }

    /// Start the run's units on one background thread; the engine runs the fixtures in
    /// parallel.
    pub fn start(&self, run: &StartRun) {
        let fixtures: Vec<String> = run.units.iter().map(|u| u.fixture.clone()).collect();
        let options = RunOptions {
            units: fixtures.len() as u64,
            operator: self.operator(),
            fixtures,
            abort: self.abort,
            typed_labels: run
                .units
                .iter()
                .filter_map(|u| u.typed_label.clone())
                .collect(),
            retest: run.retest,
            labels: run
                .units
                .iter()
                .filter_map(|u| Some((u.fixture.clone(), u.label.clone()?)))
                .collect(),
            golden: run.golden,
        };
        let id = run.id;
        let ended = move |error| EngineMessage::RunEnded { run: id, error };
        self.spawn(
            format!("engine-run-{id}"),
            ended,
            move |station, reporter| {
                // Refused before anything starts: the fixtures stay free, the view says why.
                if let Some(why) = (!options.golden)
                    .then(|| jobs::golden_waiting(station))
                    .flatten()
                {
                    reporter.send(EngineMessage::RunRefused { run: id, why });
                    return None;
                }
                let error = station::run(station, &options, reporter)
                    .err()
                    .map(|e| e.message);
                reporter.send(EngineMessage::Surveyed(jobs::survey(station)));
                error
            },
        );
    }

    pub fn torture(&self, fixture: &str) {
        let (id, operator, abort) = (fixture.to_string(), self.operator(), self.abort);
        let ended = {
            let fixture = id.clone();
            move |end| EngineMessage::TortureEnded { fixture, end }
        };
        self.spawn(format!("torture-{id}"), ended, move |station, sink| {
            jobs::torture(station, &id, operator, abort, sink)
        });
    }

    pub fn inspect(&self, fixture: &str, via: Via) {
        let id = fixture.to_string();
        let ended = {
            let fixture = id.clone();
            move |result| EngineMessage::Inspected { fixture, result }
        };
        self.spawn(format!("inspect-{id}"), ended, move |station, _| {
            jobs::inspect(station, &id, via)
        });
    }

    pub fn recover(&self, fixture: &str, typed: &str) {
        let (id, typed) = (fixture.to_string(), typed.to_string());
        let (operator, abort) = (self.operator(), self.abort);
        let ended = {
            let fixture = id.clone();
            move |(end, after)| EngineMessage::Recovered {
                fixture,
                end,
                after,
            }
        };
        self.spawn(format!("recover-{id}"), ended, move |station, sink| {
            jobs::recover(station, &id, &typed, operator, abort, sink)
        });
    }

    pub fn clear_rework(&self, fixture: &str, unit: &str, by: &str, reason: Option<&str>) {
        let (id, unit, by) = (fixture.to_string(), unit.to_string(), by.to_string());
        let reason = reason.map(str::to_string);
        let ended = {
            let fixture = id.clone();
            move |(end, history)| EngineMessage::Cleared {
                fixture,
                end,
                history,
            }
        };
        self.spawn(format!("rework-{id}"), ended, move |station, _| {
            jobs::clear_rework(station, &unit, &by, reason.as_deref())
        });
    }

    /// Running work stops after its current step (or cut point) and closes as ABORTED.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    /// Run `work` on a named background thread; its events and then `ended(result)` go to
    /// the channel. A crash, or a thread that could not start, becomes a failed result.
    fn spawn<T: jobs::Crashable + 'static>(
        &self,
        name: String,
        ended: impl FnOnce(T) -> EngineMessage + Clone + Send + 'static,
        work: impl FnOnce(&Station, &Reporter) -> T + Send + 'static,
    ) {
        let (station, sender) = (self.station.clone(), self.sender.clone());
        let never_ran = ended.clone();
        let body = move || {
            let reporter = Reporter {
                sender: sender.clone(),
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                work(&station, &reporter)
            }))
            .unwrap_or_else(|panic| T::crashed(panic_text(&panic)));
            let _ = sender.send(ended(result));
        };
        if let Err(e) = std::thread::Builder::new().name(name).spawn(body) {
            let why = format!("could not start a background thread: {e}");
            let _ = self.sender.send(never_ran(T::crashed(why)));
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
