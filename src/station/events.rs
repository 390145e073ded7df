//! Events the engine emits while it works. The CLI prints them as JSON lines (`--json`) or as
//! progress; the TUI will read the same stream. See docs/events.md.

use std::sync::Mutex;
use std::sync::mpsc::Sender;

use serde::Serialize;

use super::torture::points::{CutMode, Point};
use crate::chip::BootOutcome;
use crate::record::Outcome;

pub const EVENTS_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    StepStarted {
        fixture: String,
        unit: u64,
        step: String,
    },
    Progress {
        fixture: String,
        unit: u64,
        step: String,
        phase: String,
        done: u64,
        total: u64,
    },
    StepFinished {
        fixture: String,
        unit: u64,
        step: String,
        outcome: Outcome,
        /// Seconds on the fixture's clock (virtual on the virtual bench).
        duration_s: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    UnitFinished {
        fixture: String,
        unit: u64,
        serial: String,
        outcome: Outcome,
        record: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
    /// A torture campaign is calibrated: the cut points it visits, in order.
    TorturePlanned {
        fixture: String,
        unit: u64,
        /// Operations of a clean update: the host's DFU plan, and flash operations (the
        /// device's own included). Host modes index the first, power modes the second.
        plan_operations: u64,
        flash_operations: u64,
        points: Vec<Point>,
    },
    /// One cut point's result (also for points an interrupted campaign had already run).
    TorturePoint {
        fixture: String,
        unit: u64,
        mode: CutMode,
        index: u64,
        /// What was cut, in words.
        operation: String,
        outcome: BootOutcome,
        /// A complete update without SWD brought the new image up afterwards.
        recovered: bool,
        /// The point leaves the unit beyond a field update.
        bricks: bool,
        /// Read from the journal of an interrupted campaign, not run again.
        resumed: bool,
        done: u64,
        total: u64,
    },
}

/// One JSON object per line, with the schema version in every line.
pub fn to_json_line(event: &Event) -> String {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("schema_version".into(), EVENTS_SCHEMA_VERSION.into());
    }
    value.to_string()
}

/// Where events go. Implemented for channels and closures.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

impl EventSink for Mutex<Sender<Event>> {
    fn emit(&self, event: Event) {
        let _ = self.lock().map(|s| s.send(event));
    }
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}

/// How a step or a unit ended, read from its event: what every front end shows of it, each in
/// its own layout (the engine prints nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finished<'a> {
    pub fixture: &'a str,
    pub unit: u64,
    pub outcome: Outcome,
    /// The step's error, the unit's failure.
    pub failure: Option<&'a str>,
    pub of: FinishedOf<'a>,
}

/// What ended: a step (its name and time) or the unit (its serial and record).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FinishedOf<'a> {
    Step { step: &'a str, duration_s: f64 },
    Unit { serial: &'a str, record: &'a str },
}

impl Event {
    /// The end of a step or a unit; None for any other event.
    pub fn finished(&self) -> Option<Finished<'_>> {
        let (fixture, unit, outcome, failure, of) = match self {
            Event::StepFinished {
                fixture,
                unit,
                step,
                outcome,
                duration_s,
                error,
            } => {
                let of = FinishedOf::Step {
                    step,
                    duration_s: *duration_s,
                };
                (fixture, unit, outcome, error, of)
            }
            Event::UnitFinished {
                fixture,
                unit,
                serial,
                outcome,
                record,
                failure,
            } => (
                fixture,
                unit,
                outcome,
                failure,
                FinishedOf::Unit { serial, record },
            ),
            _ => return None,
        };
        Some(Finished {
            fixture,
            unit: *unit,
            outcome: *outcome,
            failure: failure.as_deref(),
            of,
        })
    }
}
