//! STM32H7 option bytes (RM0433/RM0399, facts file section 3.3): OPTSR and the per-bank write
//! protection, programmed through OPTSR_PRG / WPSN_PRGx and OPTSTART; they apply at once.

use std::time::Duration;

use serde_json::json;

use super::options::{Activation, OptionError, OptionWords};
use super::poll_until;
use crate::config::{BorLevel, OptionBytesSpec};
use crate::hw::{Clock, DebugTarget, HwError};

const FLASH: u32 = 0x5200_2000;
const OPTKEYR: u32 = FLASH + 0x08;
const OPTCR: u32 = FLASH + 0x18;
const OPTSR_CUR: u32 = FLASH + 0x1C;
const OPTSR_PRG: u32 = FLASH + 0x20;
const OPTCCR: u32 = FLASH + 0x24;
/// BOOT_CUR / BOOT_PRG (H745/H755: BOOT7, the Cortex-M7's): ADD0 bits 15:0, ADD1 bits 31:16,
/// each bits 31:16 of the boot address (facts 3.3, [R] for the scaling).
const BOOT_CUR: u32 = FLASH + 0x40;
const BOOT_PRG: u32 = FLASH + 0x44;
const WPSN_CUR: [u32; 2] = [FLASH + 0x038, FLASH + 0x138];
const WPSN_PRG: [u32; 2] = [FLASH + 0x03C, FLASH + 0x13C];
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;
const OPTLOCK: u32 = 1 << 0;
const OPTSTART: u32 = 1 << 1;
const OPT_BUSY: u32 = 1 << 0;
const OPTCHANGEERR: u32 = 1 << 30;
/// The OPTSR bits the profile governs: BOR_LEV, IWDG1_SW, NRST_STOP_D1, NRST_STBY_D1, RDP.
const GOVERNED: u32 = 0xFF00 | 0xC | 0x10 | 0xC0;
pub const SECTORS: u32 = 16;

pub fn read(target: &mut dyn DebugTarget) -> Result<OptionWords, HwError> {
    Ok(OptionWords(vec![
        (
            "OPTSR",
            target.read_word(OPTSR_CUR)? & !(OPT_BUSY | OPTCHANGEERR),
        ),
        ("WPSN1", target.read_word(WPSN_CUR[0])? & 0xFF),
        ("WPSN2", target.read_word(WPSN_CUR[1])? & 0xFF),
        ("BOOT", target.read_word(BOOT_CUR)?),
    ]))
}

pub fn encode(spec: &OptionBytesSpec, current: &OptionWords) -> Result<OptionWords, String> {
    let rdp: u32 = match *spec.rdp.get_ref() {
        0 => 0xAA,
        1 => 0x55,
        2 => 0xCC,
        other => return Err(format!("RDP level {other} does not exist")),
    };
    // H7 BOR_LEV runs the other way round from the F4 (facts 3.3): 00 off ... 11 2.7 V.
    let bor = match spec.bor_level {
        BorLevel::Off => 0,
        BorLevel::Level1 => 1,
        BorLevel::Level2 => 2,
        BorLevel::Level3 => 3,
    };
    let bit = |on: bool, n: u32| if on { 1 << n } else { 0 };
    let governed = (rdp << 8)
        | (bor << 2)
        | bit(spec.iwdg_sw, 4)
        | bit(spec.nrst_stop, 6)
        | bit(spec.nrst_stdby, 7);
    let optsr = (current.get("OPTSR") & !GOVERNED) | governed;
    let mut wpsn = [0xFFu32; 2];
    for &s in spec.write_protect.get_ref() {
        if s >= SECTORS {
            return Err(format!(
                "sector {s} does not exist on this part (0..{})",
                SECTORS - 1
            ));
        }
        wpsn[(s / 8) as usize] &= !(1 << (s % 8));
    }
    let mut boot = current.get("BOOT");
    if let Some(address) = spec.boot_address {
        if !address.is_multiple_of(1 << 16) {
            return Err(format!(
                "boot_address {address:#010x} cannot be set on an H7: it must be a multiple of                  64 KiB (e.g. 0x08000000)"
            ));
        }
        boot = (boot & 0xFFFF_0000) | (address >> 16);
    }
    Ok(OptionWords(vec![
        ("OPTSR", optsr),
        ("WPSN1", wpsn[0]),
        ("WPSN2", wpsn[1]),
        ("BOOT", boot),
    ]))
}

pub fn decode(words: &OptionWords) -> serde_json::Value {
    let optsr = words.get("OPTSR");
    let rdp_byte = (optsr >> 8) & 0xFF;
    let protected: Vec<u32> = (0..SECTORS)
        .filter(|s| words.get(if s / 8 == 0 { "WPSN1" } else { "WPSN2" }) & (1 << (s % 8)) == 0)
        .collect();
    let bor = ["off", "1", "2", "3"][((optsr >> 2) & 3) as usize];
    json!({
        "raw": { "optsr": format!("{optsr:#010x}"), "wpsn1": format!("{:#04x}", words.get("WPSN1")), "wpsn2": format!("{:#04x}", words.get("WPSN2")) },
        "rdp_byte": rdp_byte,
        "rdp_level": match rdp_byte { 0xAA => 0, 0xCC => 2, _ => 1 },
        "write_protected": protected,
        "bor_level": bor,
        "iwdg_sw": optsr & (1 << 4) != 0,
        "nrst_stop": optsr & (1 << 6) != 0,
        "nrst_stdby": optsr & (1 << 7) != 0,
        "boot_address0": format!("{:#010x}", (words.get("BOOT") & 0xFFFF) << 16),
        "boot_address1": format!("{:#010x}", words.get("BOOT") & 0xFFFF_0000),
    })
}

pub fn program(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    wanted: &OptionWords,
) -> Result<Activation, OptionError> {
    let current = target.read_word(OPTSR_CUR)?;
    if (current >> 8) & 0xFF == 0xCC {
        return Err(OptionError::Frozen);
    }
    if target.read_word(OPTCR)? & OPTLOCK != 0 {
        let _ = target.write_word(OPTKEYR, OPTKEY1);
        let _ = target.write_word(OPTKEYR, OPTKEY2);
        if target.read_word(OPTCR)? & OPTLOCK != 0 {
            return Err(OptionError::StillLocked);
        }
    }
    target.write_word(OPTCCR, OPTCHANGEERR)?;
    target.write_word(OPTSR_PRG, wanted.get("OPTSR"))?;
    target.write_word(WPSN_PRG[0], wanted.get("WPSN1"))?;
    target.write_word(WPSN_PRG[1], wanted.get("WPSN2"))?;
    target.write_word(BOOT_PRG, wanted.get("BOOT"))?;
    let optcr = target.read_word(OPTCR)?;
    target.write_word(OPTCR, optcr | OPTSTART)?;
    // An RDP regression includes erasing both banks: allow for it.
    let sr = poll_until(target, clock, OPTSR_CUR, Duration::from_secs(60), |v| {
        v & OPT_BUSY == 0
    })?;
    let optcr = target.read_word(OPTCR)?;
    target.write_word(OPTCR, optcr | OPTLOCK)?;
    if sr & OPTCHANGEERR != 0 {
        return Err(OptionError::Flags("OPTSR_CUR.OPTCHANGEERR".into()));
    }
    Ok(Activation::Immediate)
}
