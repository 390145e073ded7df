//! What stands before production on the Line view: the operator's name when the station
//! requires one (asked in a modal at start), and the shift's golden unit (production waits
//! until its check passed; F9 runs the check on the selected fixture).

use super::app::{Action, App, StartRequest};
use super::jobs::Survey;
use super::log::LogKind;
use super::modal::{Confirm, Modal};

/// The station's golden unit as the TUI knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoldenGate {
    /// Its UID, when the station has a `[golden]` unit.
    pub uid: Option<String>,
    /// The engine's words while production waits for its check.
    pub waiting: Option<String>,
}

impl GoldenGate {
    /// The first sentence of the engine's refusal (the rest names the CLI's remedy).
    pub fn headline(&self) -> Option<String> {
        let why = self.waiting.as_deref()?;
        let first = why.split_once(". ").map_or(why, |(head, _)| head);
        let mut chars = first.trim_end_matches('.').chars();
        Some(
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default(),
        )
    }
}

pub const GOLDEN_REMEDY: &str = "Put the golden unit on a fixture, select it (Tab) and press F9 \
     for its check: production starts once it passes.";

impl App {
    /// The station requires an operator and none was given: nothing starts until one is named.
    pub fn ask_operator(&mut self) {
        self.modal = Some(Modal::new("", Confirm::Operator));
    }

    pub(super) fn operator_named(&mut self, name: String) -> Action {
        self.operator = name.clone();
        self.log
            .push(LogKind::Info, format!("operator {name} signed in"));
        Action::SetOperator(name)
    }

    /// Why production may not start now (the golden unit has not passed), said to the operator.
    pub(super) fn production_refused(&mut self) -> bool {
        if self.golden.waiting.is_some() {
            self.notice = Some("Production waits for the golden unit: F9 checks it".into());
        }
        self.golden.waiting.is_some()
    }

    /// F9 in the Line view: the golden-unit check on the unit the selected fixture holds.
    pub(super) fn start_golden(&mut self) -> Action {
        if self.golden.uid.is_none() && self.golden.waiting.is_none() {
            self.notice = Some("This station has no [golden] unit to check".into());
            return Action::None;
        }
        let Some(fixture) = self.free_selected() else {
            return Action::None;
        };
        self.notice = None;
        let request = StartRequest {
            fixture,
            label: None,
            typed_label: None,
        };
        Action::Start(self.start_run(vec![request], false, true))
    }

    /// What the records say at start and after each run.
    pub(super) fn surveyed(&mut self, survey: &Survey) {
        for (fixture, cycles) in &survey.cycles {
            if let Some(panel) = self.fixture_mut(fixture) {
                panel.note_cycles(*cycles);
            }
        }
        let was_waiting = self.golden.waiting.is_some();
        self.golden.waiting = survey.golden_waiting.clone();
        match (was_waiting, &survey.golden_waiting) {
            (true, None) => self.log.push(
                LogKind::Info,
                "the golden unit passed its check: production may start",
            ),
            (false, Some(why)) => self.log.push(LogKind::Info, why.clone()),
            _ => {}
        }
    }

    /// The engine refused run `run` before any unit started: production waits for the golden
    /// unit. Its fixtures are free again and a scanned label goes back to the scan field.
    pub(super) fn run_refused(&mut self, run: u64, why: &str) {
        self.run_ended_bookkeeping(run);
        let mut labels = Vec::new();
        for panel in self.fixtures.iter_mut() {
            if panel.run == Some(run) && panel.verdict.is_none() {
                labels.extend(panel.label.clone());
                panel.withdraw();
            }
        }
        if let ([label], true) = (labels.as_slice(), self.scan.is_empty()) {
            self.scan = label.clone();
        }
        self.golden.waiting = Some(why.to_string());
        self.log
            .push(LogKind::Info, format!("production refused: {why}"));
        self.notice = Some("Production waits for the golden unit: F9 checks it".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_is_the_engines_first_sentence() {
        let gate = GoldenGate {
            uid: None,
            waiting: Some(
                "production waits for the golden unit (UID 1): it has not passed in the last \
                 12 h. Put it on a fixture and run `station golden`"
                    .into(),
            ),
        };
        assert_eq!(
            gate.headline().as_deref(),
            Some(
                "Production waits for the golden unit (UID 1): it has not passed in the last 12 h"
            )
        );
        assert_eq!(GoldenGate::default().headline(), None);
    }
}
