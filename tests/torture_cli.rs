//! `station torture` tells the bootloader designs apart, through the binary and its records.

mod common;

use std::path::Path;
use std::process::Output;

fn torture(fixture: &str, records: &Path, extra: &[&str], env: Option<(&str, &str)>) -> Output {
    let mut c = common::station();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "torture",
            "--station",
            "stations/zoo.toml",
            "--fixture",
            fixture,
            "--records",
        ])
        .arg(records)
        .args(extra);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn record(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("record "))
        .unwrap_or_else(|| panic!("no record line in {text}"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sweep(record: &serde_json::Value) -> &serde_json::Value {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sweep")
        .unwrap()
}

#[test]
fn designs_that_never_brick_pass() {
    let tmp = tempfile::tempdir().unwrap();
    for design in ["crc-single", "ab-slots"] {
        let out = torture(design, tmp.path(), &[], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{design}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let r = record(&out);
        assert_eq!(r["kind"], "torture");
        assert_eq!(r["outcome"], "PASS");
        let counts = &sweep(&r)["details"]["counts"];
        assert!(
            counts.get("bricked").is_none() && counts.get("corrupt_app").is_none(),
            "{design}: {counts}"
        );
        // The per-point results sit beside the record, pinned by hash.
        let details = &sweep(&r)["details"];
        let serial_dir = tmp.path().join(r["serial"].as_str().unwrap());
        let sidecar =
            std::fs::read(serial_dir.join(details["points_file"].as_str().unwrap())).unwrap();
        assert_eq!(
            station::image::sha256_hex(&sidecar),
            details["points_sha256"].as_str().unwrap()
        );
        let points: Vec<serde_json::Value> = serde_json::from_slice(&sidecar).unwrap();
        assert_eq!(
            points.len() as f64,
            sweep(&r)["measurements"][0]["value"].as_f64().unwrap()
        );
    }
}

#[test]
fn designs_that_brick_fail_with_a_reproducer() {
    let tmp = tempfile::tempdir().unwrap();
    for design in ["naive", "st-rom-app-jump", "ab-slots-no-resume"] {
        let out = torture(design, tmp.path(), &[], None);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{design}: {stdout}");
        assert!(stdout.contains("Reproducer"), "{stdout}");
        let r = record(&out);
        assert_eq!(r["outcome"], "FAIL");
        let repro = &sweep(&r)["details"]["reproducer"];
        assert!(
            repro["point"]["mode"].is_string() && repro["point"]["index"].is_u64(),
            "{repro}"
        );
        assert!(
            r["failure"]
                .as_str()
                .unwrap()
                .contains("beyond a field update")
        );
    }
}

#[test]
fn boot0_strapped_rom_passes_but_says_recovery_needs_the_strap() {
    let tmp = tempfile::tempdir().unwrap();
    let out = torture("st-rom-boot0", tmp.path(), &[], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r = record(&out);
    let details = &sweep(&r)["details"];
    assert_eq!(details["needs_boot0"], true);
    assert!(details["recovery_note"].as_str().unwrap().contains("BOOT0"));
}

#[test]
fn an_interrupted_campaign_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let crashed = torture(
        "naive",
        tmp.path(),
        &["--plan", "every:2"],
        Some(("STATION_CRASH_AFTER_POINTS", "5")),
    );
    assert_eq!(crashed.status.code(), Some(86), "the crash point fired");
    let resumed = torture("naive", tmp.path(), &["--plan", "every:2", "--json"], None);
    assert_eq!(resumed.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&resumed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cuts = lines
        .iter()
        .filter(|e| e["event"] == "progress" && e["step"] == "sweep")
        .count();
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "torture_finished");
    let total: u64 = summary["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        cuts as u64,
        total - 5,
        "the five journaled points were not run again"
    );
    let journal_dir = tmp.path().join(".station/torture");
    assert_eq!(
        std::fs::read_dir(journal_dir).unwrap().count(),
        0,
        "the journal goes once the record is written"
    );
}

#[test]
fn bad_plans_and_modes_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = torture("naive", tmp.path(), &["--plan", "sometimes"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("every:N"));
    let out = torture("naive", tmp.path(), &["--modes", "power-maybe"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("power-inside"));
}

#[test]
fn the_html_report_maps_every_point_and_refuses_altered_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = torture(
        "naive",
        tmp.path(),
        &["--modes", "power-inside,host-abort"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let r = record(&out);
    let id = r["record_id"].as_str().unwrap();
    let html_path = tmp.path().join("report.html");
    let report = |html: &Path| {
        common::station()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["report", "torture", id, "--records"])
            .arg(tmp.path())
            .arg("-o")
            .arg(html)
            .output()
            .unwrap()
    };
    assert_eq!(report(&html_path).status.code(), Some(0));
    let html = std::fs::read_to_string(&html_path).unwrap();
    let points: Vec<serde_json::Value> = {
        let details = &sweep(&r)["details"];
        let dir = tmp.path().join(r["serial"].as_str().unwrap());
        serde_json::from_slice(
            &std::fs::read(dir.join(details["points_file"].as_str().unwrap())).unwrap(),
        )
        .unwrap()
    };
    assert!(html.contains("<svg"));
    assert_eq!(
        html.matches("<rect").count(),
        points.len(),
        "one cell per cut point"
    );
    assert!(html.contains("power-inside") && html.contains("host-abort"));
    assert!(html.contains("Reproducer") && html.contains(r["profile"]["sha256"].as_str().unwrap()));
    assert!(
        html.contains("corrupt application"),
        "a legend names outcomes in words, not colour alone"
    );

    // Altering the per-point results breaks the pinned hash, and the report says so.
    let details = &sweep(&r)["details"];
    let sidecar = tmp
        .path()
        .join(r["serial"].as_str().unwrap())
        .join(details["points_file"].as_str().unwrap());
    let text = std::fs::read_to_string(&sidecar)
        .unwrap()
        .replacen("corrupt_app", "new_image", 1);
    std::fs::write(&sidecar, text).unwrap();
    let out = report(&tmp.path().join("again.html"));
    assert_eq!(out.status.code(), Some(1), "tampering is a failure");
    assert!(String::from_utf8_lossy(&out.stderr).contains("altered"));
}
