//! The register interface: keys, register offsets and bits, and the register reads and writes
//! (key sequences, CRx, CCRx, the _PRG registers).

use std::time::Duration;

use super::{BusFault, FlashBus, H7Flash, SECTORS_PER_BANK};

// ------------------------------------------------------------------ keys (facts 3.0)

pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;

// ------------------------------------------------------------------ register offsets (facts 3.3)

/// FLASH register base (CMSIS-H7 `FLASH_R_BASE`, facts 3.3); offsets below are from here.
pub const FLASH_R_BASE: u32 = 0x5200_2000;

pub const ACR: u32 = 0x000;
pub const KEYR1: u32 = 0x004;
pub const OPTKEYR: u32 = 0x008;
pub const CR1: u32 = 0x00C;
pub const SR1: u32 = 0x010;
pub const CCR1: u32 = 0x014;
pub const OPTCR: u32 = 0x018;
pub const OPTSR_CUR: u32 = 0x01C;
pub const OPTSR_PRG: u32 = 0x020;
pub const OPTCCR: u32 = 0x024;
pub const PRAR_CUR1: u32 = 0x028;
pub const PRAR_PRG1: u32 = 0x02C;
pub const SCAR_CUR1: u32 = 0x030;
pub const SCAR_PRG1: u32 = 0x034;
pub const WPSN_CUR1: u32 = 0x038;
pub const WPSN_PRG1: u32 = 0x03C;
/// BOOT_CUR; on H745/H755 BOOT7_CUR (Cortex-M7 boot addresses).
pub const BOOT_CUR: u32 = 0x040;
pub const BOOT_PRG: u32 = 0x044;
/// H745/H755 only: Cortex-M4 boot addresses. Reserved (reads 0) on H743/H753.
pub const BOOT4_CUR: u32 = 0x048;
pub const BOOT4_PRG: u32 = 0x04C;
/// Bank 2's registers sit at bank 1's offsets plus this.
pub const BANK2: u32 = 0x100;
pub const KEYR2: u32 = BANK2 + KEYR1;
pub const CR2: u32 = BANK2 + CR1;
pub const SR2: u32 = BANK2 + SR1;
pub const CCR2: u32 = BANK2 + CCR1;
pub const PRAR_CUR2: u32 = BANK2 + PRAR_CUR1;
pub const PRAR_PRG2: u32 = BANK2 + PRAR_PRG1;
pub const SCAR_CUR2: u32 = BANK2 + SCAR_CUR1;
pub const SCAR_PRG2: u32 = BANK2 + SCAR_PRG1;
pub const WPSN_CUR2: u32 = BANK2 + WPSN_CUR1;
pub const WPSN_PRG2: u32 = BANK2 + WPSN_PRG1;

// ------------------------------------------------------------------ bits (facts 3.3, [V])

pub const CR_LOCK: u32 = 1 << 0;
pub const CR_PG: u32 = 1 << 1;
pub const CR_SER: u32 = 1 << 2;
pub const CR_BER: u32 = 1 << 3;
pub const CR_PSIZE_MASK: u32 = 3 << 4;
pub const CR_PSIZE_X64: u32 = 3 << 4;
pub const CR_FW: u32 = 1 << 6;
pub const CR_START: u32 = 1 << 7;
pub const CR_SNB_SHIFT: u32 = 8;
pub const CR_SNB_MASK: u32 = 7 << CR_SNB_SHIFT;
pub const CR_CRC_EN: u32 = 1 << 15;
/// Interrupt enables, bits 16..28.
const CR_IE_MASK: u32 = 0x1FFF_0000;
/// What CRx keeps (START and FW are actions and read 0).
const CR_STORED: u32 =
    CR_PG | CR_SER | CR_BER | CR_PSIZE_MASK | CR_SNB_MASK | CR_CRC_EN | CR_IE_MASK;
/// CRx after reset: LOCK and PSIZE = x64 ([R]: RM0433 reset value 0x0000_0031, recalled).
pub(super) const CR_RESET: u32 = CR_PSIZE_X64;

pub const SR_BSY: u32 = 1 << 0;
pub const SR_WBNE: u32 = 1 << 1;
pub const SR_QW: u32 = 1 << 2;
pub const SR_CRC_BUSY: u32 = 1 << 3;
pub const SR_EOP: u32 = 1 << 16;
pub const SR_WRPERR: u32 = 1 << 17;
pub const SR_PGSERR: u32 = 1 << 18;
pub const SR_STRBERR: u32 = 1 << 19;
pub const SR_INCERR: u32 = 1 << 21;
pub const SR_OPERR: u32 = 1 << 22;
pub const SR_RDPERR: u32 = 1 << 23;
pub const SR_RDSERR: u32 = 1 << 24;
pub const SR_SNECCERR: u32 = 1 << 25;
pub const SR_DBECCERR: u32 = 1 << 26;
pub const SR_CRCEND: u32 = 1 << 27;
/// The error flags of SRx.
pub const SR_ERRORS: u32 = SR_WRPERR
    | SR_PGSERR
    | SR_STRBERR
    | SR_INCERR
    | SR_OPERR
    | SR_RDPERR
    | SR_RDSERR
    | SR_SNECCERR
    | SR_DBECCERR;
/// Flags cleared by writing 1 at the same position in CCRx.
const SR_CLEARABLE: u32 = SR_EOP | SR_ERRORS | SR_CRCEND;

pub const OPTCR_OPTLOCK: u32 = 1 << 0;
pub const OPTCR_OPTSTART: u32 = 1 << 1;
pub const OPTCR_MER: u32 = 1 << 4;
pub const OPTCR_OPTCHANGEERRIE: u32 = 1 << 30;
pub const OPTCR_SWAP_BANK: u32 = 1 << 31;

pub const OPTSR_OPT_BUSY: u32 = 1 << 0;
pub const OPTSR_BOR_LEV_MASK: u32 = 3 << 2;
pub const OPTSR_IWDG1_SW: u32 = 1 << 4;
pub const OPTSR_IWDG2_SW: u32 = 1 << 5;
pub const OPTSR_NRST_STOP_D1: u32 = 1 << 6;
pub const OPTSR_NRST_STBY_D1: u32 = 1 << 7;
pub const OPTSR_RDP_SHIFT: u32 = 8;
pub const OPTSR_RDP_MASK: u32 = 0xFF << OPTSR_RDP_SHIFT;
pub const OPTSR_FZ_IWDG_STOP: u32 = 1 << 17;
pub const OPTSR_FZ_IWDG_SDBY: u32 = 1 << 18;
pub const OPTSR_ST_RAM_SIZE_MASK: u32 = 3 << 19;
pub const OPTSR_SECURITY: u32 = 1 << 21;
pub const OPTSR_BCM4: u32 = 1 << 22;
pub const OPTSR_BCM7: u32 = 1 << 23;
pub const OPTSR_NRST_STOP_D2: u32 = 1 << 24;
pub const OPTSR_NRST_STBY_D2: u32 = 1 << 25;
pub const OPTSR_IO_HSLV: u32 = 1 << 29;
pub const OPTSR_OPTCHANGEERR: u32 = 1 << 30;
pub const OPTSR_SWAP_BANK_OPT: u32 = 1 << 31;

/// The option bits of OPTSR on H743/H753 (OPT_BUSY and OPTCHANGEERR are status, not options).
pub const OPTSR_OPTIONS_H743: u32 = OPTSR_BOR_LEV_MASK
    | OPTSR_IWDG1_SW
    | OPTSR_NRST_STOP_D1
    | OPTSR_NRST_STBY_D1
    | OPTSR_RDP_MASK
    | OPTSR_FZ_IWDG_STOP
    | OPTSR_FZ_IWDG_SDBY
    | OPTSR_ST_RAM_SIZE_MASK
    | OPTSR_SECURITY
    | OPTSR_IO_HSLV
    | OPTSR_SWAP_BANK_OPT;
/// The option bits of OPTSR on the dual-core H745/H755.
pub const OPTSR_OPTIONS_DUAL_CORE: u32 = OPTSR_OPTIONS_H743
    | OPTSR_IWDG2_SW
    | OPTSR_BCM4
    | OPTSR_BCM7
    | OPTSR_NRST_STOP_D2
    | OPTSR_NRST_STBY_D2;

pub const OPTCCR_CLR_OPTCHANGEERR: u32 = 1 << 30;

/// WPSN: WRPSN bits 7:0, bit i = 0 → sector i of that bank write-protected.
pub const WPSN_MASK: u32 = 0xFF;

/// ACR after reset ([R]: RM0433 reset value 0x37, LATENCY 7 and WRHIGHFREQ 3, recalled; not in
/// the facts file). ACR is plain storage in the model.
pub(super) const ACR_RESET: u32 = 0x37;
const ACR_MASK: u32 = 0x3F;

/// PRAR/SCAR read as an empty area (start 0xFF > end 0): PCROP and secure areas are not
/// modelled ([R]: the factory value is recalled, the facts file gives no PRAR/SCAR layout).
const AREA_EMPTY: u32 = 0x0000_00FF;

// ------------------------------------------------------------------ register reads and writes

/// How a register offset decodes: a banked register (bank index, bank-1 offset) or a shared
/// one.
enum Reg {
    Banked(usize, u32),
    Shared(u32),
    Reserved,
}

fn decode(offset: u32) -> Reg {
    const BANKED: [u32; 15] = [
        KEYR1, CR1, SR1, CCR1, PRAR_CUR1, PRAR_PRG1, SCAR_CUR1, SCAR_PRG1, WPSN_CUR1, WPSN_PRG1,
        0x050, 0x054, 0x058, 0x05C, 0x060,
    ];
    // Facts 3.3: OpenOCD drives bank 2 with bank-1 offsets from base + 0x100, touching
    // OPTKEYR/OPTCR/OPTSR at 0x108/0x118/0x11C…, reserved in CMSIS → modelled as aliases of the
    // shared registers (the facts file's inference).
    const ALIASED: [u32; 6] = [ACR, OPTKEYR, OPTCR, OPTSR_CUR, OPTSR_PRG, OPTCCR];
    let (bank, o) = if (BANK2..2 * BANK2).contains(&offset) {
        (1, offset - BANK2)
    } else {
        (0, offset)
    };
    if BANKED.contains(&o) {
        Reg::Banked(bank, o)
    } else if bank == 0 || ALIASED.contains(&o) {
        Reg::Shared(o)
    } else {
        Reg::Reserved
    }
}

impl H7Flash {
    pub fn read(&self, offset: u32, now: Duration) -> u32 {
        match decode(offset) {
            Reg::Banked(b, o) => {
                let bank = &self.banks[b];
                match o {
                    CR1 => bank.cr_value(),
                    SR1 => bank.sr_value(now),
                    WPSN_CUR1 => self.shown(now).wpsn[b],
                    WPSN_PRG1 => self.prg.wpsn[b],
                    PRAR_CUR1 | PRAR_PRG1 | SCAR_CUR1 | SCAR_PRG1 => AREA_EMPTY,
                    _ => 0,
                }
            }
            Reg::Shared(o) => match o {
                ACR => self.acr,
                OPTCR => {
                    let mut v = self.optcr;
                    if self.optkey.locked {
                        v |= OPTCR_OPTLOCK;
                    }
                    if self.shown(now).optsr & OPTSR_SWAP_BANK_OPT != 0 {
                        v |= OPTCR_SWAP_BANK;
                    }
                    v
                }
                OPTSR_CUR => {
                    let mut v = self.shown(now).optsr;
                    if self.opt_busy(now) {
                        v |= OPTSR_OPT_BUSY;
                    }
                    if self.optchangeerr {
                        v |= OPTSR_OPTCHANGEERR;
                    }
                    v
                }
                OPTSR_PRG => self.prg.optsr,
                BOOT_CUR => self.shown(now).boot,
                BOOT_PRG => self.prg.boot,
                BOOT4_CUR => self.shown(now).boot4.unwrap_or(0),
                BOOT4_PRG => self.prg.boot4.unwrap_or(0),
                _ => 0,
            },
            Reg::Reserved => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault> {
        match decode(offset) {
            Reg::Banked(b, o) => match o {
                KEYR1 => return self.key_write(b, value),
                CR1 => self.cr_write(b, value, bus),
                CCR1 => self.banks[b].sr &= !(value & SR_CLEARABLE),
                WPSN_PRG1 if self.options_writable(bus.now) => self.prg.wpsn[b] = value & WPSN_MASK,
                _ => {}
            },
            Reg::Shared(o) => match o {
                ACR => self.acr = value & ACR_MASK,
                OPTKEYR => return self.optkey_write(value),
                OPTCR => self.optcr_write(value, bus),
                OPTCCR if value & OPTCCR_CLR_OPTCHANGEERR != 0 => self.optchangeerr = false,
                OPTSR_PRG if self.options_writable(bus.now) => {
                    self.prg.optsr = value & self.prg.optsr_mask()
                }
                BOOT_PRG if self.options_writable(bus.now) => self.prg.boot = value,
                BOOT4_PRG if self.options_writable(bus.now) && self.prg.dual_core() => {
                    self.prg.boot4 = Some(value)
                }
                _ => {}
            },
            Reg::Reserved => {}
        }
        Ok(())
    }

    /// The _PRG registers take writes only with OPTLOCK clear and no option change under way
    /// (the latter is the model's choice).
    fn options_writable(&self, now: Duration) -> bool {
        !self.optkey.locked && !self.opt_busy(now)
    }

    fn key_write(&mut self, b: usize, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: a wrong sequence (including keys to an unlocked bank) locks the register
        // until the next reset, with a bus error; the write buffer is dropped.
        let bank = &mut self.banks[b];
        let result = bank.key.key(value, KEY1, KEY2);
        if result.is_err() {
            bank.buffer = None;
        }
        result
    }

    fn optkey_write(&mut self, value: u32) -> Result<(), BusFault> {
        self.optkey.key(value, OPTKEY1, OPTKEY2)
    }

    fn cr_write(&mut self, b: usize, value: u32, bus: &mut FlashBus) {
        let bank = &mut self.banks[b];
        if bank.key.locked {
            return;
        }
        bank.cr = value & CR_STORED;
        if value & CR_LOCK != 0 {
            // Locking drops a partial flash word (model's choice).
            bank.key.locked = true;
            bank.buffer = None;
            return;
        }
        if value & CR_FW != 0 {
            self.force_write(b, bus);
        }
        if value & CR_START == 0 {
            return;
        }
        let snb = ((value & CR_SNB_MASK) >> CR_SNB_SHIFT) as usize;
        let (pg, ser, ber) = (value & CR_PG != 0, value & CR_SER != 0, value & CR_BER != 0);
        match (pg, ser, ber) {
            (false, true, false) => self.erase_sector(b * SECTORS_PER_BANK + snb, bus),
            (false, false, true) => self.erase_bank(b, bus),
            _ => self.banks[b].sr |= SR_PGSERR,
        }
    }

    /// CRx.FW: program the partial flash word in the buffer, missing bytes left erased.
    fn force_write(&mut self, b: usize, bus: &mut FlashBus) {
        if self.banks[b].buffer.is_none() {
            return;
        }
        if self.banks[b].cr & CR_PG == 0 {
            self.banks[b].sr |= SR_PGSERR;
            self.banks[b].buffer = None;
            return;
        }
        self.commit(b, bus);
    }
}
