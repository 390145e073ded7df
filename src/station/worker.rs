//! Each unit runs on its own thread under a real-time watchdog. The virtual clock never times
//! out a fixture that hangs (a probe call that never returns, a stuck USB transfer), so the
//! fixture's worker waits for its unit with a wall-clock deadline: when it passes, the unit
//! is closed as TIMEOUT from what its journal says was done, and the fixture takes no more
//! units. A panic in a unit closes it as ERROR the same way. The other fixtures never wait.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;

use super::events::{Event, EventSink};
use super::images::UnitImages;
use crate::config::Station;
use crate::error::StationError;
use crate::record::{Outcome, Record, RecordStore};

/// (fixture, serial, outcome, record path)
pub type UnitResult = (String, String, Outcome, PathBuf);

/// Set when the station quits with units in flight (the TUI's F10 twice): every watched unit
/// is closed as ABORTED at once from its journal, instead of staying open until its fixture
/// next runs.
static QUIT_NOW: AtomicBool = AtomicBool::new(false);

/// Close every unit in flight as ABORTED now (its thread may still be in a step).
pub fn quit_now() {
    QUIT_NOW.store(true, Ordering::SeqCst);
}

/// How often a watcher looks at `QUIT_NOW` while its unit runs.
const QUIT_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// One unit on its fixture, start to record, on the unit's thread.
pub type RunUnit = fn(&UnitJob, &Live, &dyn EventSink) -> Result<UnitResult, StationError>;

/// Everything a unit's thread owns.
pub struct UnitJob {
    pub station: Arc<Station>,
    pub fixture: String,
    pub images: Arc<UnitImages>,
    pub store: RecordStore,
    pub operator: String,
    pub abort: &'static AtomicBool,
    pub typed_labels: Vec<String>,
    pub retest: bool,
    pub golden: bool,
    /// The label scanned for this unit.
    pub label: Option<String>,
}

/// What a unit's thread shares with the worker watching it.
#[derive(Default)]
pub struct Live {
    /// Set by the watchdog: the unit stops before its next step.
    pub cancel: Arc<AtomicBool>,
    closed: AtomicBool,
    /// The journal key, unit number and latest provisional record.
    state: Mutex<Option<(String, u64, Record)>>,
}

impl Live {
    pub fn begin(&self, key: &str, unit: u64, record: &Record) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((key.to_string(), unit, record.clone()));
    }

    pub fn update(&self, record: &Record) {
        if let Some(state) = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            state.2 = record.clone();
        }
    }

    /// True for whichever of the unit and the watchdog asks first: that one writes the record.
    pub fn take_close(&self) -> bool {
        !self.closed.swap(true, Ordering::SeqCst)
    }

    fn snapshot(&self) -> Option<(String, u64, Record)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

enum Message {
    Event(Event),
    Done(Result<UnitResult, StationError>),
}

struct ChannelSink(Sender<Message>);

impl EventSink for ChannelSink {
    fn emit(&self, event: Event) {
        let _ = self.0.send(Message::Event(event));
    }
}

/// Run `job` on its own thread and wait for it, at most the station's watchdog time. Returns
/// its result, and whether the fixture hung (its unit thread may still be running).
/// `run` takes the unit from start to record (`production::run_unit`).
pub fn run_watched(
    job: UnitJob,
    run: RunUnit,
    sink: &dyn EventSink,
) -> (Result<UnitResult, StationError>, bool) {
    let live = Arc::new(Live::default());
    let (tx, rx) = mpsc::channel();
    let watchdog = job.station.watchdog;
    let store = job.store.clone();
    let thread_live = live.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("unit-{}", job.fixture))
        .spawn(move || {
            let events = ChannelSink(tx.clone());
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&job, &thread_live, &events)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                Err(StationError::station(format!(
                    "internal error in the unit's worker: {what}"
                )))
            });
            let _ = tx.send(Message::Done(result));
        });
    if let Err(e) = spawned {
        let error = StationError::station(format!("cannot start a unit's thread: {e}"));
        return (Err(error), false);
    }
    let deadline = Instant::now() + watchdog;
    let mut step = String::from("(before the first step)");
    let mut hung = false;
    loop {
        let message = if hung {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(QUIT_CHECK),
            )
        };
        match message {
            Ok(Message::Event(event)) => {
                if let Event::StepStarted { step: s, .. } = &event {
                    step = s.clone();
                }
                sink.emit(event);
            }
            Ok(Message::Done(Ok(result))) => return (Ok(result), false),
            // An error after the unit began (a panic, a record that could not be written):
            // close it from its journal so it never stays open.
            Ok(Message::Done(Err(error))) => {
                let closed = match close(&live, &store, sink, Outcome::Error, &error.message) {
                    Closed::Written(r) => Ok(r),
                    _ => Err(error),
                };
                return (closed, false);
            }
            Err(RecvTimeoutError::Timeout) if QUIT_NOW.load(Ordering::SeqCst) => {
                live.cancel.store(true, Ordering::SeqCst);
                let why = format!(
                    "the station was quit during step {step}: the unit was not finished; retest it"
                );
                match close(&live, &store, sink, Outcome::Aborted, &why) {
                    Closed::Written(closed) => return (Ok(closed), true),
                    Closed::Failed(e) => {
                        return (Err(StationError::aborted(format!("{why}; {e}"))), true);
                    }
                    Closed::ByTheUnit => hung = true,
                }
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(RecvTimeoutError::Timeout) => {
                live.cancel.store(true, Ordering::SeqCst);
                let why = format!(
                    "the fixture hung in step {step} for more than {:.0} s of real time (the \
                     station's watchdog_s): check its probe, USB and power connections, then \
                     restart the station to use this fixture again",
                    watchdog.as_secs_f64()
                );
                match close(&live, &store, sink, Outcome::Timeout, &why) {
                    Closed::Written(closed) => return (Ok(closed), true),
                    Closed::Failed(e) => {
                        return (Err(StationError::station(format!("{why}; {e}"))), true);
                    }
                    // The unit is writing its own record right now: wait for it.
                    Closed::ByTheUnit => hung = true,
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let why = "the unit's worker stopped without a result";
                let closed = match close(&live, &store, sink, Outcome::Error, why) {
                    Closed::Written(r) => Ok(r),
                    _ => Err(StationError::station(why)),
                };
                return (closed, false);
            }
        }
    }
}

enum Closed {
    Written(UnitResult),
    /// The unit thread writes (or wrote) its own record.
    ByTheUnit,
    Failed(String),
}

/// Write the unit's record from its latest journal state, unless the unit thread has taken
/// (or already written) it.
fn close(
    live: &Live,
    store: &RecordStore,
    sink: &dyn EventSink,
    outcome: Outcome,
    why: &str,
) -> Closed {
    let Some((key, unit, mut record)) = live.snapshot() else {
        return Closed::Failed("the unit had not started".into());
    };
    if !live.take_close() {
        return Closed::ByTheUnit;
    }
    record.outcome = outcome;
    record.failure = Some(why.to_string());
    record.ended_at = Utc::now().max(record.started_at);
    let path = match store.write(&record) {
        Ok(path) => path,
        // The journal stays: the next start closes the unit as ABORTED.
        Err(e) => return Closed::Failed(format!("writing its record: {e}")),
    };
    store.clear_journal(&key);
    sink.emit(Event::UnitFinished {
        fixture: record.fixture.clone(),
        unit,
        serial: record.serial.clone(),
        outcome,
        record: path.display().to_string(),
        failure: record.failure.clone(),
    });
    Closed::Written((record.fixture, record.serial, outcome, path))
}
