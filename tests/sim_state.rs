//! The virtual bench keeps each fixture's unit between processes, and the same seed gives the
//! same run.

mod common;

use std::path::Path;
use std::process::Output;

fn station(args: &[&str], records: &Path) -> Output {
    common::station()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("--records")
        .arg(records)
        .output()
        .unwrap()
}

const AT: [&str; 4] = ["--station", "stations/virtual.toml", "--fixture", "sim-3"];

fn with_at<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(AT.iter()).chain(tail).copied().collect()
}

#[test]
fn a_unit_persists_across_separate_processes_until_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let run = station(
        &[
            "run",
            "--headless",
            "--station",
            "stations/virtual.toml",
            "--units",
            "1",
            "--fixture",
            "sim-3",
        ],
        tmp.path(),
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );

    // Process 2: an update over DFU, entered from the running application.
    let dl = station(
        &with_at(
            &["dfu", "download"],
            &["fixtures/f407/app-1.1.0.dfu", "--mode", "fast"],
        ),
        tmp.path(),
    );
    assert_eq!(
        dl.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&dl.stdout),
        String::from_utf8_lossy(&dl.stderr)
    );

    // Process 3 sees the new image; the old one no longer matches.
    let ok = station(
        &with_at(&["dfu", "verify"], &["fixtures/f407/app-1.1.0.dfu"]),
        tmp.path(),
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let old = station(
        &with_at(&["dfu", "verify"], &["fixtures/f407/app-1.0.0.elf"]),
        tmp.path(),
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&old.stderr).contains("bytes differ"));

    // Process 4 reads it back byte for byte.
    let out = tmp.path().join("readback.bin");
    let up = station(
        &with_at(
            &["dfu", "upload"],
            &[
                "--address",
                "0x08008000",
                "--length",
                "1024",
                out.to_str().unwrap(),
            ],
        ),
        tmp.path(),
    );
    assert_eq!(up.status.code(), Some(0));
    let image =
        station::image::Image::load(Path::new("fixtures/f407/app-1.1.0.dfu"), None).unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        image.bytes_at(0x0800_8000, 1024, 0xFF)
    );

    // Reset: the fixture holds a fresh blank unit, which has no DFU to offer.
    let reset = station(&with_at(&["sim", "reset"], &[]), tmp.path());
    assert_eq!(reset.status.code(), Some(0));
    let blank = station(
        &with_at(&["dfu", "verify"], &["fixtures/f407/app-1.1.0.dfu"]),
        tmp.path(),
    );
    assert_eq!(
        blank.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&blank.stderr)
    );
}

/// A record without what legitimately differs between two runs: wall-clock times, ids, paths.
fn comparable(mut v: serde_json::Value) -> serde_json::Value {
    for key in ["record_id", "started_at", "ended_at"] {
        v[key] = serde_json::Value::Null;
    }
    for step in v["steps"].as_array_mut().unwrap() {
        step["started_at"] = serde_json::Value::Null;
        step["ended_at"] = serde_json::Value::Null;
    }
    v
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(dir).unwrap().flatten() {
        if d.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push(comparable(
                serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap(),
            ));
        }
    }
    out.sort_by_key(|v| v["fixture"].as_str().unwrap().to_string());
    out
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        let run = station(
            &[
                "run",
                "--headless",
                "--station",
                "stations/virtual.toml",
                "--units",
                "4",
            ],
            dir.path(),
        );
        assert_eq!(run.status.code(), Some(0));
    }
    let (ra, rb) = (records(a.path()), records(b.path()));
    assert_eq!(ra.len(), 4);
    // Same UIDs, same virtual durations, same option bytes, same everything but the clock.
    assert_eq!(ra, rb);
    // And the simulated units themselves end bit-for-bit identical.
    for f in ["sim-1", "sim-2", "sim-3", "sim-4"] {
        let state =
            |d: &Path| std::fs::read(d.join(".station/sim").join(format!("{f}.state"))).unwrap();
        assert!(state(a.path()) == state(b.path()), "{f}");
    }
}
