//! STM32F76x/77x option bytes (RM0410, facts file section 3.2): FLASH_OPTCR keeps the F4's
//! layout for RDP, nWRP, BOR and the reset bits and adds WWDG_SW, nDBOOT, nDBANK and the IWDG
//! freeze bits; FLASH_OPTCR1 holds the two boot addresses. The sequence is the F4's, with
//! OPTCR1 written before OPTCR; the values govern the part after the next reset.

use serde_json::json;

use super::f4;
use super::options::{Activation, OptionError, OptionWords};
use crate::config::OptionBytesSpec;
use crate::hw::{Clock, DebugTarget, HwError};

/// Single-bank mode: sectors 0..11, one nWRP bit each.
pub const SECTORS: u32 = 12;
const NDBANK: u32 = 1 << 29;
/// BOOT_ADDx holds bits 29:14 of the boot address (facts 3.2: 0x0040 is 0x0010_0000).
const BOOT_SHIFT: u32 = 14;

pub fn read(target: &mut dyn DebugTarget) -> Result<OptionWords, HwError> {
    Ok(OptionWords(vec![
        ("OPTCR", target.read_word(f4::OPTCR)? & !3),
        ("OPTCR1", target.read_word(f4::OPTCR1)?),
    ]))
}

/// BOOT_ADD0 for a boot address: 16 KiB aligned and within the 30-bit range the field spans.
pub fn boot_field(address: u32) -> Result<u32, String> {
    if !address.is_multiple_of(1 << BOOT_SHIFT) || address >= 1 << 30 {
        return Err(format!(
            "boot_address {address:#010x} cannot be set on an F7: it must be a multiple of 16 KiB \
             below 0x40000000 (e.g. 0x00200000 for flash on ITCM, 0x08000000 on AXIM)"
        ));
    }
    Ok(address >> BOOT_SHIFT)
}

pub fn encode(spec: &OptionBytesSpec, current: &OptionWords) -> Result<OptionWords, String> {
    let optcr = current.get("OPTCR");
    if optcr & NDBANK == 0 {
        return Err(
            "the part is in dual-bank mode (nDBANK = 0): the station's F7 sector \
                    numbering assumes single-bank mode"
                .into(),
        );
    }
    let optcr = f4::encode(spec, optcr)?;
    let mut optcr1 = current.get("OPTCR1");
    if let Some(address) = spec.boot_address {
        optcr1 = (optcr1 & 0xFFFF_0000) | boot_field(address)?;
    }
    Ok(OptionWords(vec![("OPTCR", optcr), ("OPTCR1", optcr1)]))
}

pub fn decode(words: &OptionWords) -> serde_json::Value {
    let optcr = words.get("OPTCR");
    let optcr1 = words.get("OPTCR1");
    let common = f4::decode(optcr);
    let boot = |field: u32| format!("{:#010x}", (field & 0xFFFF) << BOOT_SHIFT);
    json!({
        "raw": { "optcr": common.raw, "optcr1": format!("{optcr1:#010x}") },
        "rdp_byte": common.rdp_byte,
        "rdp_level": common.rdp_level,
        "write_protected": common.write_protected,
        "bor_level": common.bor_level,
        "iwdg_sw": common.iwdg_sw,
        "wwdg_sw": optcr & (1 << 4) != 0,
        "nrst_stop": common.nrst_stop,
        "nrst_stdby": common.nrst_stdby,
        "dual_boot": optcr & (1 << 28) == 0,
        "single_bank": optcr & NDBANK != 0,
        "boot_address0": boot(optcr1),
        "boot_address1": boot(optcr1 >> 16),
    })
}

pub fn program(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    wanted: &OptionWords,
) -> Result<Activation, OptionError> {
    f4::program_with(
        target,
        clock,
        wanted.get("OPTCR"),
        Some(wanted.get("OPTCR1")),
    )
    .map(|()| Activation::NextReset)
    .map_err(OptionError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BorLevel;

    fn spec(rdp: u8, wrp: Vec<u32>, boot: Option<u32>) -> OptionBytesSpec {
        OptionBytesSpec {
            rdp: toml::Spanned::new(0..0, rdp),
            write_protect: toml::Spanned::new(0..0, wrp),
            bor_level: BorLevel::Level3,
            iwdg_sw: true,
            nrst_stop: true,
            nrst_stdby: true,
            allow_permanent_lock: false,
            boot_address: boot,
            boot_from: None,
        }
    }

    // [R] factory values recalled from RM0410: OPTCR 0xFFFFAAFD, OPTCR1 0x00400080.
    fn factory() -> OptionWords {
        OptionWords(vec![("OPTCR", 0xFFFF_AAFC), ("OPTCR1", 0x0040_0080)])
    }

    #[test]
    fn keeps_f7_only_bits_and_sets_boot_add0() {
        let w = encode(&spec(1, vec![0, 1], Some(0x0800_0000)), &factory()).unwrap();
        let optcr = w.get("OPTCR");
        assert_eq!(
            optcr & 0xF000_0000,
            0xF000_0000,
            "nDBOOT, nDBANK, IWDG freeze kept"
        );
        assert_eq!(optcr & (1 << 4), 1 << 4, "WWDG_SW kept");
        assert_eq!((optcr >> 16) & 0xFFF, 0xFFC);
        assert_eq!((optcr >> 8) & 0xFF, 0x55);
        // 0x0800_0000 >> 14 = 0x2000; BOOT_ADD1 (system memory) untouched.
        assert_eq!(w.get("OPTCR1"), 0x0040_2000);
        let d = decode(&w);
        assert_eq!(d["boot_address0"], "0x08000000");
        assert_eq!(d["boot_address1"], "0x00100000");
        assert_eq!(d["write_protected"], json!([0, 1]));
        assert_eq!(d["single_bank"], true);
    }

    #[test]
    fn refuses_unaligned_boot_address_and_dual_bank_parts() {
        assert!(encode(&spec(0, vec![], Some(0x0800_1000)), &factory()).is_err());
        let dual = OptionWords(vec![("OPTCR", 0xDFFF_AAFC), ("OPTCR1", 0x0040_0080)]);
        assert!(encode(&spec(0, vec![], None), &dual).is_err());
    }

    #[test]
    fn rejects_sectors_past_eleven() {
        assert!(encode(&spec(0, vec![12], None), &factory()).is_err());
    }
}
