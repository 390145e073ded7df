//! What the command keys do: starting units (with a typed confirmation where the profile locks
//! for good), torture campaigns, and the RMA view's inspect, recover and retest.

use crossterm::event::KeyCode;

use super::app::{Action, App, Job, StartRequest};
use super::modal::{Confirm, Modal};
use super::torture::Campaign;
use crate::station::rma::inspect::Via;

impl App {
    pub(super) fn refuse_start(&self) -> Option<String> {
        self.stopping
            .then(|| "Stopping: nothing new starts · F10 again quits now".to_string())
    }

    /// The selected fixture's id when nothing refuses new work on it; else says why.
    pub(super) fn free_selected(&mut self) -> Option<String> {
        if let Some(why) = self.refuse_start() {
            self.notice = Some(why);
            return None;
        }
        let id = self.selected_fixture()?.id.clone();
        if let Some(why) = self.occupied(&id) {
            self.notice = Some(why);
            return None;
        }
        Some(id)
    }

    /// Enter: the selected fixture starts with the scanned label.
    pub(super) fn start_scanned(&mut self) -> Action {
        let label = self.scan.trim().to_string();
        if label.is_empty() {
            self.notice = Some("Scan the unit's label first · F6 starts without a scan".into());
            return Action::None;
        }
        if self.production_refused() {
            return Action::None;
        }
        let Some(fixture) = self.free_selected() else {
            // The label stays: Tab to a free fixture, then Enter.
            return Action::None;
        };
        self.scan.clear();
        self.request_start(fixture, Some(label), false)
    }

    /// F6 in the Line view: the selected fixture starts a new unit without a scan; the engine
    /// names it by the serial it reads from the chip (its UID).
    pub(super) fn start_without_scan(&mut self) -> Action {
        if self.production_refused() {
            return Action::None;
        }
        match self.free_selected() {
            Some(fixture) => self.request_start(fixture, None, false),
            None => Action::None,
        }
    }

    /// A start, behind a typed confirmation when the profile locks units for good.
    fn request_start(&mut self, fixture: String, label: Option<String>, retest: bool) -> Action {
        // The label the engine checks: the scanned one, else the last 8 hex digits of the UID,
        // known before the start only for a retest of an inspected unit.
        let inspected = self
            .rma
            .get(&fixture)
            .and_then(|u| u.inspection.as_ref())
            .filter(|_| retest);
        // A locked unit is reopened under the label it carries (its records'), else its UID's.
        let reopen = inspected.is_some_and(|v| v.rdp_level == Some(1));
        let known = inspected.and_then(|v| {
            let uid = v.uid.clone()?;
            Some(match (&v.label, reopen) {
                (Some(l), true) => l.clone(),
                _ => uid[uid.len().saturating_sub(8)..].to_string(),
            })
        });
        let expected = label.clone().or(known);
        let request = StartRequest {
            fixture: fixture.clone(),
            label,
            typed_label: None,
        };
        self.notice = None;
        let permanent = self
            .fixture(&fixture)
            .is_some_and(|f| f.caps.permanent_lock);
        if permanent || reopen {
            self.modal = Some(Modal::new(
                fixture,
                Confirm::PermanentLock {
                    request,
                    retest,
                    expected,
                    reopen: reopen && !permanent,
                },
            ));
            return Action::None;
        }
        let run = self.start(vec![request], retest);
        if !retest {
            self.select_next_free();
        }
        Action::Start(run)
    }

    /// F5 in the Line view: every free fixture starts without a scan, except those whose
    /// profile needs a typed confirmation.
    pub(super) fn start_all_free(&mut self) -> Action {
        if let Some(why) = self.refuse_start() {
            self.notice = Some(why);
            return Action::None;
        }
        if self.production_refused() {
            return Action::None;
        }
        let free: Vec<(String, bool)> = self
            .fixtures
            .iter()
            .filter(|f| self.occupied(&f.id).is_none())
            .map(|f| (f.id.clone(), f.caps.permanent_lock))
            .collect();
        let locking: Vec<&str> = free
            .iter()
            .filter(|(_, lock)| *lock)
            .map(|(id, _)| id.as_str())
            .collect();
        self.notice = (!locking.is_empty()).then(|| {
            format!(
                "{} lock(s) for good: select and press F6 to type the unit's label",
                locking.join(", ")
            )
        });
        let requests: Vec<StartRequest> = free
            .iter()
            .filter(|(_, lock)| !*lock)
            .map(|(id, _)| StartRequest {
                fixture: id.clone(),
                label: None,
                typed_label: None,
            })
            .collect();
        if requests.is_empty() {
            self.notice
                .get_or_insert_with(|| "Every fixture is busy".into());
            return Action::None;
        }
        Action::Start(self.start(requests, false))
    }

    /// After a start the selection moves on to the next free fixture, ready for the next scan.
    fn select_next_free(&mut self) {
        let n = self.fixtures.len();
        if let Some(next) = (1..n)
            .map(|k| (self.selected + k) % n)
            .find(|&i| self.occupied(&self.fixtures[i].id).is_none())
        {
            self.selected = next;
        }
    }

    pub(super) fn torture_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('?') => self.toggle_help(),
            KeyCode::Char(_) => self.not_a_scan_field(),
            KeyCode::F(5) => return self.start_campaign(),
            _ => {}
        }
        Action::None
    }

    fn start_campaign(&mut self) -> Action {
        let Some(selected) = self.selected_fixture() else {
            return Action::None;
        };
        if !selected.caps.torture {
            self.notice = Some(format!(
                "{}: its profile has no [torture] section, or the fixture is not simulated",
                selected.id
            ));
            return Action::None;
        }
        let Some(fixture) = self.free_selected() else {
            return Action::None;
        };
        self.notice = None;
        self.campaigns
            .insert(fixture.clone(), Campaign::new(self.now()));
        self.begin_job(&fixture, Job::Torture);
        self.log.push(
            super::log::LogKind::Info,
            format!("{fixture} torture campaign started"),
        );
        Action::Torture(fixture)
    }

    pub(super) fn rma_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('?') => self.toggle_help(),
            KeyCode::Char(_) => self.not_a_scan_field(),
            KeyCode::F(5) => return self.inspect(Via::Swd),
            KeyCode::F(8) => return self.inspect(Via::Dfu),
            KeyCode::F(7) => self.ask_recover(),
            KeyCode::F(6) => return self.retest(),
            KeyCode::F(9) => self.ask_rework_clear(),
            _ => {}
        }
        Action::None
    }

    fn inspect(&mut self, via: Via) -> Action {
        let Some(fixture) = self.free_selected() else {
            return Action::None;
        };
        self.notice = None;
        self.begin_job(&fixture, Job::Inspect);
        Action::Inspect(fixture, via)
    }

    /// F7: recovery needs an inspection that identified the unit, then its label typed.
    fn ask_recover(&mut self) {
        let Some(fixture) = self.free_selected() else {
            return;
        };
        let view = self.rma.get(&fixture).and_then(|u| u.inspection.as_ref());
        let (Some(uid), Some(label)) = (
            view.and_then(|v| v.uid.clone()),
            view.and_then(|v| v.label.clone()),
        ) else {
            self.notice = Some(format!(
                "Inspect {fixture} over SWD first (F5): recovery needs the unit's UID"
            ));
            return;
        };
        let view = view.cloned().unwrap_or_default();
        self.notice = None;
        self.rma_unit(&fixture).refused = None;
        self.modal = Some(Modal::new(
            fixture,
            Confirm::Recover {
                uid,
                label,
                label_source: view.label_source.unwrap_or_else(|| "its label".into()),
                rdp_level: view.rdp_level,
            },
        ));
    }

    /// F6 in the RMA view: the production steps again on the unit the fixture holds.
    fn retest(&mut self) -> Action {
        if self.production_refused() {
            return Action::None;
        }
        match self.free_selected() {
            Some(fixture) => self.request_start(fixture, None, true),
            None => Action::None,
        }
    }
}
