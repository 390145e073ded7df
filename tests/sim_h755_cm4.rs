//! The H755's second core on the virtual bench: its own image and slots, released by the
//! bootloader or booting by itself (OPTSR.BCM4, BOOT_CM4_ADD0), and an A/B bootloader that
//! copies both images at boot, resuming a copy a power cut interrupted. Virtual time only.

use std::collections::BTreeMap;
use std::sync::Arc;

use station::hw::VirtualClock;
use station::image::header::{self, Version};
use station::sim::cm4::SecondCore;
use station::sim::fault::{Cut, CutPoint, CutWhen};
use station::sim::firmware::{self, Firmware};
use station::sim::h7::OPTSR_BCM4;
use station::sim::mcu::Mcu;
use station::sim::{DeviceSpec, Family, SimDevice, Timing, UsbIdentities};

const BOOT: u32 = 0x0800_0000;
const CM7_A: u32 = 0x0802_0000;
const CM7_B: u32 = 0x0808_0000;
const CM4_A: u32 = 0x0810_0000;
const CM4_B: u32 = 0x0818_0000;
const SLOT: u32 = 0x6_0000;

fn version(s: &str) -> Version {
    s.parse().unwrap()
}

fn h755(seed: u64) -> SimDevice {
    let spec = DeviceSpec {
        seed,
        probe_serial: format!("CM4-{seed}"),
        ..spec("STM32H755ZI")
    };
    SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap()
}

fn spec(part: &str) -> DeviceSpec {
    DeviceSpec {
        family: Family::H7,
        part: part.into(),
        seed: 9,
        fixture: "cm4".into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (0x1209, 0xa0a0),
            bootloader: (0x1209, 0xdf00),
            rom: (0x0483, 0xdf11),
            port_path: "cm4".into(),
        },
        probe_serial: "ONE".into(),
    }
}

fn bootloader(design: &str, ab: bool) -> Vec<u8> {
    let mut knobs = BTreeMap::new();
    knobs.insert("app_base".to_string(), format!("{CM7_A:#x}"));
    knobs.insert("app_size".to_string(), format!("{SLOT:#x}"));
    knobs.insert("cm4_base".to_string(), format!("{CM4_A:#x}"));
    knobs.insert("cm4_size".to_string(), format!("{SLOT:#x}"));
    if ab {
        knobs.insert("slot_b".to_string(), format!("{CM7_B:#x}"));
        knobs.insert("cm4_slot_b".to_string(), format!("{CM4_B:#x}"));
    }
    header::build_bootloader(BOOT, version("1.0.0"), design, &knobs, &[0x5A; 4096]).unwrap()
}

fn cm7_app(v: &str) -> Vec<u8> {
    header::build_app(CM7_A, version(v), "cm7-app", &[0x17; 20_000])
}

fn cm4_app(v: &str) -> Vec<u8> {
    header::build_app(CM4_A, version(v), "cm4-app", &[0x44; 30_000])
}

fn program(mcu: &mut Mcu, address: u32, bytes: &[u8]) {
    assert!(mcu.flash.program(address, bytes), "{address:#x}");
}

fn power_cycle(mcu: &mut Mcu) {
    mcu.set_power(false);
    mcu.set_power(true);
}

fn cm4_running(mcu: &Mcu) -> Option<String> {
    match &mcu.cm4 {
        Some(SecondCore::Running { header, base }) => {
            assert_eq!(*base, CM4_A);
            Some(format!("{} {}", header.name, header.version))
        }
        _ => None,
    }
}

fn clear_bcm4(mcu: &mut Mcu) {
    let h7 = mcu.fc.as_h7_mut().unwrap();
    let mut options = h7.stored_options().clone();
    options.optsr &= !OPTSR_BCM4;
    h7.set_stored_options(options);
    power_cycle(mcu);
}

#[test]
fn both_cores_run_their_own_images() {
    let dev = h755(1);
    let mut mcu = dev.lock();
    program(&mut mcu, BOOT, &bootloader("crc-single", false));
    program(&mut mcu, CM7_A, &cm7_app("1.0.0"));
    program(&mut mcu, CM4_A, &cm4_app("1.0.0"));
    power_cycle(&mut mcu);
    assert!(matches!(mcu.firmware, Firmware::App { base: CM7_A, .. }));
    assert_eq!(cm4_running(&mcu).as_deref(), Some("cm4-app 1.0.0"));
    // Reset is not power: the same images come back, and a power cut stops both cores.
    mcu.system_reset();
    assert_eq!(cm4_running(&mcu).as_deref(), Some("cm4-app 1.0.0"));
    mcu.set_power(false);
    assert_eq!(mcu.cm4, None);
}

#[test]
fn a_single_core_part_has_no_second_core() {
    let dev = SimDevice::new(&spec("STM32H743ZI"), Arc::new(VirtualClock::new())).unwrap();
    let mut mcu = dev.lock();
    program(&mut mcu, CM7_A, &cm7_app("1.0.0"));
    power_cycle(&mut mcu);
    assert_eq!(mcu.cm4, None);
}

#[test]
fn crc_single_stays_in_dfu_while_the_cm4_image_is_damaged() {
    let dev = h755(2);
    let mut mcu = dev.lock();
    program(&mut mcu, BOOT, &bootloader("crc-single", false));
    program(&mut mcu, CM7_A, &cm7_app("1.0.0"));
    let mut damaged = cm4_app("1.0.0");
    let last = damaged.len() - 1;
    damaged[last] ^= 0xFF;
    program(&mut mcu, CM4_A, &damaged);
    power_cycle(&mut mcu);
    assert!(
        matches!(mcu.firmware, Firmware::Bootloader(..)),
        "{}",
        mcu.firmware.describe()
    );
    // BCM4 is set at the factory: the CM4 boots its damaged image by itself.
    assert_eq!(mcu.cm4, Some(SecondCore::Corrupt { base: CM4_A }));
    // With BCM4 clear only the bootloader releases it, and it does not.
    clear_bcm4(&mut mcu);
    assert!(matches!(mcu.firmware, Firmware::Bootloader(..)));
    assert_eq!(mcu.cm4, Some(SecondCore::Gated));
}

#[test]
fn with_bcm4_clear_the_bootloader_releases_a_valid_cm4_image() {
    let dev = h755(3);
    let mut mcu = dev.lock();
    program(&mut mcu, BOOT, &bootloader("crc-single", false));
    program(&mut mcu, CM7_A, &cm7_app("1.0.0"));
    program(&mut mcu, CM4_A, &cm4_app("1.0.0"));
    clear_bcm4(&mut mcu);
    assert!(matches!(mcu.firmware, Firmware::App { .. }));
    assert_eq!(cm4_running(&mcu).as_deref(), Some("cm4-app 1.0.0"));
    // An application without a bootloader descriptor releases nothing.
    mcu.flash.erase_all();
    program(
        &mut mcu,
        BOOT,
        &header::build_app(BOOT, version("2.0.0"), "bare", &[1; 64]),
    );
    power_cycle(&mut mcu);
    assert!(matches!(mcu.firmware, Firmware::App { base: BOOT, .. }));
    assert_eq!(mcu.cm4, Some(SecondCore::Gated));
}

/// A/B with both images pending: the copy of each B into its A, in order.
fn ab_unit(seed: u64) -> SimDevice {
    let dev = h755(seed);
    {
        let mut mcu = dev.lock();
        program(&mut mcu, BOOT, &bootloader("ab-slots", true));
        program(&mut mcu, CM7_A, &cm7_app("1.0.0"));
        program(&mut mcu, CM4_A, &cm4_app("1.0.0"));
        power_cycle(&mut mcu);
        assert_eq!(cm4_running(&mcu).as_deref(), Some("cm4-app 1.0.0"));
        // An update lands in both B slots (images linked for A), then the bootloader marks
        // them pending as it leaves DFU.
        program(&mut mcu, CM7_B, &cm7_app("1.1.0"));
        program(&mut mcu, CM4_B, &cm4_app("1.1.0"));
        let Some(design) = station::sim::outcome::installed_design(&mcu) else {
            panic!("no design")
        };
        firmware::mark_pending(&mut mcu, &design).unwrap();
    }
    dev
}

#[test]
fn ab_slots_copies_both_images_at_boot() {
    let dev = ab_unit(4);
    let mut mcu = dev.lock();
    let before = mcu.flash_ops;
    power_cycle(&mut mcu);
    assert!(
        matches!(&mcu.firmware, Firmware::App { header, .. } if header.version == version("1.1.0"))
    );
    assert_eq!(cm4_running(&mcu).as_deref(), Some("cm4-app 1.1.0"));
    assert!(
        mcu.flash_ops > before,
        "the copies are the device's own flash operations"
    );
}

#[test]
fn a_cut_anywhere_in_the_boot_copies_is_resumed_at_the_next_boot() {
    // Count the device's operations in one clean boot, then cut at each of them.
    let clean = ab_unit(5);
    let ops = {
        let mut mcu = clean.lock();
        let before = mcu.flash_ops;
        power_cycle(&mut mcu);
        mcu.flash_ops - before
    };
    assert!(ops >= 4, "{ops} operations");
    let template = ab_unit(5);
    let start = template.lock().flash_ops;
    for n in 1..=ops {
        for when in [CutWhen::Before, CutWhen::Inside, CutWhen::After] {
            let dev = template.snapshot();
            let mut mcu = dev.lock();
            mcu.set_power(false);
            mcu.schedule_cut(Cut {
                point: CutPoint::FlashOp(start + n),
                when,
            });
            mcu.set_power(true);
            assert!(!mcu.powered, "op {n} {when:?}: the cut happened");
            mcu.set_power(true);
            assert!(
                matches!(&mcu.firmware, Firmware::App { header, .. } if header.version == version("1.1.0")),
                "op {n} {when:?}: {}",
                mcu.firmware.describe()
            );
            assert_eq!(
                cm4_running(&mcu).as_deref(),
                Some("cm4-app 1.1.0"),
                "op {n} {when:?}"
            );
        }
    }
}
