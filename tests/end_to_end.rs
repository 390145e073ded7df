//! The first end-to-end run on the virtual bench, through the real binary: provisioning,
//! records that pass the schema, history, and crash safety under kill -9.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn station() -> Command {
    let mut c = common::station();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run_units(records: &Path, units: u32, extra: &[&str]) -> Output {
    station()
        .args([
            "run",
            "--headless",
            "--station",
            "stations/virtual.toml",
            "--units",
        ])
        .arg(units.to_string())
        .arg("--records")
        .arg(records)
        .args(extra)
        .output()
        .expect("station runs")
}

fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            for f in std::fs::read_dir(&p).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.schema.json"),
    )
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn four_units_pass_with_valid_records_and_history_shows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_units(tmp.path(), 4, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 of 4 units passed"), "{stdout}");

    let files = record_files(tmp.path());
    assert_eq!(files.len(), 4, "{files:?}");
    let validator = schema();
    let profile_sha =
        station::image::sha256_hex(&std::fs::read("profiles/f407-demo.toml").unwrap());
    let mut uids = std::collections::BTreeSet::new();
    for f in &files {
        assert_eq!(f.extension().unwrap(), "json");
        let value: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{} fails the schema: {errors:?}",
            f.display()
        );
        assert_eq!(value["outcome"], "PASS");
        assert_eq!(value["kind"], "production");
        assert_eq!(value["profile"]["sha256"], profile_sha.as_str());
        let steps: Vec<&str> = value["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            [
                "attach",
                "identify",
                "traceability",
                "flash_bootloader",
                "option_bytes",
                "dfu_download",
                "confirm_application",
                "console_version"
            ]
        );
        let ob = &step_named(&value, "option_bytes")["details"];
        assert_eq!(
            ob["after"]["rdp_level"], 1,
            "option bytes read back at RDP 1"
        );
        assert_eq!(ob["after"]["write_protected"], serde_json::json!([0, 1]));
        assert_eq!(ob["before"]["rdp_level"], 0);
        let uid = value["uid"].as_str().unwrap().to_string();
        assert_eq!(value["serial"], format!("UID-{uid}"));
        assert_eq!(value["device"]["flash_size_kib"], 1024);
        uids.insert(uid);
    }
    assert_eq!(
        uids.len(),
        4,
        "every unit is a fresh device with its own UID"
    );

    // History by serial and by UID, newest first.
    let uid = uids.iter().next().unwrap();
    for key in [format!("UID-{uid}"), uid.to_lowercase()] {
        let out = station()
            .args(["history", &key, "--records"])
            .arg(tmp.path())
            .arg("--json")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{key}");
        assert_eq!(list[0]["uid"], uid.as_str());
    }
    let out = station()
        .args(["history", &format!("UID-{uid}"), "--records"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("production") && text.contains("PASS"),
        "{text}"
    );

    // A second run in the same records directory never reuses a UID.
    let out = run_units(tmp.path(), 4, &[]);
    assert_eq!(out.status.code(), Some(0));
    let mut all = std::collections::BTreeSet::new();
    for f in record_files(tmp.path()) {
        let value: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        all.insert(value["uid"].as_str().unwrap().to_string());
    }
    assert_eq!(all.len(), 8);
}

#[test]
fn json_events_are_one_object_per_line_with_schema_version() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_units(tmp.path(), 1, &["--json", "--fixture", "sim-2"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|e| e["schema_version"] == 1 && e["fixture"] == "sim-2")
    );
    let kinds: Vec<&str> = lines.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"step_started"));
    assert_eq!(kinds.last(), Some(&"unit_finished"));
    assert!(kinds.contains(&"progress"));
    assert_eq!(kinds.iter().filter(|k| **k == "step_finished").count(), 8);
    let last = lines.last().unwrap();
    assert_eq!(last["outcome"], "PASS");
    assert!(Path::new(last["record"].as_str().unwrap()).starts_with(tmp.path()));
}

#[test]
fn unknown_fixture_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_units(tmp.path(), 1, &["--fixture", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn killing_the_station_mid_run_leaves_no_truncated_record() {
    let tmp = tempfile::tempdir().unwrap();
    // Kill at several points of a long run; every record on disk must parse.
    for delay_ms in [150u64, 400, 700, 1100] {
        let mut child = station()
            .args([
                "run",
                "--headless",
                "--station",
                "stations/virtual.toml",
                "--units",
                "200",
                "--records",
            ])
            .arg(tmp.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A real-time wait is the point here: the kill must land while the child works.
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        for f in record_files(tmp.path()) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                assert!(
                    name.ends_with(".tmp"),
                    "only temp files may be dot-files: {name}"
                );
                continue;
            }
            let bytes = std::fs::read(&f).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} is not whole JSON after kill -9: {e}", f.display()));
        }
    }
    // The next start clears leftovers, closes the units the kills interrupted as ABORTED
    // with what had been done, and carries on.
    let out = run_units(tmp.path(), 1, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        record_files(tmp.path())
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".tmp"))
    );
    let aborted: Vec<serde_json::Value> = record_files(tmp.path())
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .map(|f| serde_json::from_slice::<serde_json::Value>(&std::fs::read(f).unwrap()).unwrap())
        .filter(|v| v["outcome"] == "ABORTED")
        .collect();
    assert!(
        !aborted.is_empty(),
        "each kill interrupted units, now closed as ABORTED"
    );
    for r in &aborted {
        assert!(
            r["failure"]
                .as_str()
                .unwrap()
                .contains("stopped before this unit finished")
        );
    }
    assert!(
        aborted
            .iter()
            .any(|r| !r["steps"].as_array().unwrap().is_empty()),
        "with the steps that were done"
    );
    let journal = tmp.path().join(".station/journal");
    let left: Vec<_> = std::fs::read_dir(&journal)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|e| !e.path().to_string_lossy().ends_with(".json")),
        "{left:?}"
    );
}

#[test]
fn probe_list_without_probes_says_so_and_succeeds() {
    let out = station().args(["probe", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    // This machine has no USB; a machine with probes lists them instead.
    assert!(
        text.contains("no probes found") || text.lines().all(|l| l.contains(':')),
        "{text}"
    );
}

#[test]
fn fixture_images_are_exactly_what_the_generator_makes() {
    let tmp = tempfile::tempdir().unwrap();
    let written =
        station::image::generate::generate(Path::new("fixtures/generate.toml"), tmp.path())
            .unwrap();
    assert!(!written.is_empty());
    for (path, sha) in written {
        let rel = path.strip_prefix(tmp.path()).unwrap();
        let committed = Path::new("fixtures").join(rel);
        let bytes =
            std::fs::read(&committed).unwrap_or_else(|e| panic!("{}: {e}", committed.display()));
        assert_eq!(
            station::image::sha256_hex(&bytes),
            sha,
            "{} differs from the generator's output",
            committed.display()
        );
    }
}

#[test]
fn a_real_fixture_without_its_probe_fails_with_a_plain_message() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let station_file = tmp.path().join("hw.toml");
    let profile = root.join("profiles/f407-demo.toml");
    std::fs::write(
        &station_file,
        format!(
            r#"id = "line-1"
records = "records"
[[fixtures]]
id = "bench-a"
backend = "hw"
profile = "{}"
probe = "0483:374b:NOSUCHPROBE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00" }}
power = {{ kind = "none" }}
"#,
            profile.display()
        ),
    )
    .unwrap();
    let out = station()
        .args(["run", "--headless", "--station"])
        .arg(&station_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a missing probe is a station error: {stdout}"
    );
    assert!(
        stdout.contains("no debug probe with serial NOSUCHPROBE; attached probes:"),
        "{stdout}"
    );
    // The run still leaves a record saying what happened.
    let files = record_files(&tmp.path().join("records"));
    assert_eq!(files.len(), 1);
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(value["outcome"], "ERROR");
    assert_eq!(value["fixture"], "bench-a");
}

#[test]
fn ctrl_c_closes_units_as_aborted_and_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = station()
        .args([
            "run",
            "--headless",
            "--station",
            "stations/virtual.toml",
            "--units",
            "400",
            "--json",
            "--records",
        ])
        .arg(tmp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until a second unit is under way (its first steps started), then interrupt it.
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("step_started") && line.contains("\"unit\":2") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let aborted = rest
        .iter()
        .filter(|l| l.contains("unit_finished") && l.contains("ABORTED"))
        .count();
    assert!(
        aborted >= 1,
        "the units under way close as ABORTED: {rest:?}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(4));
    // Every record is whole; the aborted ones say so.
    let mut outcomes = Vec::new();
    for f in record_files(tmp.path()) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        outcomes.push(v["outcome"].as_str().unwrap().to_string());
    }
    assert!(outcomes.len() < 400);
    assert!(outcomes.iter().any(|o| o == "ABORTED"));
}

#[test]
fn every_simulated_family_provisions_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = station()
        .args([
            "run",
            "--headless",
            "--station",
            "stations/families.toml",
            "--units",
            "6",
            "--records",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let validator = schema();
    let mut parts = std::collections::BTreeMap::new();
    for f in record_files(tmp.path()) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert!(
            validator.iter_errors(&v).next().is_none(),
            "{}",
            f.display()
        );
        assert_eq!(v["outcome"], "PASS");
        let ob = &step_named(&v, "option_bytes")["details"];
        assert_eq!(
            ob["after"]["rdp_level"], 1,
            "{}: RDP 1 set and read back",
            v["fixture"]
        );
        assert!(
            !ob["after"]["write_protected"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{}",
            v["fixture"]
        );
        if v["fixture"] == "h755" {
            // The second core's image is pinned in the record and checked running.
            let confirmed = step_named(&v, "confirm_application");
            assert_eq!(confirmed["name"], "confirm_application");
            assert_eq!(confirmed["details"]["cm4_version"], "demo-h755-cm4 1.0.0");
            assert!(
                v["images"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["role"] == "application-cm4"),
                "{}",
                v["images"]
            );
        }
        parts.insert(
            v["fixture"].as_str().unwrap().to_string(),
            v["device"]["idcode"].as_str().unwrap().to_string(),
        );
    }
    // Each part reports its own DEV_ID (facts file section 4).
    let dev_id =
        |f: &str| u32::from_str_radix(parts[f].trim_start_matches("0x"), 16).unwrap() & 0xFFF;
    assert_eq!(
        (
            dev_id("f407"),
            dev_id("f767"),
            dev_id("h743"),
            dev_id("h755"),
            dev_id("l476"),
            dev_id("g071")
        ),
        (0x413, 0x451, 0x450, 0x450, 0x415, 0x460)
    );
    assert_eq!(parts.len(), 6, "one unit per part: {parts:?}");
}

/// A record's step by name.
fn step_named<'a>(record: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    record["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("the record has no step {name}"))
}
