//! What the RMA view knows of a fixture's unit: its last inspection (as `station inspect`
//! shows it) with its history, and the recovery under way or its result.

use super::app::App;
use super::fixture::Progress;
use super::log::LogKind;
use crate::record::{History, Outcome};
use crate::station::Event;
use crate::station::rma::analyse::Match;
use crate::station::rma::inspect::Inspection;

/// An inspection in plain words, ready to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitView {
    /// `swd` or `dfu`.
    pub via: String,
    pub uid: Option<String>,
    /// "IDCODE 0x10076413 (DEV_ID 0x413) · 1024 KiB flash".
    pub chip: Option<String>,
    /// What a technician types to authorise a recovery, and where it comes from.
    pub label: Option<String>,
    pub label_source: Option<String>,
    pub last_production_record: Option<String>,
    pub usb_now: String,
    pub rdp_level: Option<u8>,
    /// The decoded option bytes, one "name value" pair each.
    pub option_bytes: Vec<(String, String)>,
    pub bootloader: Check,
    pub slots: Vec<(String, Check)>,
    pub would_boot: Check,
    pub notes: Vec<String>,
    /// The unit's records, newest first.
    pub history: Vec<HistoryRow>,
    /// Records that could not be read.
    pub history_problems: usize,
}

/// A verdict on part of the flash: good, bad or unknown, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub state: CheckState,
    pub text: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CheckState {
    Good,
    Bad,
    #[default]
    Unknown,
}

impl CheckState {
    pub fn symbol(self) -> &'static str {
        match self {
            CheckState::Good => "✓",
            CheckState::Bad => "✗",
            CheckState::Unknown => "?",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// "2026-11-21 07:23".
    pub started: String,
    /// `production`, `rma`, `torture` or `clearance`.
    pub kind: String,
    pub outcome: Outcome,
    pub fixture: String,
    pub failure: Option<String>,
    pub record_id: String,
}

impl UnitView {
    pub fn new(i: &Inspection, label_source: Option<String>, history: &History) -> Self {
        let b = &i.flash.bootloader;
        let bootloader = Check {
            state: match b.status {
                Match::Match if b.check.as_deref() == Some("valid") => CheckState::Good,
                Match::Unreadable => CheckState::Unknown,
                _ => CheckState::Bad,
            },
            text: format!("{:?}: {}", b.status, b.detail).to_lowercase(),
        };
        let slots = i
            .flash
            .slots
            .iter()
            .map(|s| {
                let state = match s.check.as_str() {
                    "valid" => CheckState::Good,
                    "unreadable" => CheckState::Unknown,
                    _ => CheckState::Bad,
                };
                let text = format!("{} at {}: {}", s.check, s.start, s.detail);
                (s.name.clone(), Check { state, text })
            })
            .collect();
        use crate::station::rma::analyse::Runs;
        let would_boot = Check {
            state: match i.flash.would_boot.runs {
                Runs::Application => CheckState::Good,
                Runs::Unknown => CheckState::Unknown,
                _ => CheckState::Bad,
            },
            text: i.flash.would_boot.detail.clone(),
        };
        let option_bytes = i.option_bytes.as_ref().map_or_else(Vec::new, option_rows);
        let history = UnitHistory::new(history);
        Self {
            via: format!("{:?}", i.via).to_lowercase(),
            uid: i.identity.as_ref().map(|id| id.uid.clone()),
            chip: i.identity.as_ref().map(|id| {
                format!(
                    "IDCODE {} (DEV_ID {}) · {} KiB flash",
                    id.idcode, id.dev_id, id.flash_size_kib
                )
            }),
            label: i.label.clone(),
            label_source,
            last_production_record: i.last_production_record.clone(),
            usb_now: i.usb_now.clone(),
            rdp_level: i.rdp_level,
            option_bytes,
            bootloader,
            slots,
            would_boot,
            notes: i.notes.clone(),
            history: history.rows,
            history_problems: history.problems,
        }
    }
}

/// A unit's records, newest first, as the history pane shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitHistory {
    pub rows: Vec<HistoryRow>,
    /// Records that could not be read.
    pub problems: usize,
}

impl UnitHistory {
    pub fn new(history: &History) -> Self {
        let rows = history
            .records
            .iter()
            .map(|(_, r)| HistoryRow {
                started: r.started_at.format("%Y-%m-%d %H:%M").to_string(),
                kind: format!("{:?}", r.kind).to_lowercase(),
                outcome: r.outcome,
                fixture: r.fixture.clone(),
                failure: r.failure.clone(),
                record_id: r.record_id.clone(),
            })
            .collect();
        Self {
            rows,
            problems: history.problems.len(),
        }
    }

    /// Production FAILs since the last rework clearance.
    pub fn failures_since_clearance(&self) -> u32 {
        self.rows
            .iter()
            .take_while(|r| r.kind != "clearance")
            .filter(|r| r.kind == "production" && r.outcome == Outcome::Fail)
            .count() as u32
    }

    /// The newest production test was refused as routed to rework, with no clearance since.
    pub fn routed_to_rework(&self) -> bool {
        self.rows
            .iter()
            .take_while(|r| r.kind != "clearance")
            .find(|r| r.kind == "production")
            .and_then(|r| r.failure.as_deref())
            .is_some_and(|f| f.contains("routed to rework"))
    }
}

/// A recovery as it runs and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoverRun {
    pub step: Option<String>,
    pub progress: Option<Progress>,
    /// Finished steps: name and outcome.
    pub steps: Vec<(String, Outcome)>,
    pub end: Option<JobEnd>,
}

/// How an RMA action ended: its outcome, in words, and its record if it wrote one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEnd {
    pub outcome: Outcome,
    pub text: String,
    pub record: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RmaUnit {
    pub inspection: Option<UnitView>,
    /// When the inspection arrived, to tell whether a test since has made it stale.
    pub inspected_at: Option<std::time::Instant>,
    /// Why the last inspection failed.
    pub inspect_error: Option<String>,
    pub recover: Option<RecoverRun>,
    /// The technician's last refused confirmation, in words.
    pub refused: Option<String>,
    /// The unit's records, from its inspection or a rework clearance since.
    pub history: Option<UnitHistory>,
    /// The last rework clearance: written, or why not.
    pub clearance: Option<JobEnd>,
}

impl App {
    pub(super) fn rma_unit(&mut self, fixture: &str) -> &mut RmaUnit {
        self.rma.entry(fixture.to_string()).or_default()
    }

    pub(super) fn inspected(&mut self, fixture: &str, result: &Result<UnitView, String>) {
        let now = self.now();
        let unit = self.rma_unit(fixture);
        match result {
            Ok(view) => {
                unit.inspection = Some(view.clone());
                unit.history = Some(UnitHistory {
                    rows: view.history.clone(),
                    problems: view.history_problems,
                });
                unit.inspected_at = Some(now);
                unit.inspect_error = None;
                let uid = view.uid.clone().unwrap_or_else(|| "unknown UID".into());
                self.log
                    .push(LogKind::Info, format!("{fixture} inspected: {uid}"));
            }
            Err(e) => {
                unit.inspect_error = Some(e.clone());
                self.log.push(
                    LogKind::Outcome(Outcome::Error),
                    format!("{fixture} inspect: {e}"),
                );
            }
        }
    }

    pub(super) fn recovered(
        &mut self,
        fixture: &str,
        end: &JobEnd,
        after: Option<&Result<UnitView, String>>,
    ) {
        let run = self.rma_unit(fixture).recover.get_or_insert_default();
        run.end = Some(end.clone());
        run.step = None;
        run.progress = None;
        let record = end
            .record
            .as_deref()
            .map(|r| format!(" record {r}"))
            .unwrap_or_default();
        self.log.push(
            LogKind::Outcome(end.outcome),
            format!("{fixture} recover {}: {}{record}", end.outcome, end.text),
        );
        if let Some(after) = after {
            self.inspected(fixture, after);
        }
    }

    pub(super) fn recover_event(&mut self, event: &Event) {
        let fixture = match event {
            Event::StepStarted { fixture, .. }
            | Event::Progress { fixture, .. }
            | Event::StepFinished { fixture, .. } => fixture.clone(),
            // The record is reported with the job's end.
            _ => return,
        };
        let run = self.rma_unit(&fixture).recover.get_or_insert_default();
        match event {
            Event::StepStarted { step, .. } => {
                run.step = Some(step.clone());
                run.progress = None;
            }
            Event::Progress {
                phase, done, total, ..
            } => {
                run.progress = Some(Progress {
                    phase: phase.clone(),
                    done: *done,
                    total: *total,
                })
            }
            Event::StepFinished { step, outcome, .. } => {
                run.steps.push((step.clone(), *outcome));
                run.progress = None;
            }
            _ => {}
        }
    }
}

/// A family's decoded option bytes (`stm32::options::decode`) as label/value rows: the fields
/// every family has, its boot addresses where it has them, then its raw registers.
fn option_rows(ob: &serde_json::Value) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "?".into(),
        other => other.to_string(),
    };
    let wrp = match ob["write_protected"].as_array() {
        Some(a) if a.is_empty() => "none".to_string(),
        Some(a) => format!(
            "{:?}",
            a.iter().filter_map(|s| s.as_u64()).collect::<Vec<_>>()
        ),
        None => "?".into(),
    };
    let iwdg = match ob["iwdg_sw"].as_bool() {
        Some(true) => "software",
        Some(false) => "hardware",
        None => "?",
    };
    let mut rows = vec![
        ("WRP sectors".to_string(), wrp),
        ("BOR".to_string(), text(&ob["bor_level"])),
        ("IWDG".to_string(), iwdg.to_string()),
        ("nRST_STOP".to_string(), text(&ob["nrst_stop"])),
        ("nRST_STDBY".to_string(), text(&ob["nrst_stdby"])),
    ];
    for (key, label) in [
        ("boot_address0", "BOOT_ADD0"),
        ("boot_address1", "BOOT_ADD1"),
    ] {
        if !ob[key].is_null() {
            rows.push((label.to_string(), text(&ob[key])));
        }
    }
    match &ob["raw"] {
        serde_json::Value::Object(regs) => {
            for (name, value) in regs {
                rows.push((name.to_uppercase(), text(value)));
            }
        }
        serde_json::Value::Null => {}
        raw => rows.push(("OPTCR".to_string(), text(raw))),
    }
    rows
}
