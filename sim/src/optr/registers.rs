//! The register interface: keys, register offsets and bits, and the register reads and writes
//! (KEYR, OPTKEYR, SR, CR; the option registers are in `options`).

use std::time::Duration;

use super::{Layout, OptrCore};
use crate::controller::{BusFault, FlashBus};

pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Both families' FLASH registers sit at 0x4002_2000 (facts 3.4 OOCD, 3.5 CMSIS-G0).
pub const FLASH_REGS: u32 = 0x4002_2000;

pub const ACR: u32 = 0x00;
pub const KEYR: u32 = 0x08;
pub const OPTKEYR: u32 = 0x0C;
pub const SR: u32 = 0x10;
pub const CR: u32 = 0x14;
pub const ECCR: u32 = 0x18;
pub const OPTR: u32 = 0x20;
pub const WRP1AR: u32 = 0x2C;
pub const WRP1BR: u32 = 0x30;

pub const CR_PG: u32 = 1 << 0;
pub const CR_PER: u32 = 1 << 1;
pub const CR_MER1: u32 = 1 << 2;
pub const CR_PNB_SHIFT: u32 = 3;
pub const CR_STRT: u32 = 1 << 16;
pub const CR_OPTSTRT: u32 = 1 << 17;
pub const CR_FSTPG: u32 = 1 << 18;
pub const CR_EOPIE: u32 = 1 << 24;
pub const CR_ERRIE: u32 = 1 << 25;
pub const CR_RDERRIE: u32 = 1 << 26;
pub const CR_OBL_LAUNCH: u32 = 1 << 27;
pub const CR_OPTLOCK: u32 = 1 << 30;
pub const CR_LOCK: u32 = 1 << 31;

pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_PROGERR: u32 = 1 << 3;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_SIZERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_MISERR: u32 = 1 << 8;
pub const SR_FASTERR: u32 = 1 << 9;
pub const SR_RDERR: u32 = 1 << 14;
pub const SR_OPTVERR: u32 = 1 << 15;
/// BSY (L4), BSY1 (G0).
pub const SR_BSY: u32 = 1 << 16;
/// Every error flag of SR (all write-1-to-clear).
pub const SR_ERRORS: u32 = SR_OPERR
    | SR_PROGERR
    | SR_WRPERR
    | SR_PGAERR
    | SR_SIZERR
    | SR_PGSERR
    | SR_MISERR
    | SR_FASTERR
    | SR_RDERR
    | SR_OPTVERR;
/// The flags that, still set, make the next program or erase a sequence error (RM0440 \[R\]).
pub const SR_PROG_ERRORS: u32 =
    SR_PROGERR | SR_WRPERR | SR_PGAERR | SR_SIZERR | SR_PGSERR | SR_MISERR | SR_FASTERR;
const SR_CLEARABLE: u32 = SR_ERRORS | SR_EOP;

impl OptrCore {
    pub fn read(&self, l: &Layout, offset: u32, now: Duration) -> u32 {
        let busy = self.busy(now);
        match offset {
            SR => {
                let mut v = self.sr;
                if busy {
                    v |= SR_BSY | l.sr_cfgbsy;
                }
                if self.pending.is_some() {
                    v |= l.sr_cfgbsy;
                }
                v
            }
            CR => {
                let mut v = self.cr;
                if busy {
                    v |= self.busy_bits;
                }
                if self.obl_request {
                    v |= CR_OBL_LAUNCH;
                }
                if self.optkey.locked {
                    v |= CR_OPTLOCK;
                }
                if self.key.locked {
                    v |= CR_LOCK;
                }
                v
            }
            _ => match l.reg_index(offset) {
                Some(i) => self.regs[i],
                None => 0,
            },
        }
    }

    pub fn write(
        &mut self,
        l: &Layout,
        offset: u32,
        value: u32,
        bus: &mut FlashBus,
    ) -> Result<(), BusFault> {
        match offset {
            KEYR => self.key_write(value),
            OPTKEYR => self.optkey_write(value),
            SR => {
                self.sr &= !(value & SR_CLEARABLE);
                Ok(())
            }
            CR => {
                self.cr_write(l, value, bus);
                Ok(())
            }
            _ => {
                if let Some(i) = l.reg_index(offset) {
                    self.option_register_write(l, i, value, bus);
                }
                Ok(())
            }
        }
    }

    fn key_write(&mut self, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: a wrong sequence locks FLASH_CR until the next reset, bus error; setting
        // LOCK also sets OPTLOCK (RM0444 p. 90).
        let result = self.key.key(value, KEY1, KEY2);
        if result.is_err() {
            self.optkey.locked = true;
            self.cr = 0;
            self.pending = None;
        }
        result
    }

    fn optkey_write(&mut self, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: OPTKEYR works only once CR.LOCK is clear; a wrong sequence keeps OPTLOCK
        // set until the next reset, bus error.
        if self.key.locked {
            self.optkey.block();
            return Err(BusFault);
        }
        self.optkey.key(value, OPTKEY1, OPTKEY2)
    }

    fn cr_write(&mut self, l: &Layout, value: u32, bus: &mut FlashBus) {
        if self.key.locked {
            return;
        }
        if value & CR_LOCK != 0 {
            // Facts 3.0: setting LOCK also sets OPTLOCK.
            self.drop_pending();
            self.key.locked = true;
            self.optkey.locked = true;
            self.cr = 0;
            return;
        }
        if value & CR_OPTLOCK != 0 {
            self.optkey.locked = true;
        }
        if self.busy(bus.now) {
            self.sr |= SR_PGSERR;
            bus.log
                .push(format!("{}: FLASH_CR written while BSY (dropped)", l.name));
            return;
        }
        self.cr = value & l.cr_writable();
        let strt = value & CR_STRT != 0;
        let optstrt = value & CR_OPTSTRT != 0 && !self.optkey.locked;
        let obl = value & CR_OBL_LAUNCH != 0 && !self.optkey.locked;
        let programming =
            self.cr & (CR_PG | CR_FSTPG) != 0 && self.cr & (CR_PER | CR_MER1 | l.cr_mer2) == 0;
        if self.pending.is_some() && (!programming || strt || optstrt) {
            self.drop_pending();
        }
        if strt && optstrt {
            self.fail(SR_PGSERR);
            return;
        }
        if strt {
            self.start_erase(l, bus);
        }
        if optstrt {
            self.program_options(l, bus);
        }
        if obl {
            self.obl_request = true;
            bus.log.push(format!("{}: OBL_LAUNCH requested", l.name));
        }
    }
}
