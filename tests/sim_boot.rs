//! `station sim boot`: a virtual-bench unit's flashed code run on the emulated core, reported in
//! words (executed firmware, stage 1).

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use station::hw::VirtualClock;
use station::sim::{Family, Mcu, PartSpec, Timing, UsbIdentities};

fn boot(scratch: &common::check::Scratch, records: &Path, extra: &[&str]) -> Output {
    common::station()
        .current_dir(scratch.dir.path())
        .args(["sim", "boot", "--station", common::check::STATION])
        .args(["--fixture", "sim-1", "--records"])
        .arg(records)
        .args(extra)
        .output()
        .unwrap()
}

fn state_file(records: &Path) -> std::path::PathBuf {
    records.join(".station/sim/sim-1.state")
}

#[test]
fn a_fresh_unit_boots_its_flash_on_the_core_and_the_command_says_what_happened() {
    let scratch = common::check::Scratch::new();
    let records = tempfile::tempdir().unwrap();
    let out = boot(&scratch, records.path(), &["--budget", "100000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("sim-1: the code at 0x08000000"), "{text}");
    assert!(text.contains("instructions"), "{text}");
}

#[test]
fn code_that_programs_flash_is_reported_and_the_unit_saved() {
    let scratch = common::check::Scratch::new();
    let records = tempfile::tempdir().unwrap();
    // The unit as a previous command left it: the erase-and-program demo in its flash.
    let part = PartSpec::lookup(Family::F4, "STM32F407VG").unwrap();
    let usb = UsbIdentities {
        application: (0x1209, 0xa0a0),
        bootloader: (0x1209, 0xdf00),
        rom: (0x0483, 0xdf11),
        port_path: "sim-1".into(),
    };
    let clock = Arc::new(VirtualClock::new());
    let mut mcu = Mcu::new(part, [1, 2, 3], Timing::Typical, clock, usb.clone());
    let demo = station::sim::exec::asm::f4_erase_and_program();
    assert!(mcu.flash.program(0x0800_0000, &demo));
    std::fs::create_dir_all(state_file(records.path()).parent().unwrap()).unwrap();
    station::sim::state::save(&mcu, 1, &state_file(records.path())).unwrap();

    let out = boot(&scratch, records.path(), &["--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect(&text);
    assert_eq!(v["stop"]["kind"], "breakpoint", "{v}");
    assert_eq!(
        (v["erases"].as_u64(), v["programs"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["saved"], true);
    assert!(
        v["description"]
            .as_str()
            .unwrap()
            .contains("erased sector 1"),
        "{v}"
    );

    let saved = station::sim::state::load(&state_file(records.path()), usb)
        .unwrap()
        .expect("saved unit");
    assert_eq!(
        saved.mcu.flash.read(0x0800_4000, 4),
        Some(&0xCAFE_F00Du32.to_le_bytes()[..])
    );
}
