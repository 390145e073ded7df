//! The DFU host engine against the virtual bench's DfuSe bootloaders, over the same
//! `hw::UsbBus` seam the station uses. Virtual time only.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use station::config::{DfuMode, EraseStrategy};
use station::dfu::{self, DfuDevice, DfuError, Download, Finish, Op};
use station::hw::{Clock, ControlSetup, UsbControl, UsbSelector, VirtualClock};
use station::image::Image;
use station::sim::firmware::Firmware;
use station::sim::{DeviceSpec, Family, SimDevice, Timing, UsbIdentities};

const BOOTLOADER: (u16, u16) = (0x1209, 0xdf00);
const APPLICATION: (u16, u16) = (0x1209, 0xa0a0);

fn device(name: &str) -> SimDevice {
    let spec = DeviceSpec {
        family: Family::F4,
        part: "STM32F407VG".into(),
        seed: 9,
        fixture: name.into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: APPLICATION,
            bootloader: BOOTLOADER,
            rom: (0x0483, 0xdf11),
            port_path: format!("t-{name}"),
        },
        probe_serial: format!("DFU-TEST-{name}"),
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

/// A unit whose bootloader is already in flash (as the SWD step leaves it).
fn with_bootloader(name: &str) -> SimDevice {
    let dev = device(name);
    {
        let mut mcu = dev.lock();
        for seg in fixture("fixtures/f407/bootloader-crc-single.bin").segments {
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

fn open(dev: &SimDevice, ids: (u16, u16)) -> Box<dyn UsbControl> {
    let sel = UsbSelector {
        vid: ids.0,
        pid: ids.1,
        serial: None,
        port_path: None,
    };
    dev.usb_bus().open(&sel).expect("device enumerates")
}

fn app() -> Image {
    fixture("fixtures/f407/app-1.0.0.elf")
}

fn plan(pipe: &mut dyn UsbControl, image: &Image, erase: EraseStrategy) -> (DfuDevice, Vec<Op>) {
    let device = DfuDevice::open(pipe, 0).unwrap();
    let map = device.memory_map(0).unwrap();
    let ops = dfu::plan_download(
        &image.segments,
        &map,
        device.functional.transfer_size,
        erase,
        true,
    )
    .unwrap();
    (device, ops)
}

fn download(
    dev: &SimDevice,
    mode: DfuMode,
    stop: Option<usize>,
) -> (Result<Finish, DfuError>, Duration, usize) {
    let image = app();
    let mut pipe = open(dev, BOOTLOADER);
    let (device, ops) = plan(pipe.as_mut(), &image, EraseStrategy::Progressive);
    let n = ops.len();
    let mut engine = Download::new(ops, mode, device.interface.number);
    if let Some(k) = stop {
        engine = engine.stop_before(k);
    }
    let t0 = dev.clock.now();
    let r = dfu::execute(
        &mut engine,
        pipe.as_mut(),
        dev.clock.as_ref(),
        &mut |_, _| {},
    );
    (r, dev.clock.now() - t0, n)
}

fn flash_matches(dev: &SimDevice, image: &Image) -> bool {
    let mcu = dev.lock();
    image
        .segments
        .iter()
        .all(|s| mcu.flash.read(s.address, s.data.len()) == Some(&s.data[..]))
}

#[test]
fn download_then_leave_boots_the_application() {
    let dev = with_bootloader("dl");
    let (r, _, _) = download(&dev, DfuMode::Strict, None);
    assert_eq!(r, Ok(Finish::Completed));
    assert!(flash_matches(&dev, &app()));
    let mcu = dev.lock();
    match &mcu.firmware {
        Firmware::App { header, .. } => assert_eq!(header.version.to_string(), "1.0.0"),
        other => panic!("expected the application, got {}", other.describe()),
    }
    drop(mcu);
    let mut pipe = open(&dev, APPLICATION);
    let d = dfu::host::read_device_descriptor(pipe.as_mut()).unwrap();
    assert_eq!(d.bcd_device, 0x0100);
}

#[test]
fn fast_polling_is_quicker_and_writes_the_same_bytes() {
    let strict = with_bootloader("strict");
    let fast = with_bootloader("fast");
    let (rs, ts, _) = download(&strict, DfuMode::Strict, None);
    let (rf, tf, _) = download(&fast, DfuMode::Fast, None);
    assert_eq!(rs, Ok(Finish::Completed));
    assert_eq!(rf, Ok(Finish::Completed));
    assert!(flash_matches(&fast, &app()));
    // ST's library advertises 50 ms per block; programming 1 KiB really takes ~4 ms. Both
    // modes wait out the same sector erases (about 2 s here).
    assert!(tf * 2 < ts, "fast {tf:?} vs strict {ts:?}");
}

#[test]
fn stopping_before_any_operation_leaves_a_recoverable_unit() {
    // crc-single never boots a half-written slot: after a cut the unit waits in DFU.
    let probe = with_bootloader("count");
    let (_, _, n) = download(&probe, DfuMode::Fast, None);
    for k in [0, 1, 2, 5, n / 2, n - 1] {
        let dev = with_bootloader(&format!("stop{k}"));
        let (r, _, _) = download(&dev, DfuMode::Fast, Some(k));
        assert_eq!(r, Ok(Finish::Stopped { at: k }));
        let mut power = dev.power();
        power.set_power(false).unwrap();
        power.set_power(true).unwrap();
        // Cut before the leave: every block is written, so the CRC holds and the new
        // application boots. Any earlier cut leaves the unit waiting in its bootloader.
        let firmware = dev.lock().firmware.clone();
        if k == n - 1 {
            assert!(
                matches!(firmware, Firmware::App { .. }),
                "cut before the leave: {}",
                firmware.describe()
            );
            continue;
        } else {
            assert!(
                matches!(firmware, Firmware::Bootloader(..)),
                "cut before op {k}: {}",
                firmware.describe()
            );
        }
        // And an uninterrupted update recovers it without SWD.
        let (r, _, _) = download(&dev, DfuMode::Fast, None);
        assert_eq!(r, Ok(Finish::Completed), "recovery after cut at {k}");
        assert!(matches!(dev.lock().firmware, Firmware::App { .. }));
    }
}

fn class_out(
    pipe: &mut dyn UsbControl,
    request: u8,
    value: u16,
    data: &[u8],
) -> Result<(), station::hw::UsbError> {
    let setup = ControlSetup {
        request_type: 0x21,
        request,
        value,
        index: 0,
    };
    pipe.control_out(setup, data, Duration::from_secs(1))
}

fn getstatus(pipe: &mut dyn UsbControl) -> dfu::proto::Status {
    let setup = ControlSetup {
        request_type: 0xA1,
        request: dfu::proto::GETSTATUS,
        value: 0,
        index: 0,
    };
    dfu::proto::Status::parse(&pipe.control_in(setup, 6, Duration::from_secs(1)).unwrap()).unwrap()
}

#[test]
fn engine_recovers_from_dfu_error_and_from_a_half_done_download() {
    // dfuERROR: ST's library enters it on CLRSTATUS outside dfuERROR.
    let dev = with_bootloader("err");
    let mut pipe = open(&dev, BOOTLOADER);
    class_out(pipe.as_mut(), dfu::proto::CLRSTATUS, 0, &[]).unwrap();
    assert_eq!(getstatus(pipe.as_mut()).state, dfu::proto::State::Error);
    drop(pipe);
    assert_eq!(download(&dev, DfuMode::Fast, None).0, Ok(Finish::Completed));

    // dfuDNLOAD-IDLE: a SET_ADDRESS left half way.
    let dev = with_bootloader("half");
    let mut pipe = open(&dev, BOOTLOADER);
    class_out(pipe.as_mut(), dfu::proto::DNLOAD, 0, &[0x21, 0, 0x80, 0, 8]).unwrap();
    getstatus(pipe.as_mut());
    assert_eq!(
        getstatus(pipe.as_mut()).state,
        dfu::proto::State::DnloadIdle
    );
    drop(pipe);
    assert_eq!(
        download(&dev, DfuMode::Strict, None).0,
        Ok(Finish::Completed)
    );
}

#[test]
fn device_refuses_writes_into_the_bootloader_with_err_target() {
    let dev = with_bootloader("target");
    let mut pipe = open(&dev, BOOTLOADER);
    let device = DfuDevice::open(pipe.as_mut(), 0).unwrap();
    // The host's own map check is bypassed here to see the device's answer.
    let ops = vec![
        Op::SetAddress {
            address: 0x0800_0000,
        },
        Op::Write {
            block: 2,
            address: 0x0800_0000,
            data: vec![0; 64],
        },
    ];
    let mut engine = Download::new(ops, DfuMode::Fast, device.interface.number);
    let err = dfu::execute(
        &mut engine,
        pipe.as_mut(),
        dev.clock.as_ref(),
        &mut |_, _| {},
    )
    .unwrap_err();
    match err {
        DfuError::Device { status, .. } => assert_eq!(status.status, 0x01, "errTARGET"),
        other => panic!("{other:?}"),
    }
    // And the plan refuses it before sending anything: the bootloader sectors are read-only.
    let map = device.memory_map(0).unwrap();
    let boot = station::hw::Segment::new(0x0800_0000, vec![0; 16]);
    assert!(dfu::plan_download(&[boot], &map, 1024, EraseStrategy::Upfront, false).is_err());
}

#[test]
fn an_application_is_not_in_dfu_mode() {
    let dev = with_bootloader("app");
    assert_eq!(download(&dev, DfuMode::Fast, None).0, Ok(Finish::Completed));
    let mut pipe = open(&dev, APPLICATION);
    assert!(matches!(
        DfuDevice::open(pipe.as_mut(), 0),
        Err(DfuError::NotInDfuMode)
    ));
}
