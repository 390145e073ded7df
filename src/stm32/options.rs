//! Option bytes per family, behind one interface: read the current words, encode the profile's
//! typed values into them, program them with the family's sequence, and say how the new values
//! take effect. The engine reads back and compares.

use serde_json::Value;

use super::{f4, f7, h7, optr};
use crate::chip::Family;
use crate::config::OptionBytesSpec;
use crate::hw::{Clock, DebugTarget, HwError};

/// The option registers that matter, by name, as last read (or as wanted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionWords(pub Vec<(&'static str, u32)>);

impl OptionWords {
    pub fn get(&self, name: &str) -> u32 {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }
}

/// How programmed option bytes start to govern the part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// At the next reset or power cycle (F4/F7).
    NextReset,
    /// At once, when the option change completes (H7).
    Immediate,
    /// The part reloads them and resets itself (L4/G0 OBL_LAUNCH): the debug link drops.
    ResetsItself,
}

#[derive(Debug)]
pub enum OptionError {
    Hw(HwError),
    /// The unlock keys did not open the option registers (a wrong key locks until reset).
    StillLocked,
    /// The controller reported errors (named).
    Flags(String),
    /// RDP level 2: option bytes never change again.
    Frozen,
    /// The profile asks for something this family cannot express.
    Spec(String),
}

impl From<HwError> for OptionError {
    fn from(e: HwError) -> Self {
        OptionError::Hw(e)
    }
}

impl From<f4::OptionError> for OptionError {
    fn from(e: f4::OptionError) -> Self {
        match e {
            f4::OptionError::Hw(h) => OptionError::Hw(h),
            f4::OptionError::StillLocked => OptionError::StillLocked,
            f4::OptionError::Flags(sr) => OptionError::Flags(format!(
                "FLASH_SR {sr:#010x} ({})",
                super::flag_names(sr, &f4::SR_FLAGS)
            )),
            f4::OptionError::Frozen => OptionError::Frozen,
        }
    }
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::Hw(e) => write!(f, "{e}"),
            OptionError::StillLocked => f.write_str("the option registers stayed locked after the unlock keys (a wrong key locks them until reset)"),
            OptionError::Flags(m) => write!(f, "the option change failed: {m}"),
            OptionError::Frozen => f.write_str("the part is at RDP level 2: its option bytes can never change"),
            OptionError::Spec(m) => write!(f, "{m}"),
        }
    }
}

pub fn read(family: Family, target: &mut dyn DebugTarget) -> Result<OptionWords, HwError> {
    match family {
        Family::F4 => Ok(OptionWords(vec![(
            "OPTCR",
            target.read_word(f4::OPTCR)? & !3,
        )])),
        Family::F7 => f7::read(target),
        Family::H7 => h7::read(target),
        Family::L4 => optr::read(&optr::L4, target),
        Family::G0 => optr::read(&optr::G0, target),
    }
}

/// The words that give `spec`, keeping what the profile does not govern from `current`.
pub fn encode(
    family: Family,
    spec: &OptionBytesSpec,
    current: &OptionWords,
) -> Result<OptionWords, String> {
    if spec.boot_from.is_some() && !matches!(family, Family::L4 | Family::G0) {
        return Err(
            "boot_from applies to L4 and G0 parts (nBOOT bits); F7 and H7 set boot_address, \
             F4 boots as its BOOT0 and BOOT1 pins say"
                .into(),
        );
    }
    match family {
        Family::F4 => Ok(OptionWords(vec![(
            "OPTCR",
            f4::encode(spec, current.get("OPTCR"))?,
        )])),
        Family::F7 => f7::encode(spec, current),
        Family::H7 => h7::encode(spec, current),
        Family::L4 => optr::encode(&optr::L4, spec, current),
        Family::G0 => optr::encode(&optr::G0, spec, current),
    }
}

pub fn decode(family: Family, words: &OptionWords) -> Value {
    match family {
        Family::F4 => serde_json::to_value(f4::decode(words.get("OPTCR"))).unwrap_or_default(),
        Family::F7 => f7::decode(words),
        Family::H7 => h7::decode(words),
        Family::L4 => optr::decode(&optr::L4, words),
        Family::G0 => optr::decode(&optr::G0, words),
    }
}

pub fn program(
    family: Family,
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    wanted: &OptionWords,
) -> Result<Activation, OptionError> {
    match family {
        Family::F4 => f4::program(target, clock, wanted.get("OPTCR"))
            .map(|()| Activation::NextReset)
            .map_err(OptionError::from),
        Family::F7 => f7::program(target, clock, wanted),
        Family::H7 => h7::program(target, clock, wanted),
        Family::L4 => optr::program(&optr::L4, target, clock, wanted),
        Family::G0 => optr::program(&optr::G0, target, clock, wanted),
    }
}

/// The part of every family's decoded option bytes that the station acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub rdp_level: u8,
    pub write_protected: Vec<u32>,
    pub bor_level: crate::config::BorLevel,
    pub iwdg_sw: bool,
    pub nrst_stop: bool,
    pub nrst_stdby: bool,
}

pub fn summary(family: Family, words: &OptionWords) -> Summary {
    let v = decode(family, words);
    let flag = |k: &str| v[k].as_bool().unwrap_or(true);
    Summary {
        // Unreadable counts as protected: never assume a part is open.
        rdp_level: v["rdp_level"].as_u64().map_or(1, |l| l.min(2) as u8),
        write_protected: v["write_protected"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_u64())
                    .map(|s| s as u32)
                    .collect()
            })
            .unwrap_or_default(),
        bor_level: serde_json::from_value(v["bor_level"].clone()).unwrap_or_default(),
        iwdg_sw: flag("iwdg_sw"),
        nrst_stop: flag("nrst_stop"),
        nrst_stdby: flag("nrst_stdby"),
    }
}

/// The words that lift read and write protection and keep everything else as it is (what an
/// RMA recovery programs before it rewrites the bootloader). From RDP level 1 the part erases
/// its flash as it regresses.
pub fn opened(family: Family, current: &OptionWords) -> Result<OptionWords, String> {
    let now = summary(family, current);
    let open = OptionBytesSpec {
        rdp: toml::Spanned::new(0..0, 0),
        write_protect: toml::Spanned::new(0..0, Vec::new()),
        bor_level: now.bor_level,
        iwdg_sw: now.iwdg_sw,
        nrst_stop: now.nrst_stop,
        nrst_stdby: now.nrst_stdby,
        allow_permanent_lock: false,
        boot_address: None,
        boot_from: None,
    };
    encode(family, &open, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the factory leaves, per family, as the part's registers give it.
    fn factory(family: Family) -> OptionWords {
        OptionWords(match family {
            Family::F4 => vec![("OPTCR", 0x0FFF_AAEC)],
            Family::F7 => vec![("OPTCR", 0xFFFF_AAFC), ("OPTCR1", 0x0040_0080)],
            Family::H7 => vec![
                ("OPTSR", 0x0006_AAD0),
                ("WPSN1", 0xFF),
                ("WPSN2", 0xFF),
                ("BOOT", 0x1FF0_0800),
            ],
            Family::L4 => vec![
                ("OPTR", 0xFFEF_F8AA),
                ("WRP1AR", 0xFF00_00FF),
                ("WRP1BR", 0xFF00_00FF),
            ],
            Family::G0 => vec![
                ("OPTR", 0xFFFF_FEAA),
                ("WRP1AR", 0x0000_00FF),
                ("WRP1BR", 0x0000_00FF),
            ],
        })
    }

    #[test]
    fn opening_a_locked_part_clears_rdp_and_wrp_and_keeps_the_rest() {
        for family in [Family::F4, Family::F7, Family::H7, Family::L4, Family::G0] {
            let start = factory(family);
            let spec = OptionBytesSpec {
                rdp: toml::Spanned::new(0..0, 1),
                write_protect: toml::Spanned::new(0..0, vec![0, 1]),
                bor_level: crate::config::BorLevel::Level2,
                iwdg_sw: false,
                nrst_stop: true,
                nrst_stdby: true,
                allow_permanent_lock: false,
                boot_address: None,
                boot_from: None,
            };
            let locked = encode(family, &spec, &start).unwrap();
            let s = summary(family, &locked);
            assert_eq!((s.rdp_level, s.write_protected.len()), (1, 2), "{family:?}");
            let open = opened(family, &locked).unwrap();
            let o = summary(family, &open);
            assert_eq!(o.rdp_level, 0, "{family:?}");
            assert!(o.write_protected.is_empty(), "{family:?}");
            assert_eq!(
                (o.bor_level, o.iwdg_sw),
                (crate::config::BorLevel::Level2, false),
                "{family:?}: kept"
            );
        }
    }
}
