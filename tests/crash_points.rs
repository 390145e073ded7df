//! Crash safety at every crash point: the station is killed (SIGKILL) at the Nth write (torn:
//! half its bytes), fsync or rename of the record store, for every N a one-unit run reaches.
//! After each kill every record on disk reads back whole and valid, and the next start closes
//! the interrupted unit as ABORTED with what had been done; at the end the chain verifies.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use station::record::Record;

fn run(records: &Path, crash: Option<String>) -> std::process::Output {
    let mut cmd = common::station();
    cmd.args([
        "run",
        "--headless",
        "--station",
        "stations/virtual.toml",
        "--fixture",
        "sim-1",
        "--records",
    ])
    .arg(records);
    match crash {
        Some(at) => cmd.env("STATION_CRASH_AT", at),
        None => cmd.env_remove("STATION_CRASH_AT"),
    };
    cmd.output().unwrap()
}

/// Every file under the records directory, hidden bookkeeping left out.
fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for unit in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = unit.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !unit.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(unit.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out
}

fn check_whole(dir: &Path, after: &str) {
    for f in record_files(dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') {
            assert!(name.ends_with(".tmp"), "{after}: stray dot-file {name}");
            continue;
        }
        let record: Record = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{after}: {} is not a whole record: {e}", f.display()));
        record
            .validate()
            .unwrap_or_else(|e| panic!("{after}: {}: {e}", f.display()));
    }
}

fn journals(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".station/journal"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_kill_at_any_write_fsync_or_rename_never_leaves_a_broken_record() {
    for kind in ["write", "fsync", "rename"] {
        let tmp = tempfile::tempdir().unwrap();
        let records = tmp.path().join("records");
        let mut kills = 0;
        for n in 1..400 {
            let out = run(&records, Some(format!("{kind}:{n}")));
            let after = format!("a kill at {kind} {n}");
            if out.status.signal() != Some(9) {
                // The run no longer reaches this crash point: it ran to its end.
                assert_eq!(out.status.code(), Some(0), "{after}: {out:?}");
                break;
            }
            kills += 1;
            check_whole(&records, &after);
        }
        assert!(kills > 5, "{kind}: only {kills} crash points were reached");
        // One clean start closes what the last kill left open and carries on.
        let out = run(&records, None);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        check_whole(&records, "the clean run");
        assert_eq!(journals(&records), 0, "{kind}: every open unit was closed");
        let closed: Vec<Record> = record_files(&records)
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
            .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
            .filter(|r: &Record| r.outcome == station::record::Outcome::Aborted)
            .collect();
        assert!(
            !closed.is_empty(),
            "{kind}: kills mid-unit are closed as ABORTED"
        );
        assert!(
            closed.iter().any(|r| !r.steps.is_empty()),
            "{kind}: what had been done is kept"
        );
        let verify = common::station()
            .args(["verify-logs", "--records"])
            .arg(&records)
            .output()
            .unwrap();
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{kind}: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
}
