//! A simulated unit's state on disk, so that separate `station` processes (a download, then an
//! inspect, then a recover) see the same unit. One file per fixture, replaced atomically:
//! a length-prefixed JSON header followed by the raw flash contents.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::controller::Controller;
use super::core::CortexM;
use super::fault::Cut;
use super::firmware::Firmware;
use super::mcu::{Mcu, UsbIdentities};
use super::part::{Family, PartSpec, Timing};
use crate::hw::VirtualClock;

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    family: Family,
    part: String,
    unit: u64,
    uid: [u32; 3],
    seed: u64,
    timing: Timing,
    now: Duration,
    powered: bool,
    boot0: bool,
    fc: Controller,
    core: CortexM,
    firmware: Firmware,
    #[serde(default)]
    cm4: Option<super::cm4::SecondCore>,
    flash_ops: u64,
    usb_requests: u64,
    cut: Option<Cut>,
    dfu_request: bool,
    #[serde(default)]
    faults: super::fault::Faults,
    flash_len: usize,
    /// The QSPI chip's contents follow the flash, when it was ever touched.
    #[serde(default)]
    qspi_len: usize,
    /// The OTP area's bytes (data and lock bytes), where the part has one.
    #[serde(default)]
    otp: Option<Vec<u8>>,
}

/// What `load` hands back besides the MCU.
pub struct Loaded {
    pub mcu: Mcu,
    pub unit: u64,
}

pub fn save(mcu: &Mcu, unit: u64, path: &Path) -> Result<(), String> {
    let header = Header {
        format: FORMAT,
        family: mcu.part.family,
        part: mcu.part.name.to_string(),
        unit,
        uid: mcu.uid,
        seed: mcu.seed,
        timing: mcu.timing_mode,
        now: crate::hw::Clock::now(mcu.clock.as_ref()),
        powered: mcu.powered,
        boot0: mcu.boot0,
        fc: mcu.fc.clone(),
        core: mcu.core.clone(),
        firmware: mcu.firmware.clone(),
        cm4: mcu.cm4.clone(),
        flash_ops: mcu.flash_ops,
        usb_requests: mcu.usb_requests,
        cut: mcu.cut,
        dfu_request: mcu.dfu_request,
        faults: mcu.faults.clone(),
        flash_len: mcu.flash.size() as usize,
        qspi_len: mcu.qspi.as_ref().map_or(0, |q| q.size() as usize),
        otp: mcu.otp.as_ref().map(|o| o.bytes.clone()),
    };
    let json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let flash = mcu
        .flash
        .read(mcu.flash.base(), mcu.flash.size() as usize)
        .unwrap_or(&[]);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension("state.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&(json.len() as u32).to_le_bytes())?;
        f.write_all(&json)?;
        f.write_all(flash)?;
        if let Some(q) = &mcu.qspi {
            f.write_all(q.read(q.base(), q.size() as usize).unwrap_or(&[]))?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("saving simulator state {}: {e}", path.display()))
}

pub fn load(path: &Path, usb: UsbIdentities) -> Result<Option<Loaded>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let bad = |why: &str| {
        format!(
            "{}: not a simulator state file ({why}); `station sim reset` starts afresh",
            path.display()
        )
    };
    let len = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("too short"))?;
    let json = bytes
        .get(4..4 + len)
        .ok_or_else(|| bad("truncated header"))?;
    let header: Header = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
    if header.format != FORMAT {
        return Err(bad(&format!("format {} is not {FORMAT}", header.format)));
    }
    let rest = &bytes[(4 + len).min(bytes.len())..];
    if rest.len() != header.flash_len + header.qspi_len {
        return Err(bad("flash size"));
    }
    let (flash, qspi) = rest.split_at(header.flash_len);
    let part = PartSpec::lookup(header.family, &header.part).ok_or_else(|| bad("unknown part"))?;
    let clock = Arc::new(VirtualClock::starting_at(header.now));
    let mut mcu = Mcu::new(part, header.uid, header.timing, clock, usb);
    mcu.flash.poke(mcu.flash.base(), flash);
    if let (Some(area), Some(bytes)) = (mcu.otp.as_mut(), &header.otp) {
        if bytes.len() != area.bytes.len() {
            return Err(bad("OTP size"));
        }
        area.bytes.copy_from_slice(bytes);
    }
    if !qspi.is_empty() {
        let chip = super::qspi::chip(&mut mcu.qspi);
        if chip.size() as usize != qspi.len() {
            return Err(bad("QSPI size"));
        }
        chip.poke(chip.base(), qspi);
    }
    mcu.seed = header.seed;
    mcu.fc = header.fc;
    mcu.core = header.core;
    mcu.boot0 = header.boot0;
    mcu.flash_ops = header.flash_ops;
    mcu.usb_requests = header.usb_requests;
    mcu.cut = header.cut;
    mcu.dfu_request = header.dfu_request;
    mcu.faults = header.faults;
    mcu.restore_power_state(header.powered, header.firmware, header.cm4);
    Ok(Some(Loaded {
        mcu,
        unit: header.unit,
    }))
}
