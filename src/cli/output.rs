//! How the CLI shows events, summaries and histories.

use std::io::Write;
use std::sync::Mutex;

use crate::record::{History, Outcome};
use crate::station::events::{FinishedOf, to_json_line};
use crate::station::{Event, RunSummary};

pub struct Printer {
    json: bool,
    out: Mutex<()>,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            out: Mutex::new(()),
        }
    }

    pub fn event(&self, event: &Event) {
        let _guard = self.out.lock();
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(stdout, "{}", to_json_line(event));
            return;
        }
        let Some(end) = event.finished() else {
            return;
        };
        let (who, outcome) = (format!("[{} #{}]", end.fixture, end.unit), end.outcome);
        let line = match end.of {
            FinishedOf::Step { step, duration_s } => format!(
                "{who} {step:<22} {outcome:<7} {duration_s:>8.3} s{}",
                end.failure.map(|e| format!("  {e}")).unwrap_or_default()
            ),
            FinishedOf::Unit { serial, record } => {
                let mark = if outcome == Outcome::Pass {
                    "PASS"
                } else {
                    "FAIL"
                };
                format!(
                    "{who} {mark} {serial} ({outcome}){}  record {record}",
                    end.failure.map(|f| format!(": {f}")).unwrap_or_default()
                )
            }
        };
        let _ = writeln!(stdout, "{line}");
    }

    pub fn summary(&self, summary: &RunSummary) {
        if self.json {
            return;
        }
        let passed = summary
            .units
            .iter()
            .filter(|u| u.2 == Outcome::Pass)
            .count();
        println!("{passed} of {} units passed", summary.units.len());
    }
}

pub fn history(unit: &str, history: &History, json: bool) {
    if json {
        let records: Vec<_> = history.records.iter().map(|(_, r)| r).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
    } else if history.records.is_empty() {
        println!("no records for {unit}");
    } else {
        println!(
            "{:<24} {:<10} {:<8} {:<12} {:<14} record",
            "started (UTC)", "kind", "outcome", "fixture", "station"
        );
        for (path, r) in &history.records {
            println!(
                "{:<24} {:<10} {:<8} {:<12} {:<14} {}",
                r.started_at.format("%Y-%m-%d %H:%M:%S"),
                format!("{:?}", r.kind).to_lowercase(),
                r.outcome.to_string(),
                r.fixture,
                r.station,
                path.display()
            );
        }
    }
    for (path, why) in &history.problems {
        eprintln!("warning: {} could not be read: {why}", path.display());
    }
}

pub fn torture(result: &crate::station::torture::campaign::TortureResult, json: bool) {
    let r = &result.record;
    if json {
        let summary = serde_json::json!({
            "event": "torture_finished",
            "schema_version": crate::station::events::EVENTS_SCHEMA_VERSION,
            "fixture": r.fixture,
            "outcome": r.outcome,
            "record": result.path.display().to_string(),
            "counts": result.campaign.counts(),
            "reproducer": result.campaign.reproducer(),
            "notes": result.notes,
        });
        println!("{summary}");
        return;
    }
    let c = &result.campaign;
    let over = if c.calibration.power_on_plan {
        format!("{} host operations", c.calibration.plan_ops.len())
    } else {
        format!(
            "{} plan and {} flash operations",
            c.calibration.plan_ops.len(),
            c.calibration.flash_ops.len()
        )
    };
    println!(
        "{}: {} cut points over {over} ({} -> {})",
        r.fixture,
        c.results.len(),
        c.old,
        c.new
    );
    for (outcome, n) in c.counts() {
        println!("  {:<16} {n}", format!("{outcome:?}"));
    }
    for note in &result.notes {
        println!("note: {note}");
    }
    match c.reproducer() {
        Some(p) => println!(
            "FAIL: the design bricks. Reproducer: --modes {} at operation {} ({}) -> {:?}",
            p.point.mode, p.point.index, p.operation, p.outcome
        ),
        None if c.needs_boot0() => {
            println!("PASS: never bricks, but recovery needs the BOOT0 strap")
        }
        None => println!("PASS: every cut point comes back"),
    }
    println!("record {}", result.path.display());
}

pub fn bench(runs: &[crate::dfu_bench::BenchRun], json: bool) {
    for r in runs {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
            continue;
        }
        println!(
            "{:<12} {:<9} {:<6} {:>5} KiB  device {:>7.3} s  spec {:>7.3} s  station {:>7.3} s  {:>4.2} polls/block  ratio {:.4}{}",
            r.part,
            r.bootloader,
            r.mode,
            r.image_bytes / 1024,
            r.device_bound_s,
            r.spec_bound_s,
            r.station_s,
            r.polls_per_block,
            r.ratio,
            r.note
                .as_ref()
                .map(|n| format!("  ({n})"))
                .unwrap_or_default()
        );
    }
}
