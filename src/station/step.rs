//! The step harness: every step of a unit run (production, RMA, engineering) runs under the
//! profile's policy for it: timed on the fixture's clock (longer than its timeout is
//! TIMEOUT), tried again after an ERROR or TIMEOUT (and a FAIL when the policy says so),
//! judged against its limits, and recorded with every try's error. Knows no step.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::Event;
use crate::config::{Profile, StepPolicy};
use crate::hw::{Clock, HwError};
use crate::record::{Limits, Measurement, Outcome, StepRecord};

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

/// What the harness reads from a run before and between tries of a step.
pub struct StepContext {
    /// The profile's timeout and retry policy for the step.
    pub policy: StepPolicy,
    /// The profile's limits on the step's duration (`<step>_s`), if any.
    pub duration_limits: Option<Limits>,
    pub clock: std::sync::Arc<dyn Clock>,
    pub fixture: String,
    pub unit: u64,
    /// A step already failed: the unit is done.
    pub failed: bool,
    /// The operator or the watchdog stopped the unit.
    pub stopping: bool,
}

impl StepContext {
    /// The context of step `name` under `profile`.
    pub fn of(profile: &Profile, name: &str) -> StepContext {
        StepContext {
            policy: profile.step_policy(name),
            duration_limits: limits_of(profile, &format!("{name}_s")),
            clock: std::sync::Arc::new(crate::hw::SystemClock::new()),
            fixture: String::new(),
            unit: 0,
            failed: false,
            stopping: false,
        }
    }
}

/// A run that takes steps.
pub trait StepRun {
    fn context(&self, step: &str) -> StepContext;
    fn emit(&self, event: Event);
    /// Keep a finished step (and tell the journal).
    fn record(&mut self, step: StepRecord);
    /// The unit ends here, with this outcome and reason.
    fn fail(&mut self, why: (Outcome, String));
}

fn limits_of(profile: &Profile, name: &str) -> Option<Limits> {
    profile.limit(name).map(|l| Limits {
        low: l.low,
        high: l.high,
    })
}

/// Run one step under the profile's policy for it: timed on the fixture's clock (longer
/// than its timeout is TIMEOUT), tried again after an ERROR or TIMEOUT (and a FAIL when
/// the policy says so), recorded with every try's error. Returns false when the unit is done.
pub fn run<R: StepRun>(
    run: &mut R,
    name: &str,
    mut body: impl FnMut(&mut R) -> Result<StepOutput, StepError>,
) -> bool {
    let ctx = run.context(name);
    if ctx.failed {
        return false;
    }
    if ctx.stopping {
        run.fail((
            Outcome::Aborted,
            format!("aborted by the operator before {name}"),
        ));
        return false;
    }
    let StepContext {
        policy,
        duration_limits,
        clock,
        fixture,
        unit,
        ..
    } = ctx;
    let started_at: DateTime<Utc> = Utc::now();
    let t0 = clock.now();
    run.emit(Event::StepStarted {
        fixture: fixture.clone(),
        unit,
        step: name.into(),
    });
    let mut earlier = Vec::new();
    let (outcome, error, mut output) = loop {
        let t_try = clock.now();
        let result = body(run);
        let took = clock.now().saturating_sub(t_try);
        let (outcome, error, output) =
            judge(name, result, took, policy.timeout_s, &duration_limits);
        let again = match outcome {
            Outcome::Error | Outcome::Timeout => true,
            Outcome::Fail => policy.retry_fail,
            _ => false,
        };
        if !again || earlier.len() as u32 >= policy.retries || run.context(name).stopping {
            break (outcome, error, output);
        }
        earlier.push(format!("{outcome}: {}", error.unwrap_or_default()));
    };
    let duration = clock.now().saturating_sub(t0);
    if !earlier.is_empty() {
        output
            .details
            .insert("tries".into(), (earlier.len() + 1).into());
        output
            .details
            .insert("earlier_tries".into(), earlier.into());
    }
    run.emit(Event::StepFinished {
        fixture,
        unit,
        step: name.into(),
        outcome,
        duration_s: duration.as_secs_f64(),
        error: error.clone(),
    });
    run.record(StepRecord {
        name: name.into(),
        outcome,
        started_at,
        ended_at: Utc::now().max(started_at),
        measurements: output.measurements,
        error: error.clone(),
        details: output.details,
    });
    if outcome != Outcome::Pass {
        run.fail((outcome, format!("{name}: {}", error.unwrap_or_default())));
        return false;
    }
    true
}

/// One try's outcome: its error, its timeout, then its measurements against their limits.
fn judge(
    name: &str,
    result: Result<StepOutput, StepError>,
    took: Duration,
    timeout_s: Option<f64>,
    duration_limits: &Option<Limits>,
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
            duration_limits.clone(),
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
