//! `station bench dfu`: how close the DFU host comes to the physical limit on the virtual
//! bench. For each run it reports the device-bound time (the device's own erase and program
//! times plus the bus time of the requests strictly needed), the spec-bound time (the same with
//! every wait at least the bwPollTimeout the device reported), the station's own time on the
//! same virtual clock, GETSTATUS polls per block, and the ratio for its mode.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{DfuMode, EraseStrategy};
use crate::dfu::{self, DfuDevice, Download, Op};
use crate::hw::{Clock, Segment, UsbSelector, VirtualClock};
use crate::image::generate::SplitMix64;
use crate::image::header::{self, Version};
use crate::sim::dfuse::DfuseConfig;
use crate::sim::firmware::Firmware;
use crate::sim::usb::bus_time;
use crate::sim::{DeviceSpec, Family, Mcu, SimDevice, Timing, UsbIdentities};

#[derive(Clone, Debug, Serialize)]
pub struct BenchRun {
    pub part: String,
    pub bootloader: String,
    pub mode: String,
    pub image_bytes: u64,
    pub device_bound_s: f64,
    pub spec_bound_s: f64,
    pub station_s: f64,
    pub polls_per_block: f64,
    pub ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

const ROM: (u16, u16) = (0x0483, 0xdf11);
const BOOTLOADER: (u16, u16) = (0x1209, 0xdf00);

fn device(name: &str) -> SimDevice {
    device_of(Family::F4, "STM32F407VG", name)
}

fn device_of(family: Family, part: &str, name: &str) -> SimDevice {
    let spec = DeviceSpec {
        family,
        part: part.into(),
        seed: 1,
        fixture: format!("bench-{name}"),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (0x1209, 0xa0a0),
            bootloader: BOOTLOADER,
            rom: ROM,
            port_path: "bench".into(),
        },
        probe_serial: format!("BENCH-{name}"),
    };
    // The part exists: DeviceSpec names a known F4 part.
    SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap_or_else(|e| panic!("{e}"))
}

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What one plan costs at best, on the device's own timing and the bus model.
fn bounds(ops: &[Op], mcu: &Mcu, config: &DfuseConfig) -> (Duration, Duration) {
    let status = bus_time(6);
    let (mut device, mut spec) = (Duration::ZERO, Duration::ZERO);
    for op in ops {
        let (payload, work, poll) = match op {
            Op::Erase { address } => {
                let size = mcu
                    .flash
                    .sector_of(*address)
                    .and_then(|s| mcu.flash.sector(s))
                    .map_or(0, |(_, s)| s);
                (5, mcu.timing.erase_time(size), config.poll_erase)
            }
            Op::SetAddress { .. } => (5, Duration::ZERO, config.poll_command),
            Op::Write { data, .. } => (
                data.len(),
                mcu.timing.word_program * (data.len() as u32).div_ceil(4),
                config.poll_program,
            ),
            Op::Leave | Op::MassErase | Op::ReadUnprotect | Op::WriteOptions { .. } => continue,
        };
        // DNLOAD, the GETSTATUS that starts the work, the wait, the GETSTATUS that ends it.
        let fixed = bus_time(payload) + status + status;
        device += fixed + work;
        spec += fixed + work.max(poll);
    }
    (device, spec)
}

/// One benchmark run: `segments` into a unit already waiting in DFU mode.
pub fn run_once(
    dev: &SimDevice,
    ids: (u16, u16),
    segments: &[Segment],
    mode: DfuMode,
    margin: Duration,
) -> Result<BenchRun, String> {
    let bus = dev.usb_bus();
    let mut pipe = bus
        .open(&UsbSelector {
            vid: ids.0,
            pid: ids.1,
            serial: None,
            port_path: None,
        })
        .map_err(|e| e.to_string())?;
    let device = DfuDevice::open(pipe.as_mut(), 0).map_err(|e| e.to_string())?;
    let map = device.memory_map(0).map_err(|e| e.to_string())?;
    let ops = dfu::plan_download(
        segments,
        &map,
        device.functional.transfer_size,
        EraseStrategy::Progressive,
        false,
    )?;
    let (device_bound, spec_bound) = {
        let mcu = dev.lock();
        let config = match &mcu.firmware {
            Firmware::Rom(f) | Firmware::Bootloader(_, f) => f.config.clone(),
            other => return Err(format!("not in DFU mode: {}", other.describe())),
        };
        let (d, s) = bounds(&ops, &mcu, &config);
        (d, s)
    };
    let mut engine = Download::new(ops, mode, device.interface.number).with_poll_margin(margin);
    let t0 = dev.clock.now();
    dfu::execute(
        &mut engine,
        pipe.as_mut(),
        dev.clock.as_ref(),
        &mut |_, _| {},
    )
    .map_err(|e| e.to_string())?;
    let station = dev.clock.now() - t0;
    let bound = if mode == DfuMode::Fast {
        device_bound
    } else {
        spec_bound
    };
    let blocks = engine.stats.blocks.max(1) as f64;
    Ok(BenchRun {
        part: dev.lock().part.name.to_string(),
        bootloader: String::new(),
        mode: format!("{mode:?}").to_lowercase(),
        image_bytes: engine.stats.bytes_written,
        device_bound_s: device_bound.as_secs_f64(),
        spec_bound_s: spec_bound.as_secs_f64(),
        station_s: station.as_secs_f64(),
        polls_per_block: engine.stats.polls as f64 / blocks,
        ratio: bound.as_secs_f64() / station.as_secs_f64(),
        note: None,
    })
}

/// An H743 in its ROM bootloader, for a whole-flash image.
pub fn h743_rom() -> SimDevice {
    let dev = device_of(Family::H7, "STM32H743ZI", "h743-rom");
    {
        let mut mcu = dev.lock();
        mcu.boot0 = true;
        mcu.system_reset();
    }
    dev
}

/// An F407 in its ROM bootloader, for a whole-flash image.
pub fn f407_rom() -> SimDevice {
    let dev = device("st-rom");
    {
        let mut mcu = dev.lock();
        mcu.boot0 = true;
        mcu.system_reset();
    }
    dev
}

/// An F407 running the `ab-slots` bootloader in DFU mode (blank slots).
pub fn f407_ab_slots() -> SimDevice {
    let dev = device("ab-slots");
    {
        let mut mcu = dev.lock();
        let mut knobs = std::collections::BTreeMap::new();
        for (k, v) in [
            ("app_base", "0x08008000"),
            ("app_size", "0x78000"),
            ("slot_b", "0x08080000"),
        ] {
            knobs.insert(k.to_string(), v.to_string());
        }
        let image = header::build_bootloader(
            0x0800_0000,
            Version {
                major: 1,
                minor: 0,
                patch: 0,
            },
            "ab-slots",
            &knobs,
            &[0; 4096],
        )
        .unwrap_or_default();
        mcu.flash.program(0x0800_0000, &image);
        mcu.system_reset();
    }
    dev
}

/// The runs the issue asks for, in both polling modes.
pub fn dfu_runs(margin: Duration) -> Vec<BenchRun> {
    let mut runs = Vec::new();
    // 1 MiB to an F407's ROM: the whole flash.
    let whole = vec![Segment::new(0x0800_0000, bytes(1, 1024 * 1024))];
    // The largest application an A/B layout allows on a 1 MiB F407 with a 32 KiB bootloader:
    // slot B holds 480 KiB less the 32-byte pending mark, so a 512 KiB application cannot fit.
    let app = vec![Segment::new(0x0808_0000, bytes(2, 479 * 1024))];
    // 2 MiB to an H743's ROM: both banks.
    let h7_whole = vec![Segment::new(0x0800_0000, bytes(3, 2 * 1024 * 1024))];
    for mode in [DfuMode::Fast, DfuMode::Strict] {
        for (name, ids, segments, make) in [
            ("st-rom", ROM, &whole, f407_rom as fn() -> SimDevice),
            ("st-rom", ROM, &h7_whole, h743_rom as fn() -> SimDevice),
            (
                "ab-slots",
                BOOTLOADER,
                &app,
                f407_ab_slots as fn() -> SimDevice,
            ),
        ] {
            let dev = make();
            match run_once(&dev, ids, segments, mode, margin) {
                Ok(mut run) => {
                    run.bootloader = name.into();
                    if name == "ab-slots" {
                        run.note =
                            Some("479 KiB: the largest application this A/B layout holds".into());
                    }
                    runs.push(run);
                }
                Err(e) => runs.push(BenchRun {
                    part: "STM32F407VG".into(),
                    bootloader: name.into(),
                    mode: format!("{mode:?}").to_lowercase(),
                    image_bytes: 0,
                    device_bound_s: 0.0,
                    spec_bound_s: 0.0,
                    station_s: 0.0,
                    polls_per_block: 0.0,
                    ratio: 0.0,
                    note: Some(format!("failed: {e}")),
                }),
            }
        }
    }
    runs
}
