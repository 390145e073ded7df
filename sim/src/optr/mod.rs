//! The FLASH controller shared by the OPTR-style families (STM32L4, STM32G0): one model,
//! described per family by a [`Layout`] (facts file sections 3.0, 3.4, 3.5).
//!
//! [`crate::l4`] and [`crate::g0`] wrap [`OptrCore`] with their layout and a typed
//! options struct. Register offsets, bits and keys below are \[V\]/\[X\] in the facts file.
//!
//! Modelling choices (the facts file is silent or tags them \[R\]; where ST's RM0440 for the
//! sibling STM32G4 controller was read, it is named, but it is not the L4/G0 manual):
//! - three copies of the option words: `stored` (the option bytes in flash), `loaded` (the
//!   internal option registers, which govern protection) and `regs` (the software-visible
//!   FLASH_OPTR/WRPxyR/PCROPx registers). An option load (OBL_LAUNCH or power-on) copies
//!   stored → loaded; every system reset copies loaded → regs; writes change `regs`; OPTSTRT
//!   programs `regs` into `stored`. So after OPTSTRT the registers read what software wrote,
//!   and after a plain system reset they read the loaded (old) values again until an option
//!   load (RM0440 §4.4.2 "On system reset rising, internal option registers are copied into
//!   option registers which can be read and written by software") [R for L4/G0];
//! - OBL_LAUNCH is only latched here ([`OptrCore::take_obl_launch`]): the MCU must answer it
//!   with an option load and a system reset. It cannot be set while OPTLOCK is set (RM0440);
//! - a wrong KEYR sequence locks CR until reset; a wrong OPTKEYR sequence, or an OPTKEYR write
//!   while CR.LOCK is still set, keeps OPTLOCK set until reset; both answer with a bus error;
//! - programming is by 64-bit double word, two 32-bit writes low word first (RM0440 §4.3.7):
//!   byte/half-word writes SIZERR, a first word off a double-word boundary or a second word
//!   of another double word PGAERR, a write without PG PGSERR, a double word that is not
//!   all 0xFF PROGERR unless the new data is all zero (RM0440 \[R\]); any write or STRT while a
//!   programming error flag is still set PGSERR (RM0440 \[R\]). A first word left alone when
//!   CR changes (PG cleared, LOCK, STRT, OPTSTRT) is dropped with PGSERR (model's choice);
//! - "programmed once after erase" is judged from the cells (the array is shared with other
//!   code that erases or restores it): a double word is programmable when it reads all 0xFF;
//! - WRPERR for a WRP page, a PCROP double word (program) or page (erase), RDP level 1 with a
//!   debugger connected since power-on, and an option change at RDP level 2 (RM0440 \[R\]);
//!   a mass erase is refused if any page of the erased banks is WRP/PCROP protected;
//! - EOP is set only when EOPIE is set, OPERR only when ERRIE is set (RM0440 \[R\]);
//! - CR/option-register writes while BSY are stalled on silicon; like the F4 model, the
//!   model drops them and flags PGSERR (CR.LOCK/OPTLOCK are still honoured);
//! - RDP 1 → 0 (level 1 loaded, level 0 requested) erases at OPTSTRT: the whole array when
//!   PCROP_RDP is set or no PCROP area is loaded, and PCROP is then disabled; otherwise a
//!   partial erase keeps the pages overlapping a PCROP area and the PCROP settings
//!   (facts 3.0, from RM0444/RM0432; \[R\] for the L476). Outside a regression a PCROP area can
//!   only grow (RM0440 \[R\]). Backup registers/SRAM2 are not modelled;
//! - option-byte complements, OPTVERR, ECC errors (ECCR reads 0) and fast programming timing
//!   (MISERR/FASTERR) are not modelled; FSTPG writes follow the standard double-word rules.

mod family;
mod layout;
mod options;
mod programming;
mod registers;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::controller::{FlashBus, KeyLock};

pub(crate) use family::optr_family;
pub use layout::{Layout, OptReg, Pcrop, Wrp};
pub use options::rdp_level;
pub use registers::*;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptrCore {
    cr: u32,
    key: KeyLock,
    optkey: KeyLock,
    sr: u32,
    busy_until: Duration,
    /// CR.STRT / CR.OPTSTRT of the operation under way (they read 1 until BSY clears).
    busy_bits: u32,
    /// The first word of a double word: (address, value).
    pending: Option<(u32, u32)>,
    obl_request: bool,
    /// The software-visible option registers.
    regs: Vec<u32>,
    /// The option bytes in flash.
    stored: Vec<u32>,
    /// The internal option registers, loaded at the last option load: these govern.
    loaded: Vec<u32>,
}

impl OptrCore {
    /// A part as it comes out of a power-on with `options` in its option bytes.
    pub fn new(options: Vec<u32>) -> Self {
        let mut c = Self {
            cr: 0,
            key: KeyLock::new(),
            optkey: KeyLock::new(),
            sr: 0,
            busy_until: Duration::ZERO,
            busy_bits: 0,
            pending: None,
            obl_request: false,
            regs: options.clone(),
            loaded: options.clone(),
            stored: options,
        };
        c.power_on_reset();
        c
    }

    /// A system reset: locks, ends any operation, drops a lone first word and copies the
    /// loaded option values into the option registers. No option load.
    pub fn reset(&mut self) {
        self.cr = 0;
        self.key.reset();
        self.optkey.reset();
        self.sr = 0;
        self.busy_until = Duration::ZERO;
        self.busy_bits = 0;
        self.pending = None;
        self.obl_request = false;
        self.regs = self.loaded.clone();
    }

    /// An option load (OBL_LAUNCH or power-on): stored → loaded, then a system reset.
    pub fn power_on_reset(&mut self) {
        self.loaded = self.stored.clone();
        self.reset();
    }

    /// Whether software set CR.OBL_LAUNCH since the last call; clears the request.
    pub fn take_obl_launch(&mut self) -> bool {
        std::mem::take(&mut self.obl_request)
    }

    pub fn obl_launch_requested(&self) -> bool {
        self.obl_request
    }

    pub fn busy_until(&self) -> Duration {
        self.busy_until
    }

    pub fn stored(&self) -> &[u32] {
        &self.stored
    }

    pub fn loaded(&self) -> &[u32] {
        &self.loaded
    }

    pub fn registers(&self) -> &[u32] {
        &self.regs
    }

    pub fn set_stored(&mut self, words: Vec<u32>) {
        self.stored = words;
    }

    fn busy(&self, now: Duration) -> bool {
        now < self.busy_until
    }

    fn start_busy(&mut self, now: Duration, cost: Duration, bits: u32) {
        self.busy_until = self.busy_until.max(now) + cost;
        self.busy_bits = bits;
    }

    /// Raise an error flag (and OPERR when ERRIE is set).
    fn fail(&mut self, flag: u32) {
        self.sr |= flag;
        if self.cr & CR_ERRIE != 0 {
            self.sr |= SR_OPERR;
        }
    }

    fn done(&mut self) {
        if self.cr & CR_EOPIE != 0 {
            self.sr |= SR_EOP;
        }
    }

    /// A lone first word is dropped: a sequence error.
    fn drop_pending(&mut self) {
        if self.pending.take().is_some() {
            self.fail(SR_PGSERR);
        }
    }

    fn flash_blocked(&self, bus: &FlashBus) -> bool {
        bus.debugger && rdp_level(self.loaded[0]) >= 1
    }
}
