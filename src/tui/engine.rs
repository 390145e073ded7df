//! The engine off the UI thread: each started unit runs `station::run` on its own background
//! thread, and everything it says comes back through one channel, the same events as `--json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use super::app::StartRun;
use crate::config::Station;
use crate::station::{self, Event, RunOptions};

#[derive(Clone, Debug, PartialEq)]
pub enum EngineMessage {
    Event(Event),
    /// An engine run's thread ended; `error` when the engine itself failed.
    RunEnded {
        run: u64,
        error: Option<String>,
    },
}

pub struct EngineRunner {
    station: Arc<Station>,
    operator: String,
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
            operator: operator.into(),
            abort,
            sender,
        };
        (runner, receiver)
    }

    /// Start the run's units on one background thread (detached: it reports through the
    /// channel); returns at once. The engine runs the fixtures in parallel.
    pub fn start(&self, run: &StartRun) {
        let fixtures: Vec<String> = run.units.iter().map(|u| u.fixture.clone()).collect();
        let (station, sender) = (self.station.clone(), self.sender.clone());
        let options = RunOptions {
            units: fixtures.len() as u64,
            operator: self.operator.clone(),
            fixtures,
            abort: self.abort,
            // The TUI has no typed confirmation for RDP level 2 yet: it is never authorised.
            typed_labels: Vec::new(),
        };
        let id = run.id;
        let spawned = std::thread::Builder::new()
            .name(format!("engine-run-{id}"))
            .spawn(move || run_engine(&station, &options, id, sender));
        if let Err(e) = spawned {
            let _ = self.sender.send(EngineMessage::RunEnded {
                run: id,
                error: Some(format!("could not start the engine thread: {e}")),
            });
        }
    }

    /// Running units stop after their current step and close as ABORTED.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }
}

fn run_engine(station: &Station, options: &RunOptions, run: u64, sender: Sender<EngineMessage>) {
    let sink = {
        let sender = sender.clone();
        move |event: Event| {
            let _ = sender.send(EngineMessage::Event(event));
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        station::run(station, options, &sink)
    }));
    let error = match outcome {
        Ok(Ok(_summary)) => None,
        Ok(Err(e)) => Some(e.message),
        Err(panic) => Some(format!("the engine crashed: {}", panic_text(&panic))),
    };
    let _ = sender.send(EngineMessage::RunEnded { run, error });
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
