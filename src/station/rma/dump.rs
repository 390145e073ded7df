//! `station dump`: the whole flash and the option bytes over SWD, for failure analysis. The
//! raw flash goes to FILE, what it is to FILE.json (identity, option bytes, SHA-256).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::hw::FixtureHw;
use crate::station::dut::{attach_any, hw_error, step_error};
use crate::stm32::options;

/// Read this much per SWD transfer (a progress step on a slow probe).
const CHUNK: u32 = 64 * 1024;

#[derive(Clone, Debug, Serialize)]
pub struct DumpInfo {
    pub file: String,
    pub uid: String,
    pub idcode: String,
    pub flash_size_kib: u32,
    pub flash_start: String,
    pub bytes: u64,
    pub sha256: String,
    /// The option registers as read, by name (hex).
    pub option_words: std::collections::BTreeMap<String, String>,
    /// The family's decoded option bytes.
    pub option_bytes: serde_json::Value,
    pub station: String,
    pub fixture: String,
    pub profile: String,
    pub dumped_at: String,
}

/// FILE.json beside FILE.
pub fn sidecar(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Dump the unit on `fixture` into `out` and `out`.json. The caller saves `hw` afterwards.
pub fn dump(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
    out: &Path,
) -> Result<DumpInfo, StationError> {
    let json = sidecar(out);
    for path in [out, json.as_path()] {
        if path.exists() {
            return Err(StationError::usage(format!(
                "{} already exists: a dump never overwrites evidence; choose another -o FILE or move it away",
                path.display()
            )));
        }
    }
    crate::station::dut::ensure_powered(hw).map_err(hw_error)?;
    attach_any(hw).map_err(hw_error)?;
    let result = read_all(station, fixture, hw);
    hw.debug.detach();
    let (mut info, flash) = result?;
    info.file = out.display().to_string();
    write_new(out, &flash)?;
    let mut text = serde_json::to_string_pretty(&info)
        .map_err(|e| StationError::station(format!("describing the dump: {e}")))?;
    text.push('\n');
    write_new(&json, text.as_bytes())?;
    Ok(info)
}

fn read_all(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
) -> Result<(DumpInfo, Vec<u8>), StationError> {
    let profile = station.profile_of(fixture);
    let id = crate::station::dut::identify(hw, profile).map_err(step_error)?;
    let words = options::read(profile.family, hw.debug.as_mut()).map_err(hw_error)?;
    let rdp_level = options::summary(profile.family, &words).rdp_level;
    if rdp_level >= 1 {
        return Err(StationError::fail(format!(
            "refusing to dump UID {}: it is at RDP level {}, so its flash cannot be read over SWD. \
             `station inspect` shows what the registers give; `station recover` regresses RDP, \
             which erases the flash",
            id.uid_hex(),
            rdp_level
        )));
    }
    let start = profile.memory.flash.start;
    let size = id.flash_kib.saturating_mul(1024);
    let mut flash = vec![0u8; size as usize];
    for (i, chunk) in flash.chunks_mut(CHUNK as usize).enumerate() {
        hw.debug
            .read_bytes(start + i as u32 * CHUNK, chunk)
            .map_err(hw_error)?;
    }
    let info = DumpInfo {
        file: String::new(),
        uid: id.uid_hex(),
        idcode: format!("{:#010x}", id.idcode),
        flash_size_kib: id.flash_kib,
        flash_start: format!("{start:#010x}"),
        bytes: flash.len() as u64,
        sha256: crate::image::sha256_hex(&flash),
        option_words: words
            .0
            .iter()
            .map(|(n, v)| (n.to_string(), format!("{v:#010x}")))
            .collect(),
        option_bytes: options::decode(profile.family, &words),
        station: station.id.clone(),
        fixture: fixture.id.clone(),
        profile: format!("{} {}", profile.name, profile.revision),
        dumped_at: Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    };
    Ok((info, flash))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), StationError> {
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| StationError::station(format!("{}: {e}", path.display())))
}
