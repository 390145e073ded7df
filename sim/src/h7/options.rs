//! Option bytes: the user options (OPTSR, WPSN, boot addresses), their factory values, and the
//! option change started by OPTCR.OPTSTART.

use serde::{Deserialize, Serialize};

use super::{
    BOOT_PRG, BOOT4_PRG, FlashBus, H7Flash, OPTCCR, OPTCCR_CLR_OPTCHANGEERR, OPTCR, OPTCR_MER,
    OPTCR_OPTCHANGEERRIE, OPTCR_OPTLOCK, OPTCR_OPTSTART, OPTKEY1, OPTKEY2, OPTKEYR, OPTSR_BCM4,
    OPTSR_BCM7, OPTSR_FZ_IWDG_SDBY, OPTSR_FZ_IWDG_STOP, OPTSR_IWDG1_SW, OPTSR_IWDG2_SW,
    OPTSR_NRST_STBY_D1, OPTSR_NRST_STBY_D2, OPTSR_NRST_STOP_D1, OPTSR_NRST_STOP_D2,
    OPTSR_OPTIONS_DUAL_CORE, OPTSR_OPTIONS_H743, OPTSR_PRG, OPTSR_RDP_MASK, OPTSR_RDP_SHIFT,
    SECTORS_PER_BANK, SR_PGSERR, WPSN_MASK, WPSN_PRG1, WPSN_PRG2,
};

/// RDP level from OPTSR's RDP byte: 0xAA level 0, 0xCC level 2, anything else level 1 (facts 3.0).
pub fn rdp_level(optsr: u32) -> u8 {
    match (optsr & OPTSR_RDP_MASK) >> OPTSR_RDP_SHIFT {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum H7Variant {
    /// Single core H743/H753 (RM0433).
    H743,
    /// Dual core H745/H755 (RM0399): one controller and one option set for both cores.
    H755,
}

/// The user option bytes: what OPTSR, WPSN1/2 and the boot-address registers hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct H7Options {
    /// OPTSR's option bits (no OPT_BUSY, no OPTCHANGEERR).
    pub optsr: u32,
    /// WPSN of bank 1 and bank 2: bit i = 0 → sector i of that bank write-protected.
    pub wpsn: [u32; 2],
    /// BOOT_CUR (H745/H755: BOOT7, the Cortex-M7's): BOOT_ADD0 bits 15:0, BOOT_ADD1 bits
    /// 31:16, each the upper 16 bits of the boot address ([R]: the `<< 16` scaling is recalled;
    /// the facts file gives only the field positions).
    pub boot: u32,
    /// H745/H755 only: BOOT4, the Cortex-M4's boot addresses, same layout. `None` on H743.
    pub boot4: Option<u32>,
}

impl H7Options {
    /// The options as they leave the factory. None of these values is in the facts file; all
    /// are recalled from RM0433/RM0399 [R]:
    /// - OPTSR: BOR off (BOR_LEV 00), IWDG1 software, no reset on Stop/Standby
    ///   (NRST_STOP_D1 = NRST_STBY_D1 = 1), RDP 0xAA, FZ_IWDG_STOP = FZ_IWDG_SDBY = 1,
    ///   ST_RAM_SIZE 00, SECURITY 0, IO_HSLV 0, SWAP_BANK_OPT 0 → 0x0006_AAD0 [R];
    ///   H755 adds IWDG2_SW, BCM4 = BCM7 = 1 (both cores boot), NRST_STOP_D2 = NRST_STBY_D2 = 1
    ///   → 0x03C6_AAF0 [R].
    /// - WPSN1 = WPSN2 = 0xFF: no sector write-protected [R].
    /// - BOOT (BOOT7): ADD0 0x0800 (0x0800_0000, flash), ADD1 0x1FF0 (0x1FF0_0000, system
    ///   memory) → 0x1FF0_0800 [R]; H755 BOOT4: ADD0 0x0810 (bank 2), ADD1 0x1FF0 →
    ///   0x1FF0_0810 [R].
    pub fn factory(variant: H7Variant) -> Self {
        let common = OPTSR_IWDG1_SW
            | OPTSR_NRST_STOP_D1
            | OPTSR_NRST_STBY_D1
            | (0xAA << OPTSR_RDP_SHIFT)
            | OPTSR_FZ_IWDG_STOP
            | OPTSR_FZ_IWDG_SDBY;
        match variant {
            H7Variant::H743 => Self {
                optsr: common,
                wpsn: [WPSN_MASK; 2],
                boot: 0x1FF0_0800,
                boot4: None,
            },
            H7Variant::H755 => Self {
                optsr: common
                    | OPTSR_IWDG2_SW
                    | OPTSR_BCM4
                    | OPTSR_BCM7
                    | OPTSR_NRST_STOP_D2
                    | OPTSR_NRST_STBY_D2,
                wpsn: [WPSN_MASK; 2],
                boot: 0x1FF0_0800,
                boot4: Some(0x1FF0_0810),
            },
        }
    }

    pub fn dual_core(&self) -> bool {
        self.boot4.is_some()
    }

    /// The OPTSR bits that are options on this variant.
    pub fn optsr_mask(&self) -> u32 {
        if self.dual_core() {
            OPTSR_OPTIONS_DUAL_CORE
        } else {
            OPTSR_OPTIONS_H743
        }
    }

    pub fn rdp_level(&self) -> u8 {
        rdp_level(self.optsr)
    }

    /// `sector` is the global index 0..15 (bank 2 from 8).
    pub fn sector_write_protected(&self, sector: usize) -> bool {
        let bank = sector / SECTORS_PER_BANK;
        bank < 2 && (self.wpsn[bank] >> (sector % SECTORS_PER_BANK)) & 1 == 0
    }

    /// Only the bits that exist on this variant.
    pub(super) fn masked(mut self) -> Self {
        self.optsr &= self.optsr_mask();
        for w in &mut self.wpsn {
            *w &= WPSN_MASK;
        }
        self
    }
}

// ------------------------------------------------------------------ option change (facts 3.3)

impl H7Flash {
    pub(super) fn optcr_write(&mut self, value: u32, bus: &mut FlashBus) {
        if self.optkey.locked {
            return;
        }
        self.optcr = value & OPTCR_OPTCHANGEERRIE;
        let actions = value & (OPTCR_MER | OPTCR_OPTSTART);
        if actions != 0 && self.opt_busy(bus.now) {
            bus.log.push("OPTCR action while OPT_BUSY ignored".into());
        } else {
            if value & OPTCR_MER != 0 {
                self.optcr_mass_erase(bus);
            }
            if value & OPTCR_OPTSTART != 0 {
                self.option_change(bus);
            }
        }
        // OPTLOCK is set-only; the keys clear it (facts 3.3 sequence ends with OPTCR = OPTLOCK).
        if value & OPTCR_OPTLOCK != 0 {
            self.optkey.locked = true;
        }
    }

    /// OPTCR.MER erases both banks (facts 3.3). The model also wants both banks unlocked and
    /// flags PGSERR in a locked one (model's choice; HAL sets PSIZE in CR1 and CR2 first).
    fn optcr_mass_erase(&mut self, bus: &mut FlashBus) {
        let mut locked = false;
        for bank in &mut self.banks {
            if bank.key.locked {
                bank.sr |= SR_PGSERR;
                locked = true;
            }
        }
        if !locked {
            self.mass_erase(bus);
        }
    }

    /// OPTSTART: program the _PRG registers into the option cells and put them in force.
    fn option_change(&mut self, bus: &mut FlashBus) {
        let now = bus.now;
        if self.loaded.rdp_level() == 2 || self.stored.rdp_level() == 2 {
            self.optchangeerr = true;
            bus.log
                .push("option bytes frozen at RDP level 2; OPTCHANGEERR".into());
            return;
        }
        let new = self.prg.clone().masked();
        let start = self.start_time(0, now).max(self.start_time(1, now));
        let mut cost = bus.timing.option_program;
        if self.loaded.rdp_level() == 1 && new.rdp_level() == 0 {
            // [R] facts 3.3: RDP 1 -> 0 erases the flash as part of the option change (both
            // banks, write protection notwithstanding; PCROP/DMEP not modelled).
            bus.flash.erase_all();
            cost += bus.timing.mass_erase;
            for bank in &mut self.banks {
                bank.busy_until = start + cost;
                bank.buffer = None;
            }
            bus.log
                .push("RDP regression 1 -> 0: both banks erased".into());
        }
        if new.dual_core() && new.optsr & (OPTSR_BCM4 | OPTSR_BCM7) == 0 {
            // Facts 3.3 [R]: clearing both BCM bits is a known way to brick boot; the
            // controller accepts it.
            bus.log
                .push("options: BCM4 = BCM7 = 0, neither core will boot".into());
        }
        bus.log.push(format!(
            "option bytes programmed: OPTSR {:#010x}, WPSN {:#04x}/{:#04x}, BOOT {:#010x}",
            new.optsr, new.wpsn[0], new.wpsn[1], new.boot
        ));
        self.shown_before = Some(std::mem::replace(&mut self.loaded, new.clone()));
        self.stored = new;
        self.opt_busy_until = start + cost;
    }

    /// The option sequence of facts 3.3 through the registers, as code on the chip or a
    /// debugger's flash algorithm would run it: unlock, write every _PRG register, clear
    /// OPTCHANGEERR, OPTSTART, OPTLOCK.
    pub fn write_options_through_registers(&mut self, options: &H7Options, bus: &mut FlashBus) {
        if self.optkey.locked {
            let _ = self.write(OPTKEYR, OPTKEY1, bus);
            let _ = self.write(OPTKEYR, OPTKEY2, bus);
        }
        let _ = self.write(OPTSR_PRG, options.optsr, bus);
        let _ = self.write(WPSN_PRG1, options.wpsn[0], bus);
        let _ = self.write(WPSN_PRG2, options.wpsn[1], bus);
        let _ = self.write(BOOT_PRG, options.boot, bus);
        if let Some(boot4) = options.boot4 {
            let _ = self.write(BOOT4_PRG, boot4, bus);
        }
        let _ = self.write(OPTCCR, OPTCCR_CLR_OPTCHANGEERR, bus);
        let _ = self.write(OPTCR, OPTCR_OPTSTART, bus);
        let _ = self.write(OPTCR, OPTCR_OPTLOCK, bus);
    }
}
