//! Rework clearance in the RMA view: a unit that failed production (routed to rework after
//! `[rework] after_failures` FAILs) is cleared for production again by a named technician.
//! The engine writes the clearance record (`station::rework::clear`) on a background thread.

use super::app::{Action, App, Job};
use super::log::LogKind;
use super::modal::{Confirm, Modal};
use super::rma::{JobEnd, UnitHistory};

impl App {
    /// F9 in the RMA view: needs the unit's history (an inspection) showing failures.
    pub(super) fn ask_rework_clear(&mut self) {
        let Some(fixture) = self.free_selected() else {
            return;
        };
        let unit = self.rma.get(&fixture);
        let uid = unit
            .and_then(|u| u.inspection.as_ref())
            .and_then(|v| v.uid.clone());
        let (Some(uid), Some(history)) = (uid, unit.and_then(|u| u.history.as_ref())) else {
            self.notice = Some(format!(
                "Inspect {fixture} first (F5): a clearance needs the unit's UID and history"
            ));
            return;
        };
        let (failures, routed) = (
            history.failures_since_clearance(),
            history.routed_to_rework(),
        );
        if failures == 0 {
            self.notice = Some(format!(
                "UID {uid} has no failed production test since its last clearance: nothing to \
                 clear"
            ));
            return;
        }
        self.notice = None;
        self.modal = Some(Modal::new(
            fixture,
            Confirm::ReworkClear {
                unit: format!("UID {uid}"),
                failures,
                routed,
            },
        ));
    }

    /// The technician answered: the engine writes the clearance.
    pub(super) fn clear_rework(&mut self, fixture: String, answers: Vec<String>) -> Action {
        let uid = self
            .rma
            .get(&fixture)
            .and_then(|u| u.inspection.as_ref())
            .and_then(|v| v.uid.clone());
        let Some(unit) = uid else {
            return Action::None;
        };
        let mut answers = answers.into_iter();
        let by = answers.next().unwrap_or_default();
        let reason = answers.next().filter(|r| !r.is_empty());
        self.rma_unit(&fixture).clearance = None;
        self.begin_job(&fixture, Job::Clear);
        Action::ClearRework {
            fixture,
            unit,
            by,
            reason,
        }
    }

    pub(super) fn cleared(
        &mut self,
        fixture: &str,
        end: &JobEnd,
        history: Option<&Result<UnitHistory, String>>,
    ) {
        let unit = self.rma_unit(fixture);
        unit.clearance = Some(end.clone());
        if let Some(Ok(history)) = history {
            unit.history = Some(history.clone());
        }
        let record = end
            .record
            .as_deref()
            .map(|r| format!(" record {r}"))
            .unwrap_or_default();
        self.log.push(
            LogKind::Outcome(end.outcome),
            format!(
                "{fixture} rework clearance {}: {}{record}",
                end.outcome, end.text
            ),
        );
        if let Some(Err(e)) = history {
            self.log.push(
                LogKind::Outcome(crate::record::Outcome::Error),
                format!("{fixture} history after the clearance: {e}"),
            );
        }
    }
}
