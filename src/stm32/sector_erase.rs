//! Erase one flash sector (a page on L4/G0) through the family's FLASH registers, as code on
//! the chip would (facts file sections 3.1-3.5). Only the engineering test that checks write
//! protection uses it: production flashing goes through probe-rs's flash algorithms.

use std::time::Duration;

use super::{flag_names, poll_until};
use crate::chip::Family;
use crate::hw::{Clock, DebugTarget, HwError};

const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
/// Longer than any sector erase of these families at its maximum (F7 256 KiB: 4 s).
const ERASE_TIMEOUT: Duration = Duration::from_secs(10);

/// A sector (or page) by the number the option bytes' write protection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sector {
    pub index: u32,
    pub address: u32,
    pub size: u32,
}

impl Sector {
    pub fn end(&self) -> u64 {
        self.address as u64 + self.size as u64
    }

    /// For a record: the address in hex, as people read it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "index": self.index,
            "address": format!("{:#010x}", self.address),
            "size": self.size,
        })
    }
}

/// Sector `index` of a part whose flash starts at `base` and is `flash_size` bytes long.
/// F4 (F405/407) and F7 (single-bank F76x/F74x) have their mixed sizes; H7 128 KiB sectors
/// numbered across both banks; L4 (bank 1, as its WRP1 areas count) and G0 2 KiB pages.
pub fn sector(family: Family, base: u32, flash_size: u32, index: u32) -> Option<Sector> {
    let kib = |k: u32| k * 1024;
    let mixed = |first: u32| -> Vec<u32> {
        // Four small sectors, one of four times their size, then sectors of eight times.
        let mut sizes = vec![kib(first); 4];
        sizes.push(kib(first * 4));
        sizes.extend(std::iter::repeat_n(kib(first * 8), 7));
        sizes
    };
    let (address, size) = match family {
        Family::F4 | Family::F7 => {
            let sizes = mixed(if family == Family::F4 { 16 } else { 32 });
            let size = *sizes.get(index as usize)?;
            let before: u32 = sizes[..index as usize].iter().sum();
            (base + before, size)
        }
        Family::H7 => (base + index * kib(128), kib(128)),
        Family::L4 if index >= 256 => return None,
        Family::L4 | Family::G0 => (base + index * kib(2), kib(2)),
    };
    let end = address as u64 + size as u64;
    (end <= base as u64 + flash_size as u64).then_some(Sector {
        index,
        address,
        size,
    })
}

/// What the controller reported for an erase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraseReport {
    /// The status register after the erase, and where it is.
    pub status_register: String,
    pub status: u32,
    /// The error flags it shows, by name ("none" when clean).
    pub flags: String,
    /// The family's write-protection error flag.
    pub write_protection_flag: &'static str,
    pub write_protection_error: bool,
}

impl EraseReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status_register": self.status_register,
            "status": format!("{:#010x}", self.status),
            "flags": self.flags,
            "write_protection_flag": self.write_protection_flag,
            "write_protection_error": self.write_protection_error,
        })
    }
}

/// One family's FLASH registers for erasing a sector (absolute addresses).
struct Regs {
    keyr: u32,
    sr: u32,
    cr: u32,
    /// Where error flags are cleared by writing ones (SR, or the H7's CCR).
    clear: u32,
    sr_name: &'static str,
    lock: u32,
    busy: u32,
    errors: &'static [(u32, &'static str)],
    wrperr: u32,
    /// CR for a sector erase, then the start bit.
    erase: u32,
    start: u32,
}

const F4_ERRORS: &[(u32, &str)] = &super::f4::SR_FLAGS;
const OPTR_ERRORS: &[(u32, &str)] = &super::optr::SR_FLAGS;
/// H7 FLASH_SRx (facts 3.3).
const H7_ERRORS: &[(u32, &str)] = &[
    (17, "WRPERR"),
    (18, "PGSERR"),
    (19, "STRBERR"),
    (21, "INCERR"),
    (22, "OPERR"),
    (23, "RDPERR"),
    (24, "RDSERR"),
    (25, "SNECCERR"),
    (26, "DBECCERR"),
];

fn mask(errors: &[(u32, &str)]) -> u32 {
    errors.iter().fold(0, |m, (bit, _)| m | 1 << bit)
}

fn regs(family: Family, index: u32) -> Regs {
    match family {
        // FLASH 0x4002_3C00: KEYR +4, SR +0xC, CR +0x10. CR: SER 1, SNB from bit 3, PSIZE x32
        // (bits 9:8 = 10), STRT 16, LOCK 31. SR: BSY 16, WRPERR 4.
        Family::F4 | Family::F7 => Regs {
            keyr: 0x4002_3C04,
            sr: 0x4002_3C0C,
            cr: 0x4002_3C10,
            clear: 0x4002_3C0C,
            sr_name: "FLASH_SR",
            lock: 1 << 31,
            busy: 1 << 16,
            errors: F4_ERRORS,
            wrperr: 1 << 4,
            erase: 1 << 1 | index << 3 | 2 << 8,
            start: 1 << 16,
        },
        // FLASH 0x5200_2000, bank 2 at +0x100: KEYRx +4, CRx +0xC, SRx +0x10, CCRx +0x14.
        // CR: LOCK 0, SER 2, PSIZE x64 (bits 5:4 = 11), START 7, SNB 10:8. SR: BSY 0, QW 2.
        Family::H7 => {
            let bank = 0x100 * (index / 8);
            Regs {
                keyr: 0x5200_2004 + bank,
                sr: 0x5200_2010 + bank,
                cr: 0x5200_200C + bank,
                clear: 0x5200_2014 + bank,
                sr_name: if bank == 0 { "FLASH_SR1" } else { "FLASH_SR2" },
                lock: 1,
                busy: 1 | 1 << 2,
                errors: H7_ERRORS,
                wrperr: 1 << 17,
                erase: 1 << 2 | 3 << 4 | (index % 8) << 8,
                start: 1 << 7,
            }
        }
        // FLASH 0x4002_2000: KEYR +8, SR +0x10, CR +0x14. CR: PER 1, PNB from bit 3, STRT 16,
        // LOCK 31 (the L476's bank 1 only: BKER stays 0). SR: BSY (G0 BSY1) 16, WRPERR 4.
        Family::L4 | Family::G0 => Regs {
            keyr: 0x4002_2008,
            sr: 0x4002_2010,
            cr: 0x4002_2014,
            clear: 0x4002_2010,
            sr_name: "FLASH_SR",
            lock: 1 << 31,
            busy: 1 << 16,
            errors: OPTR_ERRORS,
            wrperr: 1 << 4,
            erase: 1 << 1 | index << 3,
            start: 1 << 16,
        },
    }
}

/// Try to erase `sector` with the family's sequence: unlock, wait until idle, clear the error
/// flags, select the sector, start, wait, read the flags, lock again. The flags are reported,
/// not judged: a refused erase is what the caller hopes for.
pub fn erase(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    family: Family,
    sector: &Sector,
) -> Result<EraseReport, HwError> {
    let r = regs(family, sector.index);
    let errors = mask(r.errors);
    if target.read_word(r.cr)? & r.lock != 0 {
        // A refused key answers with a bus error; LOCK tells.
        let _ = target.write_word(r.keyr, KEY1);
        let _ = target.write_word(r.keyr, KEY2);
        if target.read_word(r.cr)? & r.lock != 0 {
            return Err(HwError::Backend(format!(
                "the FLASH control register stayed locked after the unlock keys \
                 (a wrong key locks it until reset): the erase of sector {} was not tried",
                sector.index
            )));
        }
    }
    let idle = |sr: u32| sr & r.busy == 0;
    poll_until(target, clock, r.sr, Duration::from_secs(1), idle)?;
    target.write_word(r.clear, errors)?;
    target.write_word(r.cr, r.erase)?;
    target.write_word(r.cr, r.erase | r.start)?;
    let status = poll_until(target, clock, r.sr, ERASE_TIMEOUT, idle)?;
    target.write_word(r.clear, errors)?;
    target.write_word(r.cr, r.lock)?;
    Ok(EraseReport {
        status_register: format!("{} at {:#010x}", r.sr_name, r.sr),
        status,
        flags: flag_names(status & errors, r.errors),
        write_protection_flag: "WRPERR",
        write_protection_error: status & r.wrperr != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_follow_each_familys_layout() {
        let at = |f, size, i| sector(f, 0x0800_0000, size, i).map(|s| (s.address, s.size));
        // F405/407 (RM0090): 4 x 16, 1 x 64, 7 x 128 KiB.
        assert_eq!(at(Family::F4, 1 << 20, 1), Some((0x0800_4000, 0x4000)));
        assert_eq!(at(Family::F4, 1 << 20, 4), Some((0x0801_0000, 0x1_0000)));
        assert_eq!(at(Family::F4, 1 << 20, 11), Some((0x080E_0000, 0x2_0000)));
        assert_eq!(at(Family::F4, 1 << 20, 12), None);
        // F76x single bank: 4 x 32, 1 x 128, 7 x 256 KiB.
        assert_eq!(at(Family::F7, 2 << 20, 5), Some((0x0804_0000, 0x4_0000)));
        // H7: 128 KiB sectors, bank 2 from sector 8.
        assert_eq!(at(Family::H7, 2 << 20, 8), Some((0x0810_0000, 0x2_0000)));
        assert_eq!(at(Family::H7, 2 << 20, 16), None);
        // L4 bank 1 and G0 pages of 2 KiB.
        assert_eq!(at(Family::L4, 1 << 20, 255), Some((0x0807_F800, 0x800)));
        assert_eq!(at(Family::L4, 1 << 20, 256), None);
        assert_eq!(at(Family::G0, 128 << 10, 63), Some((0x0801_F800, 0x800)));
        assert_eq!(at(Family::G0, 128 << 10, 64), None);
    }

    #[test]
    fn erase_selects_the_sector_in_each_familys_bits() {
        assert_eq!(regs(Family::F4, 11).erase, 0x0000_025A);
        let h7 = regs(Family::H7, 9);
        assert_eq!((h7.cr, h7.erase), (0x5200_210C, 0x0000_0134));
        assert_eq!(regs(Family::G0, 63).erase, 0x0000_01FA);
    }
}
