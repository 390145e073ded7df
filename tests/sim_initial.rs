//! The state a simulated unit arrives in (`[fixtures.sim] initial`, `bootloader`, `knobs`),
//! seen through the real binary: a provisioned RMA return, a unit that arrives with a
//! generated bootloader design, and the config errors that guard these keys.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn station_file(dir: &Path, sim_tail: &str) -> PathBuf {
    let tag = dir.file_name().unwrap().to_string_lossy().to_string();
    let sim = format!(r#"family = "f4", part = "STM32F407VG", seed = 9, {sim_tail}"#);
    let fixture = common::sim_fixture(
        "unit",
        "profiles/f407-demo.toml",
        &format!("INITIAL-{tag}"),
        "ini-1",
        &sim,
    );
    common::write_station(dir, "station.toml", &[fixture])
}

fn run(station: &Path, args: &[&str]) -> Output {
    common::station()
        .args(args)
        .arg("--station")
        .arg(station)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_provisioned_unit_arrives_locked_with_its_images() {
    let tmp = tempfile::tempdir().unwrap();
    let station = station_file(tmp.path(), r#"initial = "provisioned""#);
    let swd = json(&run(&station, &["inspect", "--fixture", "unit", "--json"]));
    assert_eq!(swd["rdp_level"], 1, "the profile's RDP level: {swd}");
    assert_eq!(
        swd["option_bytes"]["write_protected"],
        serde_json::json!([0, 1])
    );
    let dfu = json(&run(
        &station,
        &["inspect", "--fixture", "unit", "--via", "dfu", "--json"],
    ));
    assert_eq!(dfu["bootloader"]["status"], "match", "{dfu}");
    assert_eq!(dfu["slots"][0]["check"], "valid", "{dfu}");
    assert_eq!(dfu["would_boot"]["runs"], "application", "{dfu}");
}

#[test]
fn a_generated_bootloader_design_runs_on_arrival() {
    let tmp = tempfile::tempdir().unwrap();
    let station = station_file(
        tmp.path(),
        r#"initial = "bootloader", bootloader = "ab-slots", knobs = { resume_copy = "false" }"#,
    );
    let dfu = json(&run(
        &station,
        &["inspect", "--fixture", "unit", "--via", "dfu", "--json"],
    ));
    assert_eq!(dfu["bootloader"]["found"]["design"], "ab-slots", "{dfu}");
    assert_eq!(dfu["slots"][0]["check"], "blank");
    assert_eq!(dfu["would_boot"]["runs"], "bootloader_dfu", "{dfu}");
    // The generated design takes an update over DFU with no SWD at all.
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/f407/app-1.0.0.bin");
    let out = common::station()
        .args([
            "dfu",
            "download",
            "--fixture",
            "unit",
            "--address",
            "0x08080000",
        ])
        .arg(&app)
        .arg("--station")
        .arg(&station)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = json(&run(
        &station,
        &["inspect", "--fixture", "unit", "--via", "dfu", "--json"],
    ));
    assert_eq!(
        after["slots"][0]["check"], "valid",
        "B copied into A: {after}"
    );
}

#[test]
fn initial_state_keys_are_checked_with_their_location() {
    let cases = [
        (
            r#"knobs = { resume_copy = "false" }"#,
            "set sim.bootloader too",
        ),
        (r#"bootloader = "ab-slots""#, "units arrive blank"),
        (
            r#"initial = "bootloader", bootloader = "clever""#,
            "unknown bootloader design",
        ),
        (
            r#"initial = "bootloader", bootloader = "ab-slots", knobs = { check_a = "maybe" }"#,
            "check_a",
        ),
        (r#"initial = "shiny""#, "initial"),
    ];
    for (tail, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let station = station_file(tmp.path(), tail);
        let out = run(&station, &["check"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tail}: {err}");
        assert!(
            err.contains("station.toml:11:") && err.contains(expected),
            "{tail}: {err}"
        );
    }
}
