//! STM32F4 option bytes (RM0090 3.7, facts file section 3.1): typed decode/encode of FLASH_OPTCR
//! and the programming sequence through the debug seam.

use std::time::Duration;

use serde::Serialize;

use super::poll_until;
use crate::config::{BorLevel, OptionBytesSpec};
use crate::hw::{Clock, DebugTarget, HwError};

pub const FLASH: u32 = 0x4002_3C00;
pub const OPTKEYR: u32 = FLASH + 0x08;
pub const SR: u32 = FLASH + 0x0C;
pub const OPTCR: u32 = FLASH + 0x14;
pub const OPTCR1: u32 = FLASH + 0x18;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;
const OPTLOCK: u32 = 1 << 0;
const OPTSTRT: u32 = 1 << 1;
const SR_BSY: u32 = 1 << 16;
/// OPERR, WRPERR, PGAERR, PGPERR, PGSERR.
const SR_ERRORS: u32 = 0xF2;
/// FLASH_SR's error flags (RM0090; the F7's RM0410 calls bit 7 ERSERR).
pub const SR_FLAGS: [(u32, &str); 5] = [
    (1, "OPERR"),
    (4, "WRPERR"),
    (5, "PGAERR"),
    (6, "PGPERR"),
    (7, "PGSERR/ERSERR"),
];
pub const SECTORS: u32 = 12;
/// An option change with an RDP regression includes a mass erase: up to 32 s at x8 (facts 5.2).
pub const OPTION_TIMEOUT: Duration = Duration::from_secs(40);

/// The user option bytes, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct F4Options {
    pub raw: String,
    pub rdp_byte: u8,
    pub rdp_level: u8,
    pub write_protected: Vec<u32>,
    pub bor_level: BorLevel,
    pub iwdg_sw: bool,
    pub nrst_stop: bool,
    pub nrst_stdby: bool,
}

pub fn rdp_level(byte: u8) -> u8 {
    match byte {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

pub fn decode(optcr: u32) -> F4Options {
    let rdp_byte = ((optcr >> 8) & 0xFF) as u8;
    F4Options {
        raw: format!("{:#010x}", optcr & !(OPTLOCK | OPTSTRT)),
        rdp_byte,
        rdp_level: rdp_level(rdp_byte),
        write_protected: (0..SECTORS)
            .filter(|s| (optcr >> (16 + s)) & 1 == 0)
            .collect(),
        bor_level: match (optcr >> 2) & 3 {
            0 => BorLevel::Level3,
            1 => BorLevel::Level2,
            2 => BorLevel::Level1,
            _ => BorLevel::Off,
        },
        iwdg_sw: optcr & (1 << 5) != 0,
        nrst_stop: optcr & (1 << 6) != 0,
        nrst_stdby: optcr & (1 << 7) != 0,
    }
}

/// The OPTCR value that gives `spec`, keeping bits the profile does not govern from `current`.
pub fn encode(spec: &OptionBytesSpec, current: u32) -> Result<u32, String> {
    let mut v = current & !(OPTLOCK | OPTSTRT);
    let rdp: u32 = match *spec.rdp.get_ref() {
        0 => 0xAA,
        // Any value but 0xAA and 0xCC is level 1; ST's HAL writes 0x55.
        1 => 0x55,
        2 => 0xCC,
        other => return Err(format!("RDP level {other} does not exist")),
    };
    v = (v & !0xFF00) | (rdp << 8);
    let mut nwrp = 0xFFFu32;
    for &s in spec.write_protect.get_ref() {
        if s >= SECTORS {
            return Err(format!(
                "sector {s} does not exist on this part (0..{})",
                SECTORS - 1
            ));
        }
        nwrp &= !(1 << s);
    }
    v = (v & !(0xFFF << 16)) | (nwrp << 16);
    let bor = match spec.bor_level {
        BorLevel::Level3 => 0,
        BorLevel::Level2 => 1,
        BorLevel::Level1 => 2,
        BorLevel::Off => 3,
    };
    v = (v & !(3 << 2)) | (bor << 2);
    let bit = |on: bool, n: u32| if on { 1 << n } else { 0 };
    v = (v & !0xE0) | bit(spec.iwdg_sw, 5) | bit(spec.nrst_stop, 6) | bit(spec.nrst_stdby, 7);
    Ok(v)
}

#[derive(Debug)]
pub enum OptionError {
    Hw(HwError),
    /// OPTLOCK did not clear after the keys: a wrong key locked it until reset.
    StillLocked,
    /// The controller raised error flags.
    Flags(u32),
    /// Option bytes at level 2 never change again.
    Frozen,
}

impl From<HwError> for OptionError {
    fn from(e: HwError) -> Self {
        OptionError::Hw(e)
    }
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::Hw(e) => write!(f, "{e}"),
            OptionError::StillLocked => f.write_str("FLASH_OPTCR stayed locked after the unlock keys (a wrong key locks it until reset)"),
            OptionError::Flags(sr) => write!(
                f,
                "FLASH_SR reads {sr:#010x} ({}) after the option change",
                super::flag_names(*sr, &SR_FLAGS)
            ),
            OptionError::Frozen => f.write_str("the part is at RDP level 2: its option bytes can never change"),
        }
    }
}

/// Program OPTCR to `value` with the RM0090 sequence: unlock with OPTKEYR, wait for BSY to
/// clear, write the options, set OPTSTRT, wait for BSY, check the error flags, lock again.
/// The new values govern the part after the next reset.
pub fn program(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    value: u32,
) -> Result<(), OptionError> {
    program_with(target, clock, value, None)
}

/// The same sequence, writing `optcr1` first where the part has OPTCR1 (F76x boot addresses,
/// as OpenOCD writes OPTCR1 before OPTCR on F42x).
pub fn program_with(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    value: u32,
    optcr1: Option<u32>,
) -> Result<(), OptionError> {
    let current = target.read_word(OPTCR)?;
    if rdp_level(((current >> 8) & 0xFF) as u8) == 2 {
        return Err(OptionError::Frozen);
    }
    if current & OPTLOCK != 0 {
        // A bus error on a key write means the sequence was refused; OPTLOCK tells.
        let _ = target.write_word(OPTKEYR, OPTKEY1);
        let _ = target.write_word(OPTKEYR, OPTKEY2);
        if target.read_word(OPTCR)? & OPTLOCK != 0 {
            return Err(OptionError::StillLocked);
        }
    }
    poll_until(target, clock, SR, Duration::from_secs(1), |sr| {
        sr & SR_BSY == 0
    })?;
    target.write_word(SR, SR_ERRORS)?;
    let value = value & !(OPTLOCK | OPTSTRT);
    if let Some(boot) = optcr1 {
        target.write_word(OPTCR1, boot)?;
    }
    target.write_word(OPTCR, value)?;
    target.write_word(OPTCR, value | OPTSTRT)?;
    let sr = poll_until(target, clock, SR, OPTION_TIMEOUT, |sr| sr & SR_BSY == 0)?;
    let result = if sr & SR_ERRORS != 0 {
        Err(OptionError::Flags(sr))
    } else {
        Ok(())
    };
    target.write_word(OPTCR, value | OPTLOCK)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rdp: u8, wrp: Vec<u32>) -> OptionBytesSpec {
        OptionBytesSpec {
            rdp: toml::Spanned::new(0..0, rdp),
            write_protect: toml::Spanned::new(0..0, wrp),
            bor_level: BorLevel::Level3,
            iwdg_sw: true,
            nrst_stop: true,
            nrst_stdby: true,
            allow_permanent_lock: false,
            boot_address: None,
            boot_from: None,
        }
    }

    #[test]
    fn encodes_rm0090_bit_positions() {
        // Factory value 0x0FFFAAED ([R] in the facts file): RDP 0xAA, no WRP, BOR off.
        let v = encode(&spec(1, vec![0, 1]), 0x0FFF_AAED).unwrap();
        assert_eq!((v >> 8) & 0xFF, 0x55, "RDP level 1 byte");
        assert_eq!(
            (v >> 16) & 0xFFF,
            0xFFC,
            "nWRP active low for sectors 0 and 1"
        );
        assert_eq!((v >> 2) & 3, 0, "BOR level 3 is 00");
        assert_eq!(v & 0xE0, 0xE0);
        let d = decode(v);
        assert_eq!(d.rdp_level, 1);
        assert_eq!(d.write_protected, vec![0, 1]);
        assert_eq!(d.bor_level, BorLevel::Level3);
    }

    #[test]
    fn rejects_sectors_the_part_lacks() {
        assert!(encode(&spec(0, vec![12]), 0x0FFF_AAED).is_err());
    }

    #[test]
    fn decodes_factory_value() {
        let d = decode(0x0FFF_AAED);
        assert_eq!(d.rdp_level, 0);
        assert!(d.write_protected.is_empty());
        assert_eq!(d.bor_level, BorLevel::Off);
        assert_eq!(d.raw, "0x0fffaaec");
    }
}
