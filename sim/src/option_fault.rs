//! A part whose option changes go wrong (`faults = ["option-error"]` or `["option-hang"]`),
//! layered over the family's FLASH controller at its registers: the write that would start an
//! option change loses its start bit, so nothing is programmed, and the registers then show
//! the family's error flag (until software clears it or the part resets) or a busy controller
//! (until the next power-on, as an H742 that hung after an option change did, facts 3.3).
//!
//! Which flag: the H7's OPTCHANGEERR is documented for this; the F4/F7 flag OPERR and the
//! L4/G0 flag OPTVERR are the model's choice (the reference manuals name no flag for a failed
//! option change on those families). Only the H7's bank-1 offsets of the shared option
//! registers are layered, not their bank-2 aliases (the station uses bank 1).

use super::Family;
use super::fault::OptionFault;

/// A register (offset from the FLASH base) and a bit in it.
#[derive(Clone, Copy)]
struct Bit {
    offset: u32,
    mask: u32,
}

const fn bit(offset: u32, n: u32) -> Bit {
    Bit {
        offset,
        mask: 1 << n,
    }
}

/// Where a family locks, starts, shows and clears an option change.
struct Signals {
    lock: Bit,
    start: Bit,
    busy: Bit,
    error: Bit,
    clear: Bit,
}

fn signals(family: Family) -> Signals {
    match family {
        // OPTCR OPTLOCK/OPTSTRT; SR BSY, OPERR (write 1 to clear).
        Family::F4 | Family::F7 => Signals {
            lock: bit(0x14, 0),
            start: bit(0x14, 1),
            busy: bit(0x0C, 16),
            error: bit(0x0C, 1),
            clear: bit(0x0C, 1),
        },
        // OPTCR OPTLOCK/OPTSTART; OPTSR_CUR OPT_BUSY, OPTCHANGEERR; OPTCCR CLR_OPTCHANGEERR.
        Family::H7 => Signals {
            lock: bit(0x18, 0),
            start: bit(0x18, 1),
            busy: bit(0x1C, 0),
            error: bit(0x1C, 30),
            clear: bit(0x24, 30),
        },
        // CR OPTLOCK/OPTSTRT; SR BSY, OPTVERR (write 1 to clear).
        Family::L4 | Family::G0 => Signals {
            lock: bit(0x14, 30),
            start: bit(0x14, 17),
            busy: bit(0x10, 16),
            error: bit(0x10, 15),
            clear: bit(0x10, 15),
        },
    }
}

/// What the fault has done to the controller so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionFaultState {
    error_shown: bool,
    hung: bool,
}

impl OptionFaultState {
    /// A register write about to reach the controller: the value it should see. `read` gives
    /// the register's current value (for the lock bit).
    pub fn on_write(
        &mut self,
        fault: Option<OptionFault>,
        family: Family,
        offset: u32,
        value: u32,
        read: impl Fn(u32) -> u32,
    ) -> u32 {
        let s = signals(family);
        if offset == s.clear.offset && value & s.clear.mask != 0 {
            self.error_shown = false;
        }
        let Some(fault) = fault else {
            return value;
        };
        let starts = offset == s.start.offset && value & s.start.mask != 0;
        if !starts || read(s.lock.offset) & s.lock.mask != 0 {
            return value;
        }
        match fault {
            OptionFault::Error => self.error_shown = true,
            OptionFault::Hang => self.hung = true,
        }
        value & !s.start.mask
    }

    /// Bits the fault adds to a register read at `offset`.
    pub fn on_read(&self, family: Family, offset: u32) -> u32 {
        let s = signals(family);
        let mut extra = 0;
        if self.hung && offset == s.busy.offset {
            extra |= s.busy.mask;
        }
        if self.error_shown && offset == s.error.offset {
            extra |= s.error.mask;
        }
        extra
    }

    /// A system reset clears the error flag; a hung controller needs a power-on.
    pub fn system_reset(&mut self) {
        self.error_shown = false;
    }

    pub fn power_on(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNLOCKED: fn(u32) -> u32 = |_| 0;

    #[test]
    fn an_unlocked_start_loses_its_bit_and_shows_the_flag_until_cleared() {
        let mut state = OptionFaultState::default();
        let f = Some(OptionFault::Error);
        // F4: OPTCR | OPTSTRT reaches the controller without OPTSTRT; SR shows OPERR.
        assert_eq!(
            state.on_write(f, Family::F4, 0x14, 0x0FFF_55EE, UNLOCKED),
            0x0FFF_55EC
        );
        assert_eq!(state.on_read(Family::F4, 0x0C), 1 << 1);
        assert_eq!(
            state.on_write(f, Family::F4, 0x0C, 1 << 1, UNLOCKED),
            1 << 1
        );
        assert_eq!(state.on_read(Family::F4, 0x0C), 0);
    }

    #[test]
    fn a_locked_start_or_no_fault_passes_untouched() {
        let mut state = OptionFaultState::default();
        let locked = |_| u32::MAX;
        let v = 1 << 17;
        assert_eq!(
            state.on_write(Some(OptionFault::Hang), Family::G0, 0x14, v, locked),
            v
        );
        assert_eq!(state.on_write(None, Family::G0, 0x14, v, UNLOCKED), v);
        assert_eq!(state, OptionFaultState::default());
    }

    #[test]
    fn a_hang_shows_busy_until_power_on_whatever_resets_come() {
        let mut state = OptionFaultState::default();
        let f = Some(OptionFault::Hang);
        assert_eq!(state.on_write(f, Family::H7, 0x18, 0b10, UNLOCKED), 0);
        assert_eq!(state.on_read(Family::H7, 0x1C), 1);
        state.system_reset();
        assert_eq!(state.on_read(Family::H7, 0x1C), 1);
        state.power_on();
        assert_eq!(state.on_read(Family::H7, 0x1C), 0);
    }
}
