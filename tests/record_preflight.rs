//! A record that cannot be written is found before the first unit is touched: the run exits
//! 3 saying no unit was started, writes no record and provisions no unit (#19: units were
//! flashed and locked, then left ABORTED for want of their record).

mod common;

use std::path::Path;
use std::process::Output;

use common::check::{STATION, Scratch};

fn run(s: &Scratch, key_dir: &Path) -> Output {
    common::station()
        .args([
            "run",
            "--headless",
            "--station",
            STATION,
            "--units",
            "1",
            "--fixture",
            "sim-1",
        ])
        .current_dir(s.dir.path())
        .env("STATION_KEY_DIR", key_dir)
        .output()
        .unwrap()
}

/// Unit folders in the records directory (its `.station` state aside).
fn unit_records(s: &Scratch) -> usize {
    match std::fs::read_dir(s.path("logs")) {
        Err(_) => 0,
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count(),
    }
}

/// The simulated unit the run would have provisioned, kept between processes.
fn unit_state_exists(s: &Scratch) -> bool {
    s.path("logs/.station/sim/sim-1.state").exists()
}

#[track_caller]
fn refused_before_any_unit(out: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no unit was started"), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
}

#[test]
fn a_key_directory_inside_the_records_is_refused_before_any_unit() {
    let s = Scratch::new();
    let keys = s.path("logs/keys");
    std::fs::create_dir_all(&keys).unwrap();
    let out = run(&s, &keys);
    refused_before_any_unit(&out, "inside the records directory");
    assert_eq!(unit_records(&s), 1, "only the keys folder: no unit record");
    assert!(!unit_state_exists(&s), "a unit was provisioned");
}

#[test]
fn a_missing_key_for_the_records_chain_is_refused_before_any_unit() {
    let s = Scratch::new();
    let first_keys = tempfile::tempdir().unwrap();
    let out = run(&s, first_keys.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(unit_records(&s), 1);
    let state = std::fs::read(s.path("logs/.station/sim/sim-1.state")).unwrap();
    let other_keys = tempfile::tempdir().unwrap();
    let out = run(&s, other_keys.path());
    refused_before_any_unit(&out, "key");
    assert_eq!(unit_records(&s), 1, "no new record");
    assert_eq!(
        std::fs::read(s.path("logs/.station/sim/sim-1.state")).unwrap(),
        state,
        "the unit on the fixture was touched"
    );
}
