//! `station probe list` on the simulated probes: a probe the user may not open is flagged with
//! the udev rule that fixes it, and opening it says the same; an open one is just listed.

use std::sync::Arc;

use station::backend::probe_rs::{ProbeRsTarget, describe_probes, list_probes};
use station::hw::{AttachMode, DebugTarget, HwError, VirtualClock};
use station::sim::{DeviceSpec, Family, SimDevice, Timing, UsbIdentities};

fn device(serial: &str) -> SimDevice {
    let spec = DeviceSpec {
        family: Family::F4,
        part: "STM32F407VG".into(),
        seed: 1,
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
    SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap()
}

#[test]
fn a_probe_without_permission_is_flagged_with_its_udev_rule() {
    let _open = device("LIST-OPEN");
    let denied = device("LIST-DENIED");
    denied.lock().faults.probe_denied = true;

    let probes = list_probes();
    let find = |serial: &str| {
        probes
            .iter()
            .find(|p| p.0 == format!("1209:5151:{serial}"))
            .unwrap_or_else(|| panic!("{serial} not listed: {probes:?}"))
    };
    assert!(find("LIST-OPEN").2, "accessible");
    assert!(!find("LIST-DENIED").2, "flagged");

    let lines = describe_probes(&probes);
    let at = |serial: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("1209:5151:{serial}  ")))
            .unwrap()
    };
    let rule = &lines[at("LIST-DENIED") + 1];
    assert!(rule.contains("no permission to open it"), "{rule}");
    assert!(
        rule.contains(r#"ATTRS{idVendor}=="1209", ATTRS{idProduct}=="5151""#),
        "{rule}"
    );
    let after_open = lines.get(at("LIST-OPEN") + 1);
    assert!(
        after_open.is_none_or(|l| !l.starts_with("  no permission")),
        "{lines:?}"
    );

    let mut target = ProbeRsTarget::new("1209:5151:LIST-DENIED", "STM32F407VGTx", 4000);
    match target.attach(AttachMode::Normal) {
        Err(HwError::Busy(m)) => assert!(m.contains("udev"), "{m}"),
        other => panic!("expected a permission error, got {other:?}"),
    }
}
