//! Station counters for the session: tested, passed, first-pass yield, units per hour.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::record::Outcome;

#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub passed: u64,
    pub failed: u64,
    /// ERROR, TIMEOUT and ABORTED: no verdict on the unit itself.
    pub not_judged: u64,
    /// Serial → whether its first judged test in this session passed.
    first_tests: BTreeMap<String, bool>,
    /// The first start of the session; units per hour count from here.
    since: Option<Instant>,
}

impl Counters {
    pub fn started(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    pub fn unit_finished(&mut self, serial: &str, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Error | Outcome::Timeout | Outcome::Aborted => {
                self.not_judged += 1;
                return;
            }
        }
        self.first_tests
            .entry(serial.to_string())
            .or_insert(outcome == Outcome::Pass);
    }

    /// Units with a verdict: passed plus failed.
    pub fn tested(&self) -> u64 {
        self.passed + self.failed
    }

    /// The share of distinct units that passed on their first test, 0.0 ..= 1.0.
    pub fn first_pass_yield(&self) -> Option<f64> {
        let units = self.first_tests.len();
        let first_pass = self.first_tests.values().filter(|passed| **passed).count();
        (units > 0).then(|| first_pass as f64 / units as f64)
    }

    pub fn units_per_hour(&self, now: Instant) -> Option<f64> {
        let since = self.since?;
        let tested = self.tested();
        if tested == 0 {
            return None;
        }
        let elapsed = now
            .saturating_duration_since(since)
            .max(Duration::from_secs(1));
        Some(tested as f64 * 3600.0 / elapsed.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retest_does_not_count_as_first_pass() {
        let mut c = Counters::default();
        c.unit_finished("UID-A", Outcome::Fail);
        c.unit_finished("UID-A", Outcome::Pass);
        c.unit_finished("UID-B", Outcome::Pass);
        c.unit_finished("UID-C", Outcome::Aborted);
        assert_eq!((c.tested(), c.passed, c.not_judged), (3, 2, 1));
        assert_eq!(c.first_pass_yield(), Some(0.5));
    }

    #[test]
    fn units_per_hour_counts_from_the_first_start() {
        let t0 = Instant::now();
        let mut c = Counters::default();
        assert_eq!(c.units_per_hour(t0), None);
        c.started(t0);
        c.unit_finished("A", Outcome::Pass);
        c.unit_finished("B", Outcome::Fail);
        assert_eq!(c.units_per_hour(t0 + Duration::from_secs(60)), Some(120.0));
    }
}
