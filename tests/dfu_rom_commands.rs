//! The ST ROM bootloader's destructive commands through the real binary, in separate
//! processes on one persisted unit: mass erase, an option-byte write (the ROM resets to apply
//! it), and Read Unprotect. Each needs the unit's USB serial typed.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

const AT: [&str; 4] = [
    "--station",
    "stations/zoo.toml",
    "--fixture",
    "st-rom-boot0",
];

fn station(args: &[&str], records: &Path) -> Output {
    common::station()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .args(AT)
        .arg("--records")
        .arg(records)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn inspect(records: &Path) -> Value {
    let out = station(&["inspect", "--json"], records);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rom_mass_erase_option_write_and_unprotect_need_the_typed_serial() {
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path();
    // Without the serial nothing happens, and the message names it.
    let refused = station(&["dfu", "mass-erase"], records);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    let serial = err
        .rsplit("--yes-i-typed ")
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(!serial.is_empty() && !serial.contains(' '), "{err}");
    let wrong = station(&["dfu", "mass-erase", "--yes-i-typed", "NOT-IT"], records);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/f407/app-1.0.0.elf");
    let loaded = station(&["dfu", "download", app.to_str().unwrap()], records);
    assert_eq!(loaded.status.code(), Some(0), "{}", text(&loaded));
    assert_eq!(inspect(records)["slots"][0]["check"], "valid");
    let done = station(&["dfu", "mass-erase", "--yes-i-typed", &serial], records);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert_eq!(
        inspect(records)["slots"][0]["check"],
        "blank",
        "mass erase erased it"
    );

    // Option bytes through the ROM's alt 1: USER, RDP 0x55 (level 1), nWRP with sectors 0
    // and 1 protected ([R] layout, docs/sim.md). The ROM resets to apply them.
    let ob = tmp.path().join("ob.bin");
    let mut bytes = [0xFFu8; 16];
    bytes[0] = 0xEC;
    bytes[1] = 0x55;
    bytes[8] = 0xFC;
    std::fs::write(&ob, bytes).unwrap();
    let args = ["dfu", "download", "--alt", "1", "--address", "0x1FFFC000"];
    let unconfirmed = station(&[&args[..], &[ob.to_str().unwrap()]].concat(), records);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", text(&unconfirmed));
    assert_eq!(
        inspect(records)["rdp_level"],
        0,
        "nothing written unconfirmed"
    );
    let written = station(
        &[&args[..], &[ob.to_str().unwrap(), "--yes-i-typed", &serial]].concat(),
        records,
    );
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    let after = inspect(records);
    assert_eq!(after["rdp_level"], 1, "{after}");
    assert_eq!(
        after["option_bytes"]["write_protected"],
        serde_json::json!([0, 1])
    );
    // At level 1 the ROM refuses reads: errVENDOR, a unit failure.
    let out = tmp.path().join("read.bin");
    let read = station(
        &[
            "dfu",
            "upload",
            "--alt",
            "1",
            "--address",
            "0x1FFFC000",
            "--length",
            "16",
            out.to_str().unwrap(),
        ],
        records,
    );
    assert_eq!(read.status.code(), Some(1), "{}", text(&read));
    assert!(text(&read).contains("errVENDOR"), "{}", text(&read));

    // Read Unprotect: back to level 0, which erases the flash.
    let unprotect = station(&["dfu", "unprotect", "--yes-i-typed", &serial], records);
    assert_eq!(unprotect.status.code(), Some(0), "{}", text(&unprotect));
    assert_eq!(inspect(records)["rdp_level"], 0);
}
