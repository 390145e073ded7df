//! DfuSe upload and verify against the virtual bench's bootloaders, over the same
//! `hw::UsbBus` seam the station uses. Virtual time only.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use station::config::{DfuMode, EraseStrategy};
use station::dfu::proto::{self, State};
use station::dfu::{self, DfuDevice, DfuError, Download, Finish};
use station::hw::{ControlSetup, UsbControl, UsbSelector, VirtualClock};
use station::image::Image;
use station::sim::firmware::Firmware;
use station::sim::{DeviceSpec, Family, SimDevice, Timing, UsbIdentities};

const BOOTLOADER: (u16, u16) = (0x1209, 0xdf00);
const ROM: (u16, u16) = (0x0483, 0xdf11);

fn device(name: &str) -> SimDevice {
    let spec = DeviceSpec {
        family: Family::F4,
        part: "STM32F407VG".into(),
        seed: 11,
        fixture: name.into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (0x1209, 0xa0a0),
            bootloader: BOOTLOADER,
            rom: ROM,
            port_path: format!("u-{name}"),
        },
        probe_serial: format!("DFU-UPLOAD-{name}"),
    };
    SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap()
}

fn fixture(path: &str) -> Image {
    Image::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
        Some(0x0800_0000),
    )
    .unwrap()
}

fn bootloader_image() -> Image {
    fixture("fixtures/f407/bootloader-crc-single.bin")
}

/// A unit whose bootloader is already in flash (as the SWD step leaves it).
fn with_bootloader(name: &str) -> SimDevice {
    let dev = device(name);
    {
        let mut mcu = dev.lock();
        for seg in bootloader_image().segments {
            assert!(mcu.flash.program(seg.address, &seg.data));
        }
        mcu.system_reset();
        assert!(
            matches!(mcu.firmware, Firmware::Bootloader(..)),
            "{}",
            mcu.firmware.describe()
        );
    }
    dev
}

fn open(dev: &SimDevice, ids: (u16, u16)) -> (Box<dyn UsbControl>, DfuDevice) {
    let sel = UsbSelector {
        vid: ids.0,
        pid: ids.1,
        serial: None,
        port_path: None,
    };
    let mut pipe = dev.usb_bus().open(&sel).expect("device enumerates");
    let device = DfuDevice::open(pipe.as_mut(), 0).unwrap();
    (pipe, device)
}

fn app() -> Image {
    fixture("fixtures/f407/app-1.0.0.elf")
}

/// Download the application without leaving DFU, so that it can be read back.
fn download_and_stay(dev: &SimDevice) -> (Box<dyn UsbControl>, DfuDevice) {
    let (mut pipe, device) = open(dev, BOOTLOADER);
    let map = device.memory_map(0).unwrap();
    let ops = dfu::plan_download(
        &app().segments,
        &map,
        device.functional.transfer_size,
        EraseStrategy::Upfront,
        false,
    )
    .unwrap();
    let mut engine = Download::new(ops, DfuMode::Fast, device.interface.number);
    let r = dfu::execute(
        &mut engine,
        pipe.as_mut(),
        dev.clock.as_ref(),
        &mut |_, _| {},
    );
    assert_eq!(r, Ok(Finish::Completed));
    (pipe, device)
}

fn state(pipe: &mut dyn UsbControl) -> proto::Status {
    let setup = ControlSetup {
        request_type: 0xA1,
        request: proto::GETSTATUS,
        value: 0,
        index: 0,
    };
    let reply = pipe.control_in(setup, 6, Duration::from_secs(1)).unwrap();
    proto::Status::parse(&reply).unwrap()
}

#[test]
fn upload_reads_back_what_a_download_wrote_and_leaves_the_device_idle() {
    let dev = with_bootloader("readback");
    let (mut pipe, device) = download_and_stay(&dev);
    let transfer = device.functional.transfer_size;
    for seg in &app().segments {
        assert_ne!(seg.data.len() % transfer as usize, 0, "a short last block");
        let mut reports = Vec::new();
        let data = dfu::upload(
            pipe.as_mut(),
            dev.clock.as_ref(),
            device.interface.number,
            transfer,
            seg.address,
            seg.data.len() as u32,
            &mut |done, total| reports.push((done, total)),
        )
        .unwrap();
        assert!(data == seg.data, "segment at {:#010x}", seg.address);
        let total = seg.data.len() as u64;
        assert_eq!(reports.last(), Some(&(total, total)));
        assert_eq!(state(pipe.as_mut()).state, State::Idle);
    }
}

#[test]
fn verify_passes_then_finds_the_exact_corrupted_byte() {
    let dev = with_bootloader("verify");
    let (mut pipe, device) = download_and_stay(&dev);
    let image = app();
    let report = dfu::verify(pipe.as_mut(), dev.clock.as_ref(), &device, &image.segments).unwrap();
    assert!(report.matches(), "{report}");
    assert_eq!(report.bytes_checked, image.total_bytes());

    // Flash programming only clears bits, so corrupt a byte that is not already 0x00.
    let seg = image.segments.last().unwrap();
    let offset = (seg.data.len() / 2..seg.data.len())
        .find(|&i| seg.data[i] != 0)
        .expect("a non-zero byte");
    let address = seg.address + offset as u32;
    assert!(dev.lock().flash.program(address, &[0x00]));

    let report = dfu::verify(pipe.as_mut(), dev.clock.as_ref(), &device, &image.segments).unwrap();
    assert!(!report.matches());
    assert_eq!(report.differing_bytes, 1);
    let first = report.first_mismatch.unwrap();
    assert_eq!(first.address, address, "{report}");
    assert_eq!((first.expected, first.found), (seg.data[offset], 0x00));
}

#[test]
fn upload_block_0_lists_the_dfuse_commands() {
    let dev = with_bootloader("commands");
    let (mut pipe, device) = open(&dev, BOOTLOADER);
    let clock = dev.clock.as_ref();
    let size = device.functional.transfer_size;
    let commands = dfu::upload::commands(pipe.as_mut(), clock, 0, size).unwrap();
    assert_eq!(commands, [0x00, 0x21, 0x41], "ST's USB library");
    assert_eq!(state(pipe.as_mut()).state, State::Idle);

    dev.lock().boot0 = true;
    dev.lock().system_reset();
    let (mut pipe, device) = open(&dev, ROM);
    let size = device.functional.transfer_size;
    let commands = dfu::upload::commands(pipe.as_mut(), clock, 0, size).unwrap();
    assert_eq!(
        commands,
        [0x00, 0x21, 0x41, 0x92],
        "the ROM adds Read Unprotect"
    );
}

#[test]
fn the_rom_reads_flash_at_rdp0_and_answers_err_vendor_at_rdp1() {
    let dev = with_bootloader("rdp");
    dev.lock().boot0 = true;
    dev.lock().system_reset();
    assert!(matches!(dev.lock().firmware, Firmware::Rom(_)));
    let boot = bootloader_image();
    let seg = &boot.segments[0];
    let (mut pipe, device) = open(&dev, ROM);
    let report = dfu::verify(pipe.as_mut(), dev.clock.as_ref(), &device, &boot.segments).unwrap();
    assert!(report.matches(), "RDP 0: {report}");
    drop(pipe);

    {
        let mut mcu = dev.lock();
        let fc = mcu.fc.as_f4_mut().expect("an F4 part");
        let options = fc.stored_options();
        fc.set_stored_options((options & !0xFF00) | 0x5500);
        mcu.system_reset();
        assert!(matches!(mcu.firmware, Firmware::Rom(_)));
    }
    let (mut pipe, device) = open(&dev, ROM);
    let r = dfu::upload(
        pipe.as_mut(),
        dev.clock.as_ref(),
        device.interface.number,
        device.functional.transfer_size,
        seg.address,
        256,
        &mut |_, _| {},
    );
    match r {
        Err(DfuError::Device { op, status }) => {
            assert_eq!(status.status, 0x0B, "errVENDOR: {status}");
            assert_eq!(status.state, State::Error);
            assert!(op.contains("UPLOAD block 2 at 0x08000000"), "{op}");
        }
        other => panic!("expected errVENDOR, got {other:?}"),
    }
    // verify says the same rather than reporting a mismatch.
    let r = dfu::verify(pipe.as_mut(), dev.clock.as_ref(), &device, &boot.segments);
    assert!(
        matches!(&r, Err(DfuError::Device { status, .. }) if status.status == 0x0B),
        "{r:?}"
    );
}
