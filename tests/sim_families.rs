//! Every simulated part through the real probe-rs stack: attach (both cores on the H755),
//! identity, flashing with verify and the skip of an identical image after preverify, reset. probe-rs waits in real time inside its own code.

use std::sync::Arc;

use station::backend::probe_rs::ProbeRsTarget;
use station::hw::{
    AttachMode, DebugTarget, FlashOptions, FlashPhase, ResetKind, Segment, VirtualClock,
};
use station::sim::{DeviceSpec, Family, PartSpec, SimDevice, Timing, UsbIdentities};
use station::stm32;

fn device(family: Family, part: &str) -> (SimDevice, String) {
    let serial = format!("FAM-{part}");
    let part = part.split('-').next().unwrap_or(part);
    let spec = DeviceSpec {
        family,
        part: part.into(),
        seed: 5,
        fixture: part.into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (1, 1),
            bootloader: (1, 2),
            rom: (0x0483, 0xdf11),
            port_path: part.into(),
        },
        probe_serial: serial.clone(),
    };
    (
        SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap(),
        format!("1209:5151:{serial}"),
    )
}

fn exercise(family: Family, part_name: &str) {
    let part = PartSpec::lookup(family, part_name).unwrap();
    let (dev, selector) = device(family, part_name);
    let mut target = ProbeRsTarget::new(&selector, part.probe_rs_chip, 4000);
    target
        .attach(AttachMode::Normal)
        .unwrap_or_else(|e| panic!("{part_name}: attach: {e}"));
    let id =
        stm32::read_identity(&mut target, family).unwrap_or_else(|e| panic!("{part_name}: {e}"));
    assert_eq!(id.idcode, part.idcode, "{part_name}");
    assert_eq!(id.flash_kib, part.flash_size() / 1024, "{part_name}");
    assert_eq!(id.uid, dev.lock().uid, "{part_name}");
    // 8 KiB across a sector or page boundary where the part has small ones.
    let data: Vec<u8> = (0..8192u32).map(|i| (i * 31 + 7) as u8).collect();
    let seg = Segment::new(part.flash_base, data.clone());
    let mut events = Vec::new();
    let report = target
        .flash(
            std::slice::from_ref(&seg),
            &FlashOptions {
                verify: true,
                preverify: false,
            },
            &mut |p| events.push(p),
        )
        .unwrap_or_else(|e| panic!("{part_name}: flash: {e}"));
    assert!(report.verified && !report.skipped);
    // probe-rs's progress arrives as the station's, each phase counting up to its total.
    for phase in [FlashPhase::Erase, FlashPhase::Program, FlashPhase::Verify] {
        let seen: Vec<_> = events.iter().filter(|p| p.phase == phase).collect();
        let last = seen
            .last()
            .unwrap_or_else(|| panic!("{part_name}: no {phase:?}"));
        assert!(
            seen.windows(2).all(|w| w[0].done <= w[1].done),
            "{part_name}"
        );
        assert!(
            last.done > 0 && last.done == last.total,
            "{part_name}: {last:?}"
        );
    }
    assert_eq!(
        dev.lock().flash.read(part.flash_base, data.len()),
        Some(&data[..]),
        "{part_name}"
    );
    let again = target
        .flash(
            &[seg],
            &FlashOptions {
                verify: true,
                preverify: true,
            },
            &mut |_| {},
        )
        .unwrap();
    assert!(
        again.skipped,
        "{part_name}: preverify skips an identical image"
    );
    target.reset(ResetKind::Run).unwrap();
    target.detach();
}

#[test]
fn f407_through_probe_rs() {
    exercise(Family::F4, "STM32F407VG");
}

#[test]
fn f767_through_probe_rs() {
    exercise(Family::F7, "STM32F767ZI");
}

#[test]
fn h743_through_probe_rs() {
    exercise(Family::H7, "STM32H743ZI");
}

#[test]
fn h755_through_probe_rs_with_both_cores() {
    exercise(Family::H7, "STM32H755ZI");
    // Both cores answer through their own access ports: the CM7 on AP0, the CM4 on AP3.
    use probe_rs::MemoryInterface;
    let (_dev, selector) = device(Family::H7, "STM32H755ZI-cores");
    let probe = probe_rs::probe::list::Lister::new()
        .open(
            selector
                .parse::<probe_rs::probe::DebugProbeSelector>()
                .unwrap(),
        )
        .unwrap();
    let mut session = probe
        .attach("STM32H755ZITx", probe_rs::Permissions::default())
        .unwrap();
    let cpuid = |session: &mut probe_rs::Session, core: usize| {
        session
            .core(core)
            .unwrap()
            .read_word_32(0xE000_ED00)
            .unwrap()
    };
    assert_eq!(
        (cpuid(&mut session, 0) >> 4) & 0xFFF,
        0xC27,
        "core 0 is a Cortex-M7"
    );
    assert_eq!(
        (cpuid(&mut session, 1) >> 4) & 0xFFF,
        0xC24,
        "core 1 is a Cortex-M4"
    );
    let mut cm4 = session.core(1).unwrap();
    cm4.halt(std::time::Duration::from_millis(100)).unwrap();
    assert!(cm4.core_halted().unwrap());
    cm4.run().unwrap();
}

#[test]
fn l476_through_probe_rs() {
    exercise(Family::L4, "STM32L476RG");
}

#[test]
fn g071_through_probe_rs() {
    exercise(Family::G0, "STM32G071RB");
}
