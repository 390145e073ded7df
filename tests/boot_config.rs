//! L4/G0 boot configuration from the profile (`option_bytes.boot_from`): programmed with the
//! option bytes, read back into the record, and obeyed by the simulated part at its next
//! power-on (the field practice: the ST bootloader while updating, the application after).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use station::config::load_station;
use station::sim::firmware::Firmware;
use station::sim::state;

/// A G071 station whose profile boots from `boot_from`.
fn bench(dir: &Path, boot_from: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = std::fs::read_to_string(repo.join("profiles/g071-demo.toml"))
        .unwrap()
        .replace("\"../fixtures/", &format!("\"{}/fixtures/", repo.display()))
        .replace(
            "bor_level = \"3\"",
            &format!("bor_level = \"3\"\nboot_from = \"{boot_from}\""),
        );
    std::fs::write(dir.join("g0.toml"), profile).unwrap();
    let fixture = common::sim_fixture(
        "g0-1",
        &dir.join("g0.toml").display().to_string(),
        &format!("BOOT-{boot_from}"),
        "g0-1",
        "family = \"g0\", part = \"STM32G071RB\", seed = 31",
    );
    common::write_station(dir, "station.toml", &[fixture])
}

fn run(station: &Path) -> Value {
    let out = common::station()
        .args(["run", "--headless", "--station"])
        .arg(station)
        .output()
        .unwrap();
    let dir = station.parent().unwrap().join("records");
    let record = walk(&dir)
        .pop()
        .unwrap_or_else(|| panic!("no record: {out:?}"));
    serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().is_dir() && !name.starts_with('.') {
            out.extend(walk(&e.path()));
        } else if name.ends_with(".json") {
            out.push(e.path());
        }
    }
    out
}

/// What the saved unit starts at its next power-on, BOOT0 pin low.
fn boots(station: &Path) -> Firmware {
    let bench = load_station(station).unwrap();
    let f = bench.fixture("g0-1").unwrap();
    let path = station::backend::state_path(&station::backend::state_dir(&bench), "g0-1");
    let usb = station::sim::UsbIdentities {
        application: f.usb_application,
        bootloader: f.usb_bootloader,
        rom: f.usb_rom,
        port_path: "g0-1".into(),
    };
    let mut mcu = state::load(&path, usb).unwrap().unwrap().mcu;
    mcu.boot0 = false;
    mcu.set_power(false);
    mcu.set_power(true);
    mcu.firmware.clone()
}

fn option_step(record: &Value) -> &Value {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "option_bytes")
        .unwrap()
}

#[test]
fn a_g0_set_to_boot_system_memory_starts_the_st_bootloader_whatever_its_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let station = bench(tmp.path(), "system");
    let record = run(&station);
    let ob = option_step(&record);
    assert_eq!(ob["details"]["after"]["boot_from"], "system", "{ob}");
    assert_eq!(ob["details"]["before"]["boot_from"], "flash");
    // The ST ROM now starts instead of the bootloader, so the custom DFU never shows up.
    assert_ne!(record["outcome"], "PASS");
    assert!(matches!(boots(&station), Firmware::Rom(_)));
}

#[test]
fn a_g0_set_to_boot_flash_or_its_pin_runs_its_bootloader_with_boot0_low() {
    for boot_from in ["flash", "pin"] {
        let tmp = tempfile::tempdir().unwrap();
        let station = bench(tmp.path(), boot_from);
        let record = run(&station);
        assert_eq!(record["outcome"], "PASS", "{boot_from}: {record}");
        let after = &option_step(&record)["details"]["after"]["boot_from"];
        let want = if boot_from == "pin" {
            "pin (high: system memory)"
        } else {
            "flash"
        };
        assert_eq!(after, want);
        assert!(
            !matches!(boots(&station), Firmware::Rom(_) | Firmware::HardFault(_)),
            "{boot_from}"
        );
    }
}
