//! RMA end to end on the virtual bench, through the real binary in separate processes:
//! provision a unit, brick it with an interrupted update and a damaged bootloader, then
//! inspect, dump and recover it. probe-rs waits in real time, so this is one test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use station::sim::fault::{Cut, CutPoint, CutWhen};

const FIXTURE: &str = "sim-2";
const AT: [&str; 4] = ["--station", "stations/virtual.toml", "--fixture", FIXTURE];

fn station(args: &[&str], records: &Path) -> Output {
    common::station()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("--records")
        .arg(records)
        .output()
        .expect("station runs")
}

/// `station <command> --station .. --fixture sim-2 <tail>`.
fn at(command: &[&str], tail: &[&str], records: &Path) -> Output {
    let args: Vec<&str> = command.iter().chain(&AT).chain(tail).copied().collect();
    station(&args, records)
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn records_of(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for unit in std::fs::read_dir(dir).unwrap().flatten() {
        let name = unit.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !unit.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(unit.path()).unwrap().flatten() {
            let v = serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
            out.push((f.path(), v));
        }
    }
    out
}

/// Edit the unit the fixture holds, as the simulator keeps it between processes.
fn edit_unit(records: &Path, edit: impl FnOnce(&mut station::sim::Mcu)) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bench = station::config::load_station(&root.join("stations/virtual.toml")).unwrap();
    bench.records_dir = records.to_path_buf();
    let fixture = bench.fixture(FIXTURE).unwrap();
    let path = station::backend::state_path(&station::backend::state_dir(&bench), FIXTURE);
    let usb = station::sim::UsbIdentities {
        application: fixture.usb_application,
        bootloader: fixture.usb_bootloader,
        rom: fixture.usb_rom,
        port_path: FIXTURE.into(),
    };
    let mut loaded = station::sim::state::load(&path, usb).unwrap().unwrap();
    edit(&mut loaded.mcu);
    station::sim::state::save(&loaded.mcu, loaded.unit, &path).unwrap();
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.schema.json");
    let text = std::fs::read_to_string(path).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn a_unit_bricked_by_an_interrupted_update_is_inspected_refused_a_dump_and_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = station(
        &[
            "run",
            "--headless",
            "--station",
            "stations/virtual.toml",
            "--units",
            "1",
            "--fixture",
            FIXTURE,
        ],
        dir,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let (_, production) = records_of(dir).pop().unwrap();
    let uid = production["uid"].as_str().unwrap().to_string();
    let label = &uid[uid.len() - 8..];

    // An update cut by a power loss half way through slot A...
    edit_unit(dir, |mcu| {
        let n = mcu.flash_ops + 30;
        mcu.schedule_cut(Cut {
            point: CutPoint::FlashOp(n),
            when: CutWhen::Inside,
        });
    });
    let cut = at(
        &["dfu", "download"],
        &["fixtures/f407/app-1.1.0.dfu", "--mode", "fast"],
        dir,
    );
    assert_ne!(cut.status.code(), Some(0), "{}", text(&cut));
    // ...and a bootloader descriptor that did not survive either: nothing runs at power-up.
    // The unit stays off, as the cut left it: the station switches it on.
    edit_unit(dir, |mcu| {
        assert!(!mcu.powered);
        assert!(mcu.flash.poke(0x0800_0400, &[0x5A; 64]));
    });

    // Inspect over SWD: registers yes, flash no (RDP 1).
    let swd = json(&at(&["inspect"], &["--json"], dir));
    assert_eq!(swd["identity"]["uid"], uid.as_str());
    assert_eq!(swd["rdp_level"], 1);
    assert_eq!(
        swd["option_bytes"]["write_protected"],
        serde_json::json!([0, 1])
    );
    assert_eq!(swd["flash_readable"], false);
    assert_eq!(swd["bootloader"]["status"], "unreadable");
    assert_eq!(swd["label"], label);
    assert_eq!(swd["last_production_record"], production["record_id"]);
    assert!(
        swd["usb_now"].as_str().unwrap().starts_with("nothing"),
        "{swd}"
    );
    let notes = swd["notes"].to_string();
    assert!(notes.contains("switched it on"), "{notes}");
    assert!(notes.contains("cannot be read over SWD"), "{notes}");
    assert_eq!(swd["would_boot"]["runs"], "unknown");
    let plain = at(&["inspect"], &[], dir);
    assert!(text(&plain).contains("RDP level 1"), "{}", text(&plain));

    // Over DFU only the ST ROM is left (BOOT0 strap), and it refuses reads at RDP 1.
    let rom = json(&at(&["inspect"], &["--via", "dfu", "--json"], dir));
    assert_eq!(rom["rdp_level"], 1, "{rom}");
    assert!(rom["notes"].to_string().contains("errVENDOR"), "{rom}");

    // Dump refuses at RDP 1 and writes nothing.
    let out = dir.join("unit.bin");
    let dump = at(&["dump"], &["-o", out.to_str().unwrap()], dir);
    assert_eq!(dump.status.code(), Some(1), "{}", text(&dump));
    assert!(text(&dump).contains("RDP level 1"), "{}", text(&dump));
    assert!(!out.exists());

    // Recover is gated on the label.
    let bare = at(&["recover"], &[], dir);
    assert_eq!(bare.status.code(), Some(2), "{}", text(&bare));
    assert!(
        text(&bare).contains(&format!("--yes-i-typed {label}")),
        "{}",
        text(&bare)
    );
    let wrong = at(&["recover"], &["--yes-i-typed", "NOT-IT"], dir);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert_eq!(records_of(dir).len(), 1, "a refused recover writes nothing");
    let ok = at(&["recover"], &["--yes-i-typed", label], dir);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));

    let validator = schema();
    let rma: Vec<Value> = records_of(dir)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["kind"] == "rma")
        .collect();
    assert_eq!(rma.len(), 1);
    let rma = &rma[0];
    let errors: Vec<String> = validator.iter_errors(rma).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rma["outcome"], "PASS", "{rma}");
    assert_eq!(rma["parent_record"], production["record_id"]);
    assert_eq!(rma["serial"], production["serial"]);
    let steps: Vec<&str> = rma["steps"]
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
            "unprotect",
            "flash_bootloader",
            "verify_bootloader",
            "option_bytes",
            "restart"
        ]
    );
    assert_eq!(rma["steps"][2]["details"]["mass_erase"], true);
    assert_eq!(rma["steps"][5]["details"]["after"]["rdp_level"], 1);

    // Locked again, with the profile's bootloader, waiting for its application.
    let swd = json(&at(&["inspect"], &["--json"], dir));
    assert_eq!(swd["rdp_level"], 1);
    assert_eq!(
        swd["option_bytes"]["write_protected"],
        serde_json::json!([0, 1])
    );
    let dfu = json(&at(&["inspect"], &["--via", "dfu", "--json"], dir));
    assert_eq!(dfu["bootloader"]["status"], "match", "{dfu}");
    assert_eq!(dfu["would_boot"]["runs"], "bootloader_dfu", "{dfu}");

    let app = at(&["dfu", "download"], &["fixtures/f407/app-1.0.0.elf"], dir);
    assert_eq!(app.status.code(), Some(0), "{}", text(&app));
    let dfu = json(&at(&["inspect"], &["--via", "dfu", "--json"], dir));
    assert_eq!(dfu["would_boot"]["runs"], "application", "{dfu}");
    assert_eq!(dfu["slots"][0]["check"], "valid", "{dfu}");
    assert!(
        dfu["usb_now"].as_str().unwrap().starts_with("application"),
        "{dfu}"
    );
    let after = json(&at(&["inspect"], &["--json"], dir));
    assert!(
        after["usb_now"]
            .as_str()
            .unwrap()
            .starts_with("application"),
        "{after}"
    );
}

#[test]
fn a_blank_unit_at_rdp_0_is_read_and_dumped_over_swd() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let at4 = |command: &[&str], tail: &[&str]| {
        let head = ["--station", "stations/virtual.toml", "--fixture", "sim-4"];
        let args: Vec<&str> = command.iter().chain(&head).chain(tail).copied().collect();
        station(&args, dir)
    };
    let seen = json(&at4(&["inspect"], &["--json"]));
    assert_eq!(seen["rdp_level"], 0);
    assert_eq!(seen["flash_readable"], true);
    assert_eq!(seen["bootloader"]["status"], "differs");
    assert_eq!(seen["bootloader"]["check"], "blank (erased)");
    assert_eq!(seen["slots"][0]["check"], "blank");
    assert_eq!(seen["would_boot"]["runs"], "hard_fault");

    let out = dir.join("blank.bin");
    let dump = at4(&["dump"], &["-o", out.to_str().unwrap()]);
    assert_eq!(dump.status.code(), Some(0), "{}", text(&dump));
    let flash = std::fs::read(&out).unwrap();
    assert_eq!(flash.len(), 1024 * 1024);
    assert!(flash.iter().all(|b| *b == 0xFF));
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join("blank.bin.json")).unwrap()).unwrap();
    assert_eq!(info["sha256"], station::image::sha256_hex(&flash).as_str());
    assert_eq!(info["uid"], seen["identity"]["uid"]);
    assert_eq!(info["option_bytes"]["rdp_level"], 0);
    let again = at4(&["dump"], &["-o", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("already exists"));
}
