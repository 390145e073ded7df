//! A custom bootloader that exposes the board's QSPI flash as a second DfuSe alternate
//! setting, driven through the real binary in separate processes: a multi-target .dfu file
//! writes its internal-flash target through alt 0 and its QSPI target through alt 1, the QSPI
//! contents persist and read back, and alt 0 refuses QSPI addresses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn station_file(dir: &Path, knobs: &str) -> PathBuf {
    let tag = dir.file_name().unwrap().to_string_lossy().to_string();
    let sim = format!(
        r#"family = "f4", part = "STM32F407VG", seed = 9, initial = "bootloader", bootloader = "crc-single", knobs = {knobs}"#
    );
    let fixture = common::sim_fixture(
        "unit",
        "profiles/f407-demo.toml",
        &format!("QSPI-{tag}"),
        "q-1",
        &sim,
    );
    common::write_station(dir, "station.toml", &[fixture])
}

fn station(args: &[&str], tail: &[&Path]) -> Output {
    let mut cmd = common::station();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    for t in tail {
        cmd.arg(t);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

fn assets() -> Vec<u8> {
    (0..150_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn a_multi_target_dfu_file_writes_qspi_through_the_second_alt() {
    let tmp = tempfile::tempdir().unwrap();
    let s = station_file(tmp.path(), r#"{ qspi = "true" }"#);
    let assets_path = tmp.path().join("assets.bin");
    std::fs::write(&assets_path, assets()).unwrap();
    let packed = tmp.path().join("fw.dfu");
    let app = format!(
        "0x08008000:{}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/f407/app-1.0.0.bin")
            .display()
    );
    let qspi = format!("0x90000000:{}@1", assets_path.display());
    ok(&station(
        &["dfu", "pack", "-o"],
        &[&packed, Path::new(&app), Path::new(&qspi)],
    ));
    let at = ["--station", s.to_str().unwrap(), "--fixture", "unit"];
    let text = ok(&station(
        &[&["dfu", "download", "--verify"][..], &at[..]].concat(),
        &[&packed],
    ));
    assert!(text.contains("verified"), "{text}");
    assert!(
        !text.contains('\r'),
        "no progress bar when stderr is not a terminal"
    );
    // Another process reads the QSPI alt back: the chip's contents persisted.
    let out = tmp.path().join("read.bin");
    ok(&station(
        &[
            &[
                "dfu",
                "upload",
                "--alt",
                "1",
                "--address",
                "0x90000000",
                "--length",
                "150000",
            ][..],
            &at[..],
        ]
        .concat(),
        &[&out],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), assets());
    ok(&station(
        &[&["dfu", "verify"][..], &at[..]].concat(),
        &[&packed],
    ));
    // The internal flash's alt has no QSPI region: refused (an input error) before the unit
    // is touched, from the profile's memory map.
    let refused = station(
        &[&["dfu", "download", "--address", "0x90000000"][..], &at[..]].concat(),
        &[&assets_path],
    );
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("lie outside the part's flash"), "{err}");
}

#[test]
fn a_design_without_the_knob_has_no_second_alt() {
    let tmp = tempfile::tempdir().unwrap();
    let s = station_file(tmp.path(), "{}");
    let at = ["--station", s.to_str().unwrap(), "--fixture", "unit"];
    let out = tmp.path().join("read.bin");
    let refused = station(
        &[
            &[
                "dfu",
                "upload",
                "--alt",
                "1",
                "--address",
                "0x90000000",
                "--length",
                "16",
            ][..],
            &at[..],
        ]
        .concat(),
        &[&out],
    );
    assert_ne!(refused.status.code(), Some(0));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("alt"), "{err}");
}

#[test]
fn dfu_list_shows_each_fixtures_interfaces_and_memory_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let s = station_file(tmp.path(), r#"{ qspi = "true" }"#);
    let out = station(&["dfu", "list", "--json", "--station"], &[&s]);
    let text = ok(&out);
    let listings: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listings.len(), 1, "{text}");
    let l = &listings[0];
    assert_eq!(l["fixture"], "unit");
    assert_eq!(
        (l["vid"].as_u64(), l["pid"].as_u64()),
        (Some(0x1209), Some(0xdf00))
    );
    let i = &l["interfaces"][0];
    assert_eq!(i["mode"], "dfu");
    assert_eq!(i["transfer_size"], 1024);
    assert_eq!(i["dfu_version"], "1.1a", "DfuSe reports bcdDFU 0x011A");
    let alts = i["alts"].as_array().unwrap();
    assert_eq!(alts.len(), 2);
    assert!(alts[1]["name"].as_str().unwrap().starts_with("@QSPI Flash"));
    assert_eq!(alts[1]["regions"][0], "0x90000000 128 x 64 KiB rew");
    // The bootloader's own sectors are read-only in its map.
    assert_eq!(alts[0]["regions"][0], "0x08000000 2 x 16 KiB r--");
}
