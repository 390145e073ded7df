//! The STM32F4 FLASH interface at register level (RM0090, facts file section 3.1), and the
//! STM32F76x/77x one, which keeps the same registers and sequences (RM0410, facts 3.2) with a
//! 5-bit SNB, more option bits in OPTCR and the boot addresses in OPTCR1.
//!
//! Register and bit positions are [V]/[X] in the facts file. Modelling choices:
//! - a wrong key sequence blocks KEYR/OPTKEYR until the next reset and answers with a bus error;
//! - option changes are written at OPTSTRT but govern protection only after a reset, when the
//!   option bytes are loaded again (there is no OBL_LAUNCH on F4);
//! - with RDP level 1 loaded and a debugger connected since power-on, erase and program are
//!   refused and flag WRPERR (the manual says the flash is not accessible; the flag is our choice).

use std::time::Duration;

use super::controller::KeyLock;
pub use super::controller::{BusFault, FlashBus};

pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;

pub const KEYR: u32 = 0x04;
pub const OPTKEYR: u32 = 0x08;
pub const SR: u32 = 0x0C;
pub const CR: u32 = 0x10;
pub const OPTCR: u32 = 0x14;
/// F76x/77x: BOOT_ADD0 bits 15:0, BOOT_ADD1 bits 31:16 (facts 3.2).
pub const OPTCR1: u32 = 0x18;

pub const CR_PG: u32 = 1 << 0;
pub const CR_SER: u32 = 1 << 1;
pub const CR_MER: u32 = 1 << 2;
pub const CR_STRT: u32 = 1 << 16;
pub const CR_LOCK: u32 = 1 << 31;

pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_PGPERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_BSY: u32 = 1 << 16;
const SR_CLEARABLE: u32 = SR_EOP | SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR;

pub const OPTCR_OPTLOCK: u32 = 1 << 0;
pub const OPTCR_OPTSTRT: u32 = 1 << 1;
/// F76x/77x FLASH_SR bit 7 is ERSERR (erase sequence error), the F4's PGSERR position.
pub const SR_ERSERR: u32 = SR_PGSERR;

/// Which controller of the family: they differ in SNB width and option bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Variant {
    /// F405/F407 (RM0090).
    #[default]
    F40x,
    /// F76x/77x in single-bank mode (RM0410).
    F76x,
}

impl Variant {
    /// Bits of OPTCR that are option bytes (the rest are control bits): facts 3.1 and 3.2.
    fn option_bits(self) -> u32 {
        match self {
            Variant::F40x => 0x0FFF_FFEC,
            // BOR_LEV, WWDG_SW, IWDG_SW, nRST_*, RDP, nWRP 27:16, nDBOOT, nDBANK, IWDG_*.
            Variant::F76x => 0xFFFF_FFFC,
        }
    }

    fn snb_mask(self) -> u32 {
        match self {
            Variant::F40x => 0xF,
            Variant::F76x => 0x1F,
        }
    }
}

/// RDP level from the RDP byte: 0xAA level 0, 0xCC level 2, anything else level 1.
pub fn rdp_level(options: u32) -> u8 {
    match (options >> 8) & 0xFF {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

/// nWRP bit i clear means sector i is write-protected.
pub fn sector_write_protected(options: u32, sector: usize) -> bool {
    sector < 12 && (options >> (16 + sector)) & 1 == 0
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct F4Flash {
    cr: u32,
    key: KeyLock,
    optkey: KeyLock,
    sr: u32,
    busy_until: Duration,
    optcr: u32,
    /// The option bytes as stored in their flash cells.
    stored: u32,
    /// The option bytes loaded at the last reset: these govern protection.
    loaded: u32,
    #[serde(default)]
    variant: Variant,
    /// F76x OPTCR1 (boot addresses): register, stored and loaded, as for OPTCR.
    #[serde(default)]
    optcr1: u32,
    #[serde(default)]
    stored1: u32,
    #[serde(default)]
    loaded1: u32,
}

impl F4Flash {
    /// An F405/F407 controller whose option cells hold `options`.
    pub fn new(options: u32) -> Self {
        Self::with_variant(Variant::F40x, options, 0)
    }

    /// An F76x/77x controller with OPTCR and OPTCR1 cells as given.
    pub fn f76x(options: u32, boot: u32) -> Self {
        Self::with_variant(Variant::F76x, options, boot)
    }

    fn with_variant(variant: Variant, options: u32, boot: u32) -> Self {
        let mut f = Self {
            cr: 0,
            key: KeyLock::new(),
            optkey: KeyLock::new(),
            sr: 0,
            busy_until: Duration::ZERO,
            optcr: 0,
            stored: options & variant.option_bits(),
            loaded: 0,
            variant,
            optcr1: 0,
            stored1: if variant == Variant::F76x { boot } else { 0 },
            loaded1: 0,
        };
        f.reset();
        f
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// F76x: the boot addresses loaded at the last reset (OPTCR1).
    pub fn loaded_boot(&self) -> u32 {
        self.loaded1
    }

    pub fn stored_boot(&self) -> u32 {
        self.stored1
    }

    /// A system reset or power-on: lock everything and load the option bytes.
    pub fn reset(&mut self) {
        self.cr = 0;
        self.key.reset();
        self.optkey.reset();
        self.sr = 0;
        // A reset ends any operation under way (what it leaves in the array is the
        // caller's business: see the power-cut model).
        self.busy_until = Duration::ZERO;
        self.optcr = self.stored;
        self.loaded = self.stored;
        self.optcr1 = self.stored1;
        self.loaded1 = self.stored1;
    }

    pub fn loaded_options(&self) -> u32 {
        self.loaded
    }

    pub fn stored_options(&self) -> u32 {
        self.stored
    }

    pub fn set_stored_options(&mut self, options: u32) {
        self.stored = options & self.variant.option_bits();
    }

    pub fn busy_until(&self) -> Duration {
        self.busy_until
    }

    fn busy(&self, now: Duration) -> bool {
        now < self.busy_until
    }

    fn start_busy(&mut self, now: Duration, cost: Duration) {
        self.busy_until = self.busy_until.max(now) + cost;
    }

    pub fn read(&self, offset: u32, now: Duration) -> u32 {
        match offset {
            SR => self.sr | if self.busy(now) { SR_BSY } else { 0 },
            CR => self.cr | if self.key.locked { CR_LOCK } else { 0 },
            OPTCR => self.optcr | if self.optkey.locked { OPTCR_OPTLOCK } else { 0 },
            OPTCR1 if self.variant == Variant::F76x => self.optcr1,
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault> {
        match offset {
            KEYR => self.key_write(value),
            OPTKEYR => self.optkey_write(value),
            SR => {
                self.sr &= !(value & SR_CLEARABLE);
                Ok(())
            }
            CR => {
                self.cr_write(value, bus);
                Ok(())
            }
            OPTCR => {
                self.optcr_write(value, bus);
                Ok(())
            }
            // Like OPTCR's option bits, OPTCR1 is writable only while OPTLOCK is clear.
            OPTCR1 if self.variant == Variant::F76x && !self.optkey.locked => {
                self.optcr1 = value;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn key_write(&mut self, value: u32) -> Result<(), BusFault> {
        // RM0090: a wrong sequence locks FLASH_CR until the next reset.
        self.key.key(value, KEY1, KEY2)
    }

    fn optkey_write(&mut self, value: u32) -> Result<(), BusFault> {
        self.optkey.key(value, OPTKEY1, OPTKEY2)
    }

    fn flash_blocked(&self, bus: &FlashBus) -> bool {
        bus.debugger && rdp_level(self.loaded) >= 1
    }

    fn cr_write(&mut self, value: u32, bus: &mut FlashBus) {
        if self.key.locked {
            return;
        }
        if value & CR_LOCK != 0 {
            self.key.locked = true;
            self.cr = 0;
            return;
        }
        if self.busy(bus.now) {
            // Writes while BSY are stalled on silicon; the model drops them and flags PGSERR.
            self.sr |= SR_PGSERR;
            return;
        }
        self.cr = value & !CR_STRT;
        if value & CR_STRT == 0 {
            return;
        }
        let ser = value & CR_SER != 0;
        let mer = value & CR_MER != 0;
        let snb = ((value >> 3) & self.variant.snb_mask()) as usize;
        match (ser, mer) {
            (true, false) => self.erase_sector(snb, bus),
            (false, true) => self.mass_erase(bus),
            _ => self.sr |= SR_PGSERR,
        }
    }

    /// Erase one sector, as the controller does it: protection checked first.
    pub fn erase_sector(&mut self, sector: usize, bus: &mut FlashBus) {
        if sector >= bus.flash.sector_count() {
            self.sr |= SR_PGSERR;
            return;
        }
        if self.flash_blocked(bus) || sector_write_protected(self.loaded, sector) {
            self.sr |= SR_WRPERR;
            return;
        }
        let size = bus.flash.sector(sector).map(|(_, s)| s).unwrap_or(0);
        bus.flash.erase_sector(sector);
        self.start_busy(bus.now, bus.timing.erase_time(size));
        self.sr |= SR_EOP;
    }

    pub fn mass_erase(&mut self, bus: &mut FlashBus) {
        let any_wrp = (0..bus.flash.sector_count()).any(|s| sector_write_protected(self.loaded, s));
        if self.flash_blocked(bus) || any_wrp {
            self.sr |= SR_WRPERR;
            return;
        }
        bus.flash.erase_all();
        self.start_busy(bus.now, bus.timing.mass_erase);
        self.sr |= SR_EOP;
    }

    /// A bus write into the flash array. `width` is the access size in bytes.
    pub fn program(&mut self, address: u32, value: u32, width: u32, bus: &mut FlashBus) {
        if self.key.locked || self.cr & CR_PG == 0 || self.cr & (CR_SER | CR_MER) != 0 {
            self.sr |= SR_PGSERR;
            return;
        }
        let psize = 1u32 << ((self.cr >> 8) & 3);
        if width != psize {
            self.sr |= SR_PGPERR;
            return;
        }
        if !address.is_multiple_of(width) {
            self.sr |= SR_PGAERR;
            return;
        }
        if bus.otp.as_ref().is_some_and(|o| o.contains(address)) {
            let bytes = value.to_le_bytes();
            if self.flash_blocked(bus) {
                self.sr |= SR_WRPERR;
                return;
            }
            let Some(otp) = bus.otp.as_mut() else {
                return;
            };
            if otp.program(address, &bytes[..width as usize]) == super::otp::OtpWrite::Locked {
                self.sr |= SR_WRPERR;
                return;
            }
            let cost = bus.timing.word_program * width / 4;
            self.start_busy(bus.now, cost);
            self.sr |= SR_EOP;
            return;
        }
        let Some(sector) = bus.flash.sector_of(address) else {
            self.sr |= SR_PGSERR;
            return;
        };
        if self.flash_blocked(bus) || sector_write_protected(self.loaded, sector) {
            self.sr |= SR_WRPERR;
            return;
        }
        let bytes = value.to_le_bytes();
        bus.flash.program(address, &bytes[..width as usize]);
        let cost = bus.timing.word_program * width / 4;
        self.start_busy(bus.now, cost);
        self.sr |= SR_EOP;
    }

    /// Program a block on behalf of code running on the chip (a bootloader, a flash
    /// algorithm): the same rules as bus writes, word by word. Returns the SR error bits.
    pub fn program_block(&mut self, address: u32, data: &[u8], bus: &mut FlashBus) -> u32 {
        let before = self.sr;
        if self.program_block_at_once(address, data, bus) {
            return 0;
        }
        let (cr, locked) = (self.cr, self.key.locked);
        self.key.locked = false;
        self.cr = CR_PG | (2 << 8);
        for (i, chunk) in data.chunks(4).enumerate() {
            let mut word = [0xFF; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.program(address + 4 * i as u32, u32::from_le_bytes(word), 4, bus);
            if self.sr & (SR_CLEARABLE & !SR_EOP) != 0 {
                break;
            }
        }
        self.cr = cr;
        self.key.locked = locked;
        self.errors_since(before)
    }

    /// A block that the word-by-word loop would program without any error (aligned, inside
    /// one unprotected sector, not OTP, flash not blocked), in one go: the same cells, the
    /// same busy time. Torture sweeps program hundreds of thousands of blocks.
    fn program_block_at_once(&mut self, address: u32, data: &[u8], bus: &mut FlashBus) -> bool {
        let words = data.len().div_ceil(4) as u32;
        let last = address.wrapping_add(4 * words).wrapping_sub(1);
        let sector = bus.flash.sector_of(address);
        let clean = !data.is_empty()
            && address.is_multiple_of(4)
            && sector.is_some()
            && bus.flash.sector_of(last) == sector
            && !bus
                .otp
                .as_ref()
                .is_some_and(|o| o.contains(address) || o.contains(last))
            && !self.flash_blocked(bus)
            && !sector.is_some_and(|s| sector_write_protected(self.loaded, s));
        if !clean {
            return false;
        }
        // 0xFF padding of a partial last word programs nothing.
        bus.flash.program(address, data);
        self.start_busy(bus.now, bus.timing.word_program * words);
        self.sr |= SR_EOP;
        true
    }

    /// Erase a sector on behalf of code on the chip. Returns the SR error bits it raised.
    pub fn erase_block(&mut self, sector: usize, bus: &mut FlashBus) -> u32 {
        let before = self.sr;
        self.erase_sector(sector, bus);
        self.errors_since(before)
    }

    fn errors_since(&mut self, before: u32) -> u32 {
        let raised = self.sr & !before & (SR_CLEARABLE & !SR_EOP);
        // Code on the chip clears the flags it handled, as the HAL does.
        self.sr &= !raised;
        raised
    }

    fn optcr_write(&mut self, value: u32, bus: &mut FlashBus) {
        if self.optkey.locked {
            return;
        }
        self.optcr_update(value, bus);
        // Facts 3.1: the option sequence ends by setting OPTLOCK (set-only; keys clear it).
        if value & OPTCR_OPTLOCK != 0 {
            self.optkey.locked = true;
        }
    }

    fn optcr_update(&mut self, value: u32, bus: &mut FlashBus) {
        if self.busy(bus.now) {
            self.sr |= SR_PGSERR;
            return;
        }
        self.optcr = value & self.variant.option_bits();
        if value & OPTCR_OPTSTRT == 0 {
            return;
        }
        if rdp_level(self.stored) == 2 {
            bus.log
                .push("option bytes frozen at RDP level 2; OPTSTRT ignored".into());
            return;
        }
        let new = self.optcr;
        if rdp_level(self.stored) == 1 && rdp_level(new) == 0 {
            // RDP regression: the whole user flash is erased before protection drops,
            // whatever the write protection says.
            bus.flash.erase_all();
            self.start_busy(bus.now, bus.timing.mass_erase);
            bus.log.push("RDP regression 1 -> 0: mass erase".into());
        }
        self.stored = new;
        self.stored1 = self.optcr1;
        if self.variant == Variant::F76x && new & (1 << 29) == 0 {
            // nDBANK = 0 selects dual-bank mode: stored, but the model keeps the single-bank
            // layout (the profiles never change it; noted in docs/sim.md).
            bus.log
                .push("nDBANK cleared: dual-bank layout not modelled".into());
        }
        self.start_busy(bus.now, bus.timing.option_program);
        bus.log
            .push(format!("option bytes programmed: {new:#010x}"));
    }
}
