//! The FLASH controller of a simulated part, one variant per family, behind one interface:
//! register access, bus writes into the array, the erase/program services code on the chip
//! uses, and what the loaded option bytes say about protection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::f4::{self, F4Flash};
use super::flash::FlashArray;
use super::g0::{self, G0Flash};
use super::h7::{self, H7Flash};
use super::l4::{self, L4Flash};
use super::part::FlashTiming;

/// What a controller needs from its surroundings for one access.
pub struct FlashBus<'a> {
    pub flash: &'a mut FlashArray,
    pub timing: &'a FlashTiming,
    pub now: Duration,
    /// A debugger has been connected since power-on (RDP level 1 then blocks the flash).
    pub debugger: bool,
    pub log: &'a mut Vec<String>,
    /// The part's OTP area, where it has one (programmed like flash, never erased).
    pub otp: Option<&'a mut super::otp::OtpArea>,
}

/// A bus error on a register access.
#[derive(Debug, PartialEq, Eq)]
pub struct BusFault;

/// A register unlocked by two keys written in order (KEYR, OPTKEYR on every family). A wrong
/// key, or a key written while unlocked, blocks it until the next reset (facts 3.0).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyLock {
    pub locked: bool,
    stage: u8,
    blocked: bool,
}

impl Default for KeyLock {
    fn default() -> Self {
        Self {
            locked: true,
            stage: 0,
            blocked: false,
        }
    }
}

impl KeyLock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Locked again, and unblocked: what a reset does.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// One write of `value` to the key register that expects `first` then `second`.
    pub fn key(&mut self, value: u32, first: u32, second: u32) -> Result<(), BusFault> {
        match (self.blocked, self.locked, self.stage) {
            (false, true, 0) if value == first => self.stage = 1,
            (false, true, 1) if value == second => {
                self.stage = 0;
                self.locked = false;
            }
            _ => {
                self.block();
                return Err(BusFault);
            }
        }
        Ok(())
    }

    /// A wrong sequence by other means: locked and blocked until reset.
    pub fn block(&mut self) {
        self.blocked = true;
        self.stage = 0;
        self.locked = true;
    }
}

/// What an erase or program by code on the chip ran into, independent of the family's flags.
pub const ERR_WRITE_PROTECT: u32 = 1 << 0;
pub const ERR_OTHER: u32 = 1 << 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Controller {
    F4(F4Flash),
    H7(H7Flash),
    L4(L4Flash),
    G0(G0Flash),
}

impl Controller {
    pub fn as_f4(&self) -> Option<&F4Flash> {
        match self {
            Controller::F4(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_f4_mut(&mut self) -> Option<&mut F4Flash> {
        match self {
            Controller::F4(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_h7_mut(&mut self) -> Option<&mut H7Flash> {
        match self {
            Controller::H7(c) => Some(c),
            _ => None,
        }
    }

    /// A power-on reset: on L4/G0 the option bytes load only here (and at OBL_LAUNCH).
    pub fn power_on_reset(&mut self) {
        match self {
            Controller::F4(c) => c.reset(),
            Controller::H7(c) => c.reset(),
            Controller::L4(c) => c.power_on_reset(),
            Controller::G0(c) => c.power_on_reset(),
        }
    }

    /// Code set OBL_LAUNCH: the part must reload its option bytes and reset.
    pub fn take_obl_launch(&mut self) -> bool {
        match self {
            Controller::L4(c) => c.take_obl_launch(),
            Controller::G0(c) => c.take_obl_launch(),
            _ => false,
        }
    }

    pub fn reset(&mut self) {
        match self {
            Controller::F4(c) => c.reset(),
            Controller::H7(c) => c.reset(),
            Controller::L4(c) => c.reset(),
            Controller::G0(c) => c.reset(),
        }
    }

    pub fn busy_until(&self) -> Duration {
        match self {
            Controller::F4(c) => c.busy_until(),
            Controller::H7(c) => c.busy_until(),
            Controller::L4(c) => c.busy_until(),
            Controller::G0(c) => c.busy_until(),
        }
    }

    /// A register read at `offset` from the controller's base.
    pub fn read(&self, offset: u32, now: Duration) -> u32 {
        match self {
            Controller::F4(c) => c.read(offset, now),
            Controller::H7(c) => c.read(offset, now),
            Controller::L4(c) => c.read(offset, now),
            Controller::G0(c) => c.read(offset, now),
        }
    }

    pub fn write(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault> {
        match self {
            Controller::F4(c) => c.write(offset, value, bus),
            Controller::H7(c) => c.write(offset, value, bus),
            Controller::L4(c) => c.write(offset, value, bus),
            Controller::G0(c) => c.write(offset, value, bus),
        }
    }

    /// A bus write of `width` bytes into the flash array.
    pub fn program(&mut self, address: u32, value: u32, width: u32, bus: &mut FlashBus) {
        match self {
            Controller::F4(c) => c.program(address, value, width, bus),
            Controller::H7(c) => c.program(address, value, width, bus),
            Controller::L4(c) => c.program(address, value, width, bus),
            Controller::G0(c) => c.program(address, value, width, bus),
        }
    }

    fn generic(errors: u32, wrp: u32) -> u32 {
        let mut out = 0;
        if errors & wrp != 0 {
            out |= ERR_WRITE_PROTECT;
        }
        if errors & !wrp != 0 {
            out |= ERR_OTHER;
        }
        out
    }

    pub fn erase_block(&mut self, sector: usize, bus: &mut FlashBus) -> u32 {
        match self {
            Controller::F4(c) => Self::generic(c.erase_block(sector, bus), f4::SR_WRPERR),
            Controller::H7(c) => Self::generic(c.erase_block(sector, bus), h7::SR_WRPERR),
            Controller::L4(c) => Self::generic(c.erase_block(sector, bus), l4::SR_WRPERR),
            Controller::G0(c) => Self::generic(c.erase_block(sector, bus), g0::SR_WRPERR),
        }
    }

    pub fn mass_erase_block(&mut self, bus: &mut FlashBus) -> u32 {
        match self {
            Controller::F4(c) => {
                let before = c.read(f4::SR, bus.now);
                c.mass_erase(bus);
                let raised = c.read(f4::SR, bus.now) & !before & 0xF2;
                Self::generic(raised, f4::SR_WRPERR)
            }
            Controller::H7(c) => Self::generic(c.mass_erase_block(bus), h7::SR_WRPERR),
            Controller::L4(c) => Self::generic(c.mass_erase_block(bus), l4::SR_WRPERR),
            Controller::G0(c) => Self::generic(c.mass_erase_block(bus), g0::SR_WRPERR),
        }
    }

    pub fn program_block(&mut self, address: u32, data: &[u8], bus: &mut FlashBus) -> u32 {
        match self {
            Controller::F4(c) => Self::generic(c.program_block(address, data, bus), f4::SR_WRPERR),
            Controller::H7(c) => Self::generic(c.program_block(address, data, bus), h7::SR_WRPERR),
            Controller::L4(c) => Self::generic(c.program_block(address, data, bus), l4::SR_WRPERR),
            Controller::G0(c) => Self::generic(c.program_block(address, data, bus), g0::SR_WRPERR),
        }
    }

    /// RDP level of the loaded option bytes (what governs the part now).
    pub fn rdp_level(&self) -> u8 {
        match self {
            Controller::F4(c) => f4::rdp_level(c.loaded_options()),
            Controller::H7(c) => c.rdp_level(),
            Controller::L4(c) => c.rdp_level(),
            Controller::G0(c) => c.rdp_level(),
        }
    }

    /// RDP level as stored (what the part will load at its next reset).
    pub fn stored_rdp_level(&self) -> u8 {
        match self {
            Controller::F4(c) => f4::rdp_level(c.stored_options()),
            Controller::H7(c) => c.stored_rdp_level(),
            Controller::L4(c) => c.stored_rdp_level(),
            Controller::G0(c) => c.stored_rdp_level(),
        }
    }

    pub fn sector_write_protected(&self, sector: usize) -> bool {
        match self {
            Controller::F4(c) => f4::sector_write_protected(c.loaded_options(), sector),
            Controller::H7(c) => c.sector_write_protected(sector),
            Controller::L4(c) => c.sector_write_protected(sector),
            Controller::G0(c) => c.sector_write_protected(sector),
        }
    }

    /// The bootloader's Read Unprotect: back to level 0 at the next reset (the caller erases).
    pub fn store_rdp_level0(&mut self) {
        match self {
            Controller::F4(c) => c.set_stored_options((c.stored_options() & !0xFF00) | 0xAA00),
            Controller::H7(c) => c.store_rdp_level0(),
            Controller::L4(c) => c.store_rdp_level0(),
            Controller::G0(c) => c.store_rdp_level0(),
        }
    }

    /// Where the (first) core fetches its vector table after reset, on parts whose option
    /// bytes hold boot addresses (F7 OPTCR1 BOOT_ADDx << 14, H7 BOOT_ADDx << 16, picked by
    /// the BOOT0 pin). `None` where BOOT0 alone selects flash or system memory (F4, L4, G0).
    pub fn boot_address(&self, boot0: bool) -> Option<u32> {
        let pick = |word: u32| if boot0 { word >> 16 } else { word & 0xFFFF };
        match self {
            Controller::F4(c) if c.variant() == f4::Variant::F76x => {
                Some(pick(c.loaded_boot()) << 14)
            }
            Controller::H7(c) => Some(pick(c.loaded_options().boot) << 16),
            _ => None,
        }
    }

    /// BOOT0 as the part sees it, and whether a high BOOT0 starts system memory (else SRAM).
    /// L4: the pin, nBOOT1 (OPTR bit 23). G0: nBOOT_SEL (24) = 1 takes BOOT0 from the inverted
    /// nBOOT0 bit (26) and ignores the pin; nBOOT1 (25). Bits from the facts file (3.4, 3.5);
    /// the boot-mode table itself is \[R\] (RM0351 and RM0444 "Boot modes").
    pub fn effective_boot0(&self, pin: bool) -> (bool, bool) {
        match self {
            Controller::L4(c) => (pin, c.loaded_options().optr & (1 << 23) != 0),
            Controller::G0(c) => {
                let optr = c.loaded_options().optr;
                let boot0 = if optr & (1 << 24) != 0 {
                    optr & (1 << 26) == 0
                } else {
                    pin
                };
                (boot0, optr & (1 << 25) != 0)
            }
            _ => (pin, true),
        }
    }

    /// The H745/H755's Cortex-M4: whether it boots by itself (OPTSR.BCM4) and where it
    /// fetches its vector table (BOOT_CM4_ADD0/1, picked by BOOT0). `None` on single-core parts.
    pub fn second_core_boot(&self, boot0: bool) -> Option<(bool, u32)> {
        let Controller::H7(c) = self else {
            return None;
        };
        let options = c.loaded_options();
        let word = options.boot4?;
        let half = if boot0 { word >> 16 } else { word & 0xFFFF };
        Some((options.optsr & super::h7::OPTSR_BCM4 != 0, half << 16))
    }

    /// Store an RDP byte in the option cells (as a part delivered at level 1 has it); it
    /// governs from the next power-on.
    pub fn store_rdp_byte(&mut self, byte: u8) {
        match self {
            Controller::F4(c) => {
                c.set_stored_options((c.stored_options() & !0xFF00) | ((byte as u32) << 8))
            }
            Controller::H7(c) => c.store_rdp_byte(byte),
            Controller::L4(c) => c.store_rdp_byte(byte),
            Controller::G0(c) => c.store_rdp_byte(byte),
        }
    }

    /// A word of the memory-mapped option bytes, where the family has them.
    pub fn option_area(&self, address: u32) -> Option<u32> {
        match self {
            // RM0090: user option bytes at 0x1FFF_C000.
            Controller::F4(c) if address == 0x1FFF_C000 => Some(c.stored_options()),
            Controller::H7(c) => c.option_area(address),
            Controller::L4(c) => c.option_area(address),
            Controller::G0(c) => c.option_area(address),
            _ => None,
        }
    }

    /// The F4 option-byte flash algorithm's write, through the option registers.
    pub fn write_options_through_registers(&mut self, options: u32, bus: &mut FlashBus) {
        match self {
            // Only the F4's option-byte flash algorithm is emulated.
            Controller::H7(_) | Controller::L4(_) | Controller::G0(_) => {}
            Controller::F4(c) => {
                use super::f4::{OPTCR, OPTCR_OPTSTRT, OPTKEY1, OPTKEY2, OPTKEYR};
                let _ = c.write(OPTKEYR, OPTKEY1, bus);
                let _ = c.write(OPTKEYR, OPTKEY2, bus);
                let _ = c.write(OPTCR, options & !OPTCR_OPTSTRT & !1, bus);
                let _ = c.write(OPTCR, (options & !1) | OPTCR_OPTSTRT, bus);
            }
        }
    }
}
