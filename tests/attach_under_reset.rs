//! Attaching under reset through the real probe-rs stack, and the station's workaround for
//! probe-rs #4113: after a power-on the first attempt always fails (probe-rs arms the reset
//! vector catch before it enables debug, and the simulated core, like silicon, ignores the
//! catch until DHCSR.C_DEBUGEN is set), so the backend tries once more. A part whose reset line
//! the probe does not reach fails both times and says what to check.
//!
//! Real time: probe-rs waits 100 ms for the core to halt after each failed attempt, so these
//! tests take a few hundred milliseconds; keep them the only ones that do.

mod common;

use std::sync::Arc;

use station::backend::probe_rs::ProbeRsTarget;
use station::hw::{AttachMode, DebugTarget, HwError, VirtualClock};
use station::sim::{DeviceSpec, Family, PartSpec, SimDevice, Timing, UsbIdentities};

fn device(family: Family, part: &str, serial: &str) -> (SimDevice, ProbeRsTarget) {
    let spec = DeviceSpec {
        family,
        part: part.into(),
        seed: 2,
        fixture: serial.into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (1, 1),
            bootloader: (1, 2),
            rom: (0x0483, 0xdf11),
            port_path: serial.into(),
        },
        probe_serial: serial.into(),
    };
    let dev = SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap();
    let chip = PartSpec::lookup(family, part).unwrap().probe_rs_chip;
    let target = ProbeRsTarget::new(&format!("1209:5151:{serial}"), chip, 4000);
    (dev, target)
}

fn power_cycle(dev: &SimDevice) {
    let mut power = dev.power();
    power.set_power(false).unwrap();
    power.set_power(true).unwrap();
}

#[test]
fn the_first_attach_under_reset_after_power_on_is_retried_once_on_every_family() {
    for (family, part) in [
        (Family::F4, "STM32F407VG"),
        (Family::F7, "STM32F767ZI"),
        (Family::H7, "STM32H743ZI"),
        (Family::L4, "STM32L476RG"),
        (Family::G0, "STM32G071RB"),
    ] {
        let (dev, mut target) = device(family, part, &format!("UR-{part}"));
        power_cycle(&dev);
        let before = dev.lock().swd;
        target
            .attach(AttachMode::UnderReset)
            .unwrap_or_else(|e| panic!("{part}: {e}"));
        let after = dev.lock().swd;
        assert_eq!(
            after.reset_catches_missed - before.reset_catches_missed,
            1,
            "{part}: the first attempt ran into #4113"
        );
        assert_eq!(
            after.probe_opens - before.probe_opens,
            2,
            "{part}: one retry"
        );
        assert!(dev.lock().core.halted, "{part}: held at the reset vector");

        // Without a power-on in between, debug stays enabled: no retry is needed.
        target.detach();
        target.attach(AttachMode::UnderReset).unwrap();
        let again = dev.lock().swd;
        assert_eq!(again.probe_opens - after.probe_opens, 1, "{part}");
        assert_eq!(again.reset_catches_missed, after.reset_catches_missed);
        target.detach();
    }
}

#[test]
fn a_part_that_never_stops_under_reset_is_no_target_response_after_one_retry() {
    let (dev, mut target) = device(Family::F4, "STM32F407VG", "UR-NO-NRST");
    dev.lock().faults.nrst_unconnected = true;
    let before = dev.lock().swd.probe_opens;
    match target.attach(AttachMode::UnderReset) {
        Err(HwError::NoResponse(m)) => {
            assert!(m.contains("check power and wiring"), "{m}");
            assert!(m.contains("NRST"), "{m}");
        }
        other => panic!("expected no target response, got {other:?}"),
    }
    assert_eq!(
        dev.lock().swd.probe_opens - before,
        2,
        "tried twice, no more"
    );
    // Without reset it attaches: the SWD lines are fine, only the reset line is not.
    target.attach(AttachMode::Normal).unwrap();
}

#[test]
fn recover_names_the_reset_line_of_a_unit_the_probe_cannot_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = common::sim_fixture(
        "nonrst",
        "profiles/f407-demo.toml",
        "UR-RECOVER",
        "u-1",
        r#"family = "f4", part = "STM32F407VG", seed = 8, faults = ["nrst-unconnected"]"#,
    );
    let station = common::write_station(tmp.path(), "nrst.toml", &[fixture]);
    let out = common::station()
        .args([
            "recover",
            "--fixture",
            "nonrst",
            "--yes-i-typed",
            "X",
            "--station",
        ])
        .arg(&station)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the unit's fault: {stderr}");
    assert!(
        stderr.contains("cannot recover: attach: no response from target")
            && stderr.contains("check power and wiring")
            && stderr.contains("reset line"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("RDP level 2"),
        "it answers, so it is not locked: {stderr}"
    );
}
