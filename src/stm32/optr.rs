//! STM32L4 and STM32G0 option bytes (RM0351 / RM0444, facts file sections 3.4 and 3.5): FLASH_OPTR
//! and the WRP areas, programmed with OPTSTRT and loaded by OBL_LAUNCH, which resets the part.

use std::time::Duration;

use serde_json::json;

use super::options::{Activation, OptionError, OptionWords};
use super::poll_until;
use crate::config::{BootFrom, BorLevel, OptionBytesSpec};
use crate::hw::{Clock, DebugTarget, HwError};

pub struct Layout {
    /// nBOOT1, and on the G0 nBOOT_SEL and nBOOT0 (software BOOT0), as OPTR bit numbers.
    nboot1_bit: u32,
    software_boot0: Option<(u32, u32)>,
    /// WRP start/end page fields are this wide (L4 8 bits, G0 6 bits).
    page_mask: u32,
    /// Pages a WRP1 area can cover (bank 1 on the L476).
    pages: u32,
    nrst_stop_bit: u32,
    nrst_stdby_bit: u32,
    bor: fn(BorLevel) -> (u32, u32),
    bor_decode: fn(u32) -> &'static str,
}

const FLASH: u32 = 0x4002_2000;
const KEYR: u32 = FLASH + 0x08;
const OPTKEYR: u32 = FLASH + 0x0C;
const SR: u32 = FLASH + 0x10;
const CR: u32 = FLASH + 0x14;
const OPTR: u32 = FLASH + 0x20;
const WRP1AR: u32 = FLASH + 0x2C;
const WRP1BR: u32 = FLASH + 0x30;
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;
const CR_OPTSTRT: u32 = 1 << 17;
const CR_OBL_LAUNCH: u32 = 1 << 27;
const CR_OPTLOCK: u32 = 1 << 30;
const CR_LOCK: u32 = 1 << 31;
const SR_BSY: u32 = 1 << 16;
/// OPERR, PROGERR, WRPERR, PGAERR, SIZERR, PGSERR, MISERR, FASTERR, OPTVERR.
const SR_ERRORS: u32 = 0x83FA;
/// FLASH_SR's error flags (facts 3.4, 3.5).
pub const SR_FLAGS: [(u32, &str); 9] = [
    (1, "OPERR"),
    (3, "PROGERR"),
    (4, "WRPERR"),
    (5, "PGAERR"),
    (6, "SIZERR"),
    (7, "PGSERR"),
    (8, "MISERR"),
    (9, "FASTERR"),
    (15, "OPTVERR"),
];
const IWDG_SW: u32 = 1 << 16;

/// L4 BOR_LEV 10:8 runs 0 (1.7 V) to 4 (2.8 V); there is no "off", so off is the lowest level.
fn l4_bor(level: BorLevel) -> (u32, u32) {
    let v = match level {
        BorLevel::Off => 0,
        BorLevel::Level1 => 1,
        BorLevel::Level2 => 2,
        BorLevel::Level3 => 4,
    };
    (0x7 << 8, v << 8)
}

fn l4_bor_decode(optr: u32) -> &'static str {
    ["off", "1", "2", "2.5V", "3"]
        .get(((optr >> 8) & 7) as usize)
        .copied()
        .unwrap_or("?")
}

/// G0: BOR_EN bit 8, BORR_LEV 10:9, BORF_LEV 12:11.
fn g0_bor(level: BorLevel) -> (u32, u32) {
    let v = match level {
        BorLevel::Off => 0,
        BorLevel::Level1 => 1 << 8,
        BorLevel::Level2 => (1 << 8) | (1 << 9) | (1 << 11),
        BorLevel::Level3 => (1 << 8) | (2 << 9) | (2 << 11),
    };
    (0x1F << 8, v)
}

fn g0_bor_decode(optr: u32) -> &'static str {
    if optr & (1 << 8) == 0 {
        return "off";
    }
    ["1", "2", "3", "3"][((optr >> 9) & 3) as usize]
}

pub const L4: Layout = Layout {
    nboot1_bit: 23,
    software_boot0: None,
    page_mask: 0xFF,
    pages: 256,
    nrst_stop_bit: 12,
    nrst_stdby_bit: 13,
    bor: l4_bor,
    bor_decode: l4_bor_decode,
};
pub const G0: Layout = Layout {
    nboot1_bit: 25,
    software_boot0: Some((24, 26)),
    page_mask: 0x3F,
    pages: 64,
    nrst_stop_bit: 13,
    nrst_stdby_bit: 14,
    bor: g0_bor,
    bor_decode: g0_bor_decode,
};

pub fn read(_l: &Layout, target: &mut dyn DebugTarget) -> Result<OptionWords, HwError> {
    Ok(OptionWords(vec![
        ("OPTR", target.read_word(OPTR)?),
        ("WRP1AR", target.read_word(WRP1AR)?),
        ("WRP1BR", target.read_word(WRP1BR)?),
    ]))
}

fn area(l: &Layout, word: u32) -> Option<(u32, u32)> {
    let (start, end) = (word & l.page_mask, (word >> 16) & l.page_mask);
    (start <= end).then_some((start, end))
}

pub fn encode(
    l: &Layout,
    spec: &OptionBytesSpec,
    current: &OptionWords,
) -> Result<OptionWords, String> {
    if spec.boot_address.is_some() {
        return Err("boot_address does not apply to this family: it boots from flash, system                     memory or SRAM as the BOOT0 pin and the nBOOT option bits say"
            .into());
    }
    let rdp: u32 = match *spec.rdp.get_ref() {
        0 => 0xAA,
        // Any value but 0xAA and 0xCC is level 1; ST's HAL writes 0xBB on these families.
        1 => 0xBB,
        2 => 0xCC,
        other => return Err(format!("RDP level {other} does not exist")),
    };
    let (bor_mask, bor) = (l.bor)(spec.bor_level);
    let bit = |on: bool, n: u32| if on { 1 << n } else { 0 };
    let governed = 0xFF | bor_mask | (1 << l.nrst_stop_bit) | (1 << l.nrst_stdby_bit) | IWDG_SW;
    let (boot_mask, boot) = boot_bits(l, spec.boot_from)?;
    let optr = (current.get("OPTR") & !governed & !boot_mask)
        | boot
        | rdp
        | bor
        | bit(spec.nrst_stop, l.nrst_stop_bit)
        | bit(spec.nrst_stdby, l.nrst_stdby_bit)
        | if spec.iwdg_sw { IWDG_SW } else { 0 };
    // One WRP area covers a contiguous range of pages; the second stays disabled.
    let pages = spec.write_protect.get_ref();
    let disabled = l.page_mask;
    let wrp1a = match (pages.iter().min(), pages.iter().max()) {
        (Some(&lo), Some(&hi)) => {
            if hi >= l.pages {
                return Err(format!(
                    "page {hi} is outside what one WRP area covers (pages 0..{})",
                    l.pages - 1
                ));
            }
            if (hi - lo + 1) as usize != pages.len() {
                return Err(
                    "write_protect must be one contiguous range of pages on this family".into(),
                );
            }
            lo | (hi << 16)
        }
        _ => disabled,
    };
    let keep = |w: u32| w & !(l.page_mask | (l.page_mask << 16));
    Ok(OptionWords(vec![
        ("OPTR", optr),
        ("WRP1AR", keep(current.get("WRP1AR")) | wrp1a),
        ("WRP1BR", keep(current.get("WRP1BR")) | disabled),
    ]))
}

/// The OPTR bits `boot_from` sets, as (mask, value).
fn boot_bits(l: &Layout, boot_from: Option<BootFrom>) -> Result<(u32, u32), String> {
    let nboot1 = 1 << l.nboot1_bit;
    match (boot_from, l.software_boot0) {
        (None, _) => Ok((0, 0)),
        // BOOT0 high starts the ST bootloader, not SRAM.
        (Some(BootFrom::Pin), None) => Ok((nboot1, nboot1)),
        (Some(BootFrom::Pin), Some((sel, _))) => Ok((nboot1 | 1 << sel, nboot1)),
        (Some(BootFrom::Flash), Some((sel, nboot0))) => Ok((
            nboot1 | 1 << sel | 1 << nboot0,
            nboot1 | 1 << sel | 1 << nboot0,
        )),
        (Some(BootFrom::System), Some((sel, nboot0))) => {
            Ok((nboot1 | 1 << sel | 1 << nboot0, nboot1 | 1 << sel))
        }
        (Some(other), None) => Err(format!(
            "boot_from = {:?} needs a software BOOT0 (nBOOT0), which this part does not have: \
             use \"pin\" and strap BOOT0",
            format!("{other:?}").to_lowercase()
        )),
    }
}

/// What the part starts after reset, as OPTR says (and the pin, where it decides).
fn boots_from(l: &Layout, optr: u32) -> &'static str {
    let system = optr & (1 << l.nboot1_bit) != 0;
    match l.software_boot0 {
        Some((sel, nboot0)) if optr & (1 << sel) != 0 => {
            match (optr & (1 << nboot0) == 0, system) {
                (false, _) => "flash",
                (true, true) => "system",
                (true, false) => "sram",
            }
        }
        _ if system => "pin (high: system memory)",
        _ => "pin (high: sram)",
    }
}

pub fn decode(l: &Layout, words: &OptionWords) -> serde_json::Value {
    let optr = words.get("OPTR");
    let rdp_byte = optr & 0xFF;
    let mut protected = Vec::new();
    for name in ["WRP1AR", "WRP1BR"] {
        if let Some((s, e)) = area(l, words.get(name)) {
            protected.extend(s..=e);
        }
    }
    json!({
        "raw": { "optr": format!("{optr:#010x}"), "wrp1ar": format!("{:#010x}", words.get("WRP1AR")), "wrp1br": format!("{:#010x}", words.get("WRP1BR")) },
        "rdp_byte": rdp_byte,
        "rdp_level": match rdp_byte { 0xAA => 0, 0xCC => 2, _ => 1 },
        "write_protected": protected,
        "bor_level": (l.bor_decode)(optr),
        "iwdg_sw": optr & IWDG_SW != 0,
        "nrst_stop": optr & (1 << l.nrst_stop_bit) != 0,
        "nrst_stdby": optr & (1 << l.nrst_stdby_bit) != 0,
        "boot_from": boots_from(l, optr),
    })
}

pub fn program(
    _l: &Layout,
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    wanted: &OptionWords,
) -> Result<Activation, OptionError> {
    if target.read_word(OPTR)? & 0xFF == 0xCC {
        return Err(OptionError::Frozen);
    }
    // OPTKEYR works only once CR.LOCK is clear (RM0444 p. 90).
    if target.read_word(CR)? & CR_LOCK != 0 {
        let _ = target.write_word(KEYR, KEY1);
        let _ = target.write_word(KEYR, KEY2);
    }
    if target.read_word(CR)? & CR_OPTLOCK != 0 {
        let _ = target.write_word(OPTKEYR, OPTKEY1);
        let _ = target.write_word(OPTKEYR, OPTKEY2);
    }
    if target.read_word(CR)? & (CR_LOCK | CR_OPTLOCK) != 0 {
        return Err(OptionError::StillLocked);
    }
    poll_until(target, clock, SR, Duration::from_secs(1), |sr| {
        sr & SR_BSY == 0
    })?;
    target.write_word(SR, SR_ERRORS)?;
    target.write_word(OPTR, wanted.get("OPTR"))?;
    target.write_word(WRP1AR, wanted.get("WRP1AR"))?;
    target.write_word(WRP1BR, wanted.get("WRP1BR"))?;
    let cr = target.read_word(CR)?;
    target.write_word(CR, cr | CR_OPTSTRT)?;
    let sr = poll_until(target, clock, SR, Duration::from_secs(5), |sr| {
        sr & SR_BSY == 0
    })?;
    if sr & SR_ERRORS != 0 {
        let cr = target.read_word(CR)?;
        let _ = target.write_word(CR, cr | CR_LOCK);
        return Err(OptionError::Flags(format!(
            "FLASH_SR {sr:#010x} ({})",
            super::flag_names(sr, &SR_FLAGS)
        )));
    }
    // OBL_LAUNCH loads the option bytes and resets the part; the debug link drops with it.
    let cr = target.read_word(CR)?;
    let _ = target.write_word(CR, cr | CR_OBL_LAUNCH);
    Ok(Activation::ResetsItself)
}

#[cfg(test)]
mod boot_tests {
    use super::*;

    fn spec(boot_from: Option<BootFrom>) -> OptionBytesSpec {
        OptionBytesSpec {
            rdp: toml::Spanned::new(0..0, 0),
            write_protect: toml::Spanned::new(0..0, Vec::new()),
            bor_level: BorLevel::Off,
            iwdg_sw: true,
            nrst_stop: true,
            nrst_stdby: true,
            allow_permanent_lock: false,
            boot_address: None,
            boot_from,
        }
    }

    fn optr_for(l: &Layout, boot_from: BootFrom, current: u32) -> Result<u32, String> {
        let words = OptionWords(vec![("OPTR", current), ("WRP1AR", 0), ("WRP1BR", 0)]);
        encode(l, &spec(Some(boot_from)), &words).map(|w| w.get("OPTR"))
    }

    #[test]
    fn g0_boot_bits_follow_nboot_sel_nboot0_and_nboot1() {
        let factory = 0xFFFF_FEAA;
        let system = optr_for(&G0, BootFrom::System, factory).unwrap();
        assert_eq!(system & (1 << 24 | 1 << 25 | 1 << 26), 1 << 24 | 1 << 25);
        assert_eq!(boots_from(&G0, system), "system");
        let pin = optr_for(&G0, BootFrom::Pin, factory).unwrap();
        assert_eq!(pin & (1 << 24), 0);
        assert_eq!(boots_from(&G0, pin), "pin (high: system memory)");
        let flash = optr_for(&G0, BootFrom::Flash, system).unwrap();
        assert_eq!(boots_from(&G0, flash), "flash");
        // Left alone, nothing moves.
        let words = OptionWords(vec![("OPTR", system), ("WRP1AR", 0), ("WRP1BR", 0)]);
        let kept = encode(&G0, &spec(None), &words).unwrap().get("OPTR");
        assert_eq!(kept & (7 << 24), system & (7 << 24));
    }

    #[test]
    fn an_l476_has_no_software_boot0() {
        let e = optr_for(&L4, BootFrom::System, 0xFFEF_F8AA).unwrap_err();
        assert!(e.contains("software BOOT0"), "{e}");
        let pin = optr_for(&L4, BootFrom::Pin, 0).unwrap();
        assert_eq!(pin & (1 << 23), 1 << 23);
    }
}
