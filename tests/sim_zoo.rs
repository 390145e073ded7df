//! The bootloader zoo on the virtual bench: each design's documented boot outcome under power
//! cuts at every flash operation of an update, including the device's own copy at boot.
//! Virtual time only; every cut point starts from a snapshot of the same pre-update state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use station::config::{DfuMode, EraseStrategy};
use station::dfu::{self, DfuDevice, Download};
use station::hw::{Segment, UsbSelector, VirtualClock};
use station::image::Image;
use station::image::header::Version;
use station::sim::fault::{Cut, CutPoint, CutWhen};
use station::sim::firmware::Firmware;
use station::sim::outcome::{self, BootOutcome};
use station::sim::{DeviceSpec, Family, SimDevice, Timing, UsbIdentities};

const BOOTLOADER: (u16, u16) = (0x1209, 0xdf00);
const APPLICATION: (u16, u16) = (0x1209, 0xa0a0);
const ROM: (u16, u16) = (0x0483, 0xdf11);
const SLOT_A: u32 = 0x0800_8000;
const SLOT_B: u32 = 0x0808_0000;

fn load_at(path: &str, base: u32) -> Image {
    Image::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/f407")
            .join(path),
        Some(base),
    )
    .unwrap()
}

/// A unit with `bootloader` and application 1.0.0 installed and running.
fn provisioned(bootloader: &str, name: &str) -> SimDevice {
    let spec = DeviceSpec {
        family: Family::F4,
        part: "STM32F407VG".into(),
        seed: 3,
        fixture: name.into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: APPLICATION,
            bootloader: BOOTLOADER,
            rom: ROM,
            port_path: "zoo".into(),
        },
        probe_serial: format!("ZOO-{name}"),
    };
    let dev = SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap();
    {
        let mut mcu = dev.lock();
        let boot = load_at(bootloader, 0x0800_0000);
        let app = load_at("app-small-1.0.0.bin", SLOT_A);
        for seg in boot.segments.iter().chain(&app.segments) {
            assert!(mcu.flash.program(seg.address, &seg.data));
        }
        mcu.system_reset();
        assert!(
            matches!(mcu.firmware, Firmware::App { .. }),
            "{bootloader}: {}",
            mcu.firmware.describe()
        );
    }
    dev.snapshot()
}

fn open(dev: &SimDevice, ids: (u16, u16)) -> Option<Box<dyn station::hw::UsbControl>> {
    dev.usb_bus()
        .open(&UsbSelector {
            vid: ids.0,
            pid: ids.1,
            serial: None,
            port_path: None,
        })
        .ok()
}

#[derive(Clone, Copy, PartialEq)]
enum Entry {
    Detach,
    Boot0,
}

/// Run an update to 1.1.0 the way the design is entered; stop quietly when the unit dies.
fn update(dev: &SimDevice, entry: Entry, target: u32) {
    let ids = match entry {
        Entry::Boot0 => {
            let mut mcu = dev.lock();
            mcu.boot0 = true;
            mcu.system_reset();
            ROM
        }
        Entry::Detach => {
            let Some(mut app) = open(dev, APPLICATION) else {
                return;
            };
            if dfu::host::detach(app.as_mut(), 0, 255).is_err() || app.reset().is_err() {
                return;
            }
            if matches!(dev.lock().firmware, Firmware::Rom(_)) {
                ROM
            } else {
                BOOTLOADER
            }
        }
    };
    let Some(mut pipe) = open(dev, ids) else {
        return;
    };
    let Ok(device) = DfuDevice::open(pipe.as_mut(), 0) else {
        return;
    };
    let Ok(map) = device.memory_map(0) else {
        return;
    };
    let image = load_at("app-small-1.1.0.bin", SLOT_A);
    let segments: Vec<Segment> = image
        .segments
        .iter()
        .map(|s| Segment::new(s.address - SLOT_A + target, s.data.clone()))
        .collect();
    let ops = dfu::plan_download(
        &segments,
        &map,
        device.functional.transfer_size,
        EraseStrategy::Progressive,
        true,
    )
    .unwrap();
    let mut engine = Download::new(ops, DfuMode::Fast, device.interface.number);
    let _ = dfu::execute(
        &mut engine,
        pipe.as_mut(),
        dev.clock.as_ref(),
        &mut |_, _| {},
    );
    if entry == Entry::Boot0 {
        dev.lock().boot0 = false;
    }
}

const OLD: Version = Version {
    major: 1,
    minor: 0,
    patch: 0,
};
const NEW: Version = Version {
    major: 1,
    minor: 1,
    patch: 0,
};

/// Cut at every flash operation of the update and of the boots after it, in every mode.
struct Sweep {
    results: BTreeMap<BootOutcome, Vec<(u64, CutWhen)>>,
    /// Relative indices of the operations the device did on its own (a boot-time copy).
    device_ops: Vec<u64>,
}

fn sweep(bootloader: &str, entry: Entry, target: u32) -> Sweep {
    let base = provisioned(bootloader, bootloader);
    // Calibrate: a clean update and the boot that follows list the operations to cut.
    let clean = base.snapshot();
    let first = clean.lock().flash_ops + 1;
    update(&clean, entry, target);
    let clean_outcome = outcome::classify(&mut clean.lock(), OLD, NEW);
    assert_eq!(
        clean_outcome,
        BootOutcome::NewImage,
        "{bootloader}: an uninterrupted update works"
    );
    let last = clean.lock().flash_ops;
    assert!(last >= first, "{bootloader}: the update does flash work");
    let device_ops = clean
        .lock()
        .ops
        .iter()
        .filter(|o| o.index >= first && o.origin == station::sim::fault::Origin::Device)
        .map(|o| o.index - first)
        .collect();
    let mut results: BTreeMap<BootOutcome, Vec<(u64, CutWhen)>> = BTreeMap::new();
    for op in first..=last {
        for when in [CutWhen::Before, CutWhen::Inside, CutWhen::After] {
            let dev = base.snapshot();
            dev.lock().schedule_cut(Cut {
                point: CutPoint::FlashOp(op),
                when,
            });
            update(&dev, entry, target);
            // A cut in the boot-time copy falls during the first power-up after the update.
            let mut mcu = dev.lock();
            if mcu.cut.is_some() {
                mcu.set_power(false);
                mcu.set_power(true);
            }
            let got = outcome::classify(&mut mcu, OLD, NEW);
            results.entry(got).or_default().push((op - first, when));
        }
    }
    Sweep {
        results,
        device_ops,
    }
}

fn outcomes(r: &BTreeMap<BootOutcome, Vec<(u64, CutWhen)>>) -> Vec<BootOutcome> {
    r.keys().copied().collect()
}

#[test]
fn crc_single_never_bricks_and_has_no_rollback() {
    let r = sweep("bootloader-crc-single.bin", Entry::Detach, SLOT_A).results;
    assert!(r.keys().all(|o| o.recoverable()), "{:?}", outcomes(&r));
    assert!(
        r.contains_key(&BootOutcome::InBootloader),
        "a cut mid-update waits in DFU"
    );
    // No rollback: once the first erase has run, the old image is gone.
    let old = r.get(&BootOutcome::OldImage).cloned().unwrap_or_default();
    assert_eq!(
        old,
        vec![(0, CutWhen::Before)],
        "only a cut before any flash work keeps the old image"
    );
}

#[test]
fn ab_slots_never_bricks_even_when_its_own_copy_is_cut() {
    let s = sweep("bootloader-ab-slots.bin", Entry::Detach, SLOT_B);
    assert!(
        s.device_ops.len() > 3,
        "the sweep cuts the device's own copy too"
    );
    let r = s.results;
    assert!(r.keys().all(|o| o.recoverable()), "{:?}", outcomes(&r));
    assert!(
        r.contains_key(&BootOutcome::OldImage),
        "a cut before the copy keeps the old image"
    );
    assert!(r.contains_key(&BootOutcome::NewImage));
}

#[test]
fn ab_slots_that_does_not_resume_its_copy_bricks_during_it() {
    let s = sweep("bootloader-ab-slots-no-resume.bin", Entry::Detach, SLOT_B);
    let broken: Vec<_> = s
        .results
        .iter()
        .filter(|(o, _)| !o.recoverable())
        .flat_map(|(_, v)| v.clone())
        .collect();
    assert!(!broken.is_empty(), "{:?}", outcomes(&s.results));
    assert!(
        broken.iter().all(|(op, _)| s.device_ops.contains(op)),
        "it bricks only in its own copy: {broken:?} vs device ops {:?}",
        s.device_ops
    );
}

#[test]
fn naive_bricks() {
    let r = sweep("bootloader-naive.bin", Entry::Detach, SLOT_A).results;
    assert!(r.keys().any(|o| !o.recoverable()), "{:?}", outcomes(&r));
}

#[test]
fn st_rom_entered_from_the_application_bricks() {
    let r = sweep("bootloader-st-rom-app-jump.bin", Entry::Detach, SLOT_A).results;
    assert!(r.keys().any(|o| !o.recoverable()), "{:?}", outcomes(&r));
}

#[test]
fn st_rom_strapped_by_boot0_never_bricks_but_needs_the_strap() {
    let r = sweep("bootloader-st-rom-boot0.bin", Entry::Boot0, SLOT_A).results;
    assert!(r.keys().all(|o| o.recoverable()), "{:?}", outcomes(&r));
    assert!(
        r.contains_key(&BootOutcome::NeedsBoot0),
        "{:?}",
        outcomes(&r)
    );
}

#[test]
fn the_same_seed_tears_the_same_bits() {
    let run = || {
        let dev = provisioned("bootloader-crc-single.bin", "det");
        let first = dev.lock().flash_ops + 1;
        dev.lock().schedule_cut(Cut {
            point: CutPoint::FlashOp(first + 2),
            when: CutWhen::Inside,
        });
        update(&dev, Entry::Detach, SLOT_A);
        let mcu = dev.lock();
        (mcu.flash.read(SLOT_A, 0x8000).unwrap().to_vec(), mcu.now())
    };
    let (a, ta) = run();
    let (b, tb) = run();
    assert_eq!(ta, tb);
    assert!(a == b, "same seed, same torn bytes");
}
