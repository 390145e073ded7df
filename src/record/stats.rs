//! Yield, throughput and failure reasons from the records: what `station stats` shows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::chain::ChainHead;
use super::{History, Outcome, Record, RecordError, RecordKind, RecordStore};

/// How many failure reasons `Stats` keeps.
pub const TOP_REASONS: usize = 10;

#[derive(Serialize, Debug, Default)]
pub struct Stats {
    /// Records started at or after this time only.
    pub since: Option<DateTime<Utc>>,
    pub records: usize,
    pub production_records: usize,
    /// Units with at least one production attempt that passed or failed.
    pub units: usize,
    /// Units whose first such attempt passed.
    pub first_pass: usize,
    /// Units whose last such attempt passed.
    pub final_pass: usize,
    pub first_pass_yield: Option<f64>,
    pub final_yield: Option<f64>,
    /// Production records that ended ERROR or TIMEOUT (the station, not the unit).
    pub station_errors: usize,
    pub aborted: usize,
    pub first_started: Option<DateTime<Utc>>,
    pub last_ended: Option<DateTime<Utc>>,
    pub units_per_hour: Option<f64>,
    pub failure_reasons: Vec<FailureReason>,
    pub fixtures: Vec<FixtureCount>,
    /// The chain's last entry, as read (verify-logs checks it).
    pub chain_head: Option<ChainHead>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    /// The first step that did not pass, or "-" when the unit never got to one.
    pub step: String,
    /// The failure with numbers, addresses and ids replaced by `#`.
    pub reason: String,
    pub count: usize,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct FixtureCount {
    pub fixture: String,
    /// Records on this fixture in the period: each is one insertion.
    pub cycles: usize,
    pub passed: usize,
    pub failed: usize,
    /// ERROR, TIMEOUT and ABORTED.
    pub other: usize,
    /// Units the fixture has ever been given (its counter), however old.
    pub lifetime_units: u64,
}

impl RecordStore {
    /// Stats over the records started at or after `since`, with files that could not be read.
    pub fn stats(&self, since: Option<DateTime<Utc>>) -> Result<(Stats, History), RecordError> {
        let history = self.all_since(since)?;
        let records: Vec<&Record> = history.records.iter().map(|(_, r)| r).collect();
        let mut stats = compute(&records);
        stats.since = since;
        for count in &mut stats.fixtures {
            count.lifetime_units = self.unit_count(&count.fixture)?;
        }
        stats.chain_head = self.chain_head()?;
        Ok((stats, history))
    }

    /// Every record started at or after `since`, oldest first.
    pub fn all_since(&self, since: Option<DateTime<Utc>>) -> Result<History, RecordError> {
        let mut history = self.all()?;
        history
            .records
            .retain(|(_, r)| since.is_none_or(|since| r.started_at >= since));
        history.records.reverse();
        Ok(history)
    }
}

/// Stats over `records` (any order).
pub fn compute(records: &[&Record]) -> Stats {
    let mut production: Vec<&Record> = records
        .iter()
        .copied()
        .filter(|r| r.kind == RecordKind::Production)
        .collect();
    production.sort_by(|a, b| (a.started_at, &a.record_id).cmp(&(b.started_at, &b.record_id)));
    let mut attempts: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
    let mut reasons: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut stats = Stats {
        records: records.len(),
        production_records: production.len(),
        ..Stats::default()
    };
    for record in &production {
        match record.outcome {
            Outcome::Pass | Outcome::Fail => attempts
                .entry(unit_key(record))
                .or_default()
                .push(record.outcome),
            Outcome::Error | Outcome::Timeout => stats.station_errors += 1,
            Outcome::Aborted => stats.aborted += 1,
        }
        if record.outcome != Outcome::Pass {
            *reasons.entry(failure_reason(record)).or_default() += 1;
        }
    }
    stats.units = attempts.len();
    stats.first_pass = count(&attempts, |a| a.first());
    stats.final_pass = count(&attempts, |a| a.last());
    let ratio = |n: usize| (stats.units > 0).then(|| n as f64 / stats.units as f64);
    stats.first_pass_yield = ratio(stats.first_pass);
    stats.final_yield = ratio(stats.final_pass);
    stats.first_started = production.iter().map(|r| r.started_at).min();
    stats.last_ended = production.iter().map(|r| r.ended_at).max();
    if let (Some(first), Some(last)) = (stats.first_started, stats.last_ended) {
        let hours = (last - first).num_milliseconds() as f64 / 3_600_000.0;
        stats.units_per_hour = (hours > 0.0).then(|| stats.units as f64 / hours);
    }
    stats.failure_reasons = top_reasons(reasons);
    stats.fixtures = fixture_counts(records);
    stats
}

fn count(
    attempts: &BTreeMap<String, Vec<Outcome>>,
    pick: fn(&[Outcome]) -> Option<&Outcome>,
) -> usize {
    attempts
        .values()
        .filter(|a| pick(a) == Some(&Outcome::Pass))
        .count()
}

/// A unit is its UID when the record has one, else its serial.
fn unit_key(record: &Record) -> String {
    let uid = record
        .uid
        .as_ref()
        .or(record.device.as_ref().map(|d| &d.uid));
    match uid {
        Some(uid) => format!("uid:{}", uid.to_ascii_lowercase()),
        None => format!("serial:{}", record.serial),
    }
}

fn failure_reason(record: &Record) -> (String, String) {
    let step = record.steps.iter().find(|s| s.outcome != Outcome::Pass);
    let text = record
        .failure
        .as_deref()
        .or(step.and_then(|s| s.error.as_deref()))
        .unwrap_or("");
    let reason = match normalise(text) {
        empty if empty.is_empty() => record.outcome.to_string(),
        reason => reason,
    };
    (step.map_or("-".into(), |s| s.name.clone()), reason)
}

/// Every word holding a digit (a number, an address, a UID) becomes `#`, whitespace is
/// collapsed, and the result is cut to 120 characters, so one cause groups as one reason.
pub fn normalise(text: &str) -> String {
    fn flush(word: &mut String, out: &mut String) {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    }
    let mut out = String::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.trim_end().chars().take(120).collect()
}

fn top_reasons(reasons: BTreeMap<(String, String), usize>) -> Vec<FailureReason> {
    let mut list: Vec<FailureReason> = reasons
        .into_iter()
        .map(|((step, reason), count)| FailureReason {
            step,
            reason,
            count,
        })
        .collect();
    list.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.step, &a.reason).cmp(&(&b.step, &b.reason)))
    });
    list.truncate(TOP_REASONS);
    list
}

fn fixture_counts(records: &[&Record]) -> Vec<FixtureCount> {
    let mut by_fixture: BTreeMap<&str, FixtureCount> = BTreeMap::new();
    for record in records {
        let count = by_fixture
            .entry(&record.fixture)
            .or_insert_with(|| FixtureCount {
                fixture: record.fixture.clone(),
                ..FixtureCount::default()
            });
        count.cycles += 1;
        match record.outcome {
            Outcome::Pass => count.passed += 1,
            Outcome::Fail => count.failed += 1,
            _ => count.other += 1,
        }
    }
    by_fixture.into_values().collect()
}
