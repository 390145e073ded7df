//! Engine messages into the App: events routed by what runs on their fixture (a production
//! unit, a torture campaign or an RMA recovery), the production side of them, and how each
//! piece of work ended.

use super::app::{App, Job, stopping_notice};
use super::engine::EngineMessage;
use super::fixture::{Progress, Verdict};
use super::log::LogKind;
use crate::record::Outcome;
use crate::station::Event;
use crate::station::events::{Finished, FinishedOf};

fn fixture_of(event: &Event) -> &str {
    match event {
        Event::StepStarted { fixture, .. }
        | Event::Progress { fixture, .. }
        | Event::StepFinished { fixture, .. }
        | Event::UnitFinished { fixture, .. }
        | Event::TorturePlanned { fixture, .. }
        | Event::TorturePoint { fixture, .. } => fixture,
    }
}

impl App {
    pub fn on_message(&mut self, message: &EngineMessage) {
        match message {
            EngineMessage::Event(event) => self.on_event(event),
            EngineMessage::RunEnded { run, error } => self.on_run_ended(*run, error.as_deref()),
            EngineMessage::TortureEnded { fixture, end } => {
                self.end_job(fixture);
                self.campaign_ended(fixture, end);
            }
            EngineMessage::Inspected { fixture, result } => {
                self.end_job(fixture);
                self.inspected(fixture, result);
            }
            EngineMessage::Recovered {
                fixture,
                end,
                after,
            } => {
                self.end_job(fixture);
                self.recovered(fixture, end, after.as_ref());
            }
            EngineMessage::Cleared {
                fixture,
                end,
                history,
            } => {
                self.end_job(fixture);
                self.cleared(fixture, end, history.as_ref());
            }
            EngineMessage::Surveyed(survey) => self.surveyed(survey),
            EngineMessage::RunRefused { run, why } => self.run_refused(*run, why),
            EngineMessage::UnitRecorded {
                fixture,
                unit,
                attempt,
                cycles,
            } => {
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.recorded(*unit, *attempt, *cycles);
                }
            }
        }
        if self.stopping {
            self.notice = Some(stopping_notice(self.busy_count()));
        }
    }

    pub fn on_event(&mut self, event: &Event) {
        let job = self.job(fixture_of(event));
        match (event, job) {
            (Event::TorturePlanned { .. } | Event::TorturePoint { .. }, _)
            | (_, Some(Job::Torture)) => self.torture_event(event),
            (_, Some(Job::Recover)) => self.recover_event(event),
            _ => self.production_event(event),
        }
    }

    fn production_event(&mut self, event: &Event) {
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
            _ => {
                if let Some(end) = event.finished() {
                    self.finished(end);
                }
            }
        }
    }

    /// A step or a unit ended: its panel, for a unit the counters, and a line in the log.
    fn finished(&mut self, end: Finished) {
        let Finished {
            fixture,
            unit,
            outcome,
            failure,
            of,
        } = end;
        let line = match of {
            FinishedOf::Step { step, duration_s } => {
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.step_finished(step, outcome, duration_s);
                }
                let why = failure.map(|e| format!(": {e}")).unwrap_or_default();
                format!("{fixture} #{unit} {step} {outcome} {duration_s:.2} s{why}")
            }
            FinishedOf::Unit { serial, record } => {
                let now = self.now();
                let verdict = Verdict {
                    outcome,
                    failure: failure.map(str::to_string),
                };
                let mut golden = false;
                if let Some(panel) = self.fixture_mut(fixture) {
                    panel.unit_finished(unit, serial, verdict, record, now);
                    golden = panel.golden;
                }
                // The golden unit's check is not production: the counters leave it out, as
                // stats do.
                if !golden {
                    self.counters.unit_finished(serial, outcome);
                }
                self.record_outcome(outcome);
                format!("{fixture} #{unit} unit {outcome} {serial} record {record}")
            }
        };
        self.log.push(LogKind::Outcome(outcome), line);
    }

    /// Engine run `run` ended; `error` when the engine failed. Its units that closed no
    /// record get a verdict here.
    pub fn on_run_ended(&mut self, run: u64, error: Option<&str>) {
        self.run_ended_bookkeeping(run);
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
        let now = self.now();
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
            self.record_outcome(outcome);
            self.log.push(
                LogKind::Outcome(outcome),
                format!("{fixture} {outcome}: {why}"),
            );
        }
        if self.stopping {
            self.notice = Some(stopping_notice(self.busy_count()));
        }
    }
}
