//! What runs on a simulated MCU after reset, decided only by the BOOT0 strap and the bytes in
//! flash (read through `crate::image::header`, the one module that knows the layout).
//!
//! The bootloader region's descriptor names a design and its knobs (docs/sim.md):
//! `crc-single`, `ab-slots`, `naive`, or `st-rom` (no custom bootloader: the product enters
//! the ST system bootloader).

use std::time::Duration;

use super::controller::ERR_WRITE_PROTECT;
use super::dfuse::{self, DfuMemory, DfuseConfig, DfuseFunction};
use super::fault::{Origin, PowerLost};
use super::mcu::Mcu;
use crate::image::header::{self, AppHeader, BootCheck, SlotCheck};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbMode {
    Application,
    Bootloader,
    Rom,
}

pub use crate::image::header::design::{
    Design, DesignKind, PENDING_MAGIC, RomEntry, Slots, design_from,
};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Firmware {
    Off,
    /// Nothing valid to run: the core sits in the HardFault handler. No USB, no console.
    HardFault(String),
    /// The ST system-memory bootloader.
    Rom(DfuseFunction),
    /// A custom bootloader waiting in DFU mode.
    Bootloader(Design, DfuseFunction),
    /// An application runs.
    App {
        header: AppHeader,
        base: u32,
        detach: bool,
        design: Option<Design>,
    },
    /// A valid vector table in front of a damaged body: something runs, but not the product.
    CorruptApp {
        base: u32,
    },
}

impl Firmware {
    pub fn usb_mode(&self) -> Option<UsbMode> {
        match self {
            Firmware::Rom(_) => Some(UsbMode::Rom),
            Firmware::Bootloader(..) => Some(UsbMode::Bootloader),
            Firmware::App { .. } => Some(UsbMode::Application),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Firmware::Off => "off".into(),
            Firmware::HardFault(why) => format!("hard fault ({why})"),
            Firmware::Rom(_) => "ST system bootloader (DFU)".into(),
            Firmware::Bootloader(d, _) => format!("{} bootloader waiting in DFU", d.name),
            Firmware::App { header, base, .. } => {
                format!(
                    "application {} {} at {base:#010x}",
                    header.name, header.version
                )
            }
            Firmware::CorruptApp { base } => format!("corrupt application running at {base:#010x}"),
        }
    }
}

fn slot(mcu: &Mcu, base: u32, size: u32) -> &[u8] {
    mcu.flash.read(base, size as usize).unwrap_or(&[])
}

/// Start the code in a slot the way a bootloader's jump does: whatever the vector table says.
pub fn jump(mcu: &Mcu, base: u32, size: u32, design: Option<&Design>) -> Firmware {
    match header::check_app(base, slot(mcu, base, size)) {
        SlotCheck::Valid(h) => Firmware::App {
            header: h,
            base,
            detach: false,
            design: design.cloned(),
        },
        SlotCheck::Blank | SlotCheck::NoVectorTable => {
            Firmware::HardFault(format!("no valid vector table at {base:#010x}"))
        }
        _ => Firmware::CorruptApp { base },
    }
}

/// System memory (the ST ROM bootloader) as the boot-address options name it: F7 0x0010_0000,
/// H7 0x1FF0_0000 (facts 3.2, 3.3).
const SYSTEM_MEMORY: [u32; 2] = [0x0010_0000, 0x1FF0_0000];
/// The F7's flash as seen on the ITCM bus, where its factory BOOT_ADD0 points.
const F7_ITCM_FLASH: u32 = 0x0020_0000;

pub fn boot(mcu: &mut Mcu) -> Result<Firmware, PowerLost> {
    let base = mcu.part.flash_base;
    let (boot0, system_memory) = mcu.fc.effective_boot0(mcu.boot0);
    match mcu.fc.boot_address(mcu.boot0) {
        None if boot0 && system_memory => {
            return Ok(Firmware::Rom(DfuseFunction::new(rom_config(mcu))));
        }
        None if boot0 => {
            return Ok(Firmware::HardFault(
                "BOOT0 high with nBOOT1 = 0 boots from SRAM, where nothing was loaded".into(),
            ));
        }
        None => {}
        Some(a) if SYSTEM_MEMORY.contains(&a) => {
            return Ok(Firmware::Rom(DfuseFunction::new(rom_config(mcu))));
        }
        Some(a) if a == base || a == F7_ITCM_FLASH => {}
        Some(a) => {
            return Ok(Firmware::HardFault(format!(
                "boot address {a:#010x} is neither the flash base nor system memory (the \
                 simulator runs code only from there)"
            )));
        }
    }
    let all = slot(mcu, base, mcu.flash.size());
    match header::check_bootloader(base, all) {
        BootCheck::Valid(desc) => {
            match design_from(&desc.design, &desc.knobs, base + mcu.flash.size()) {
                Ok(design) => run_design(mcu, design),
                Err(why) => Ok(Firmware::HardFault(why)),
            }
        }
        BootCheck::NoDescriptor | BootCheck::Blank => Ok(jump(mcu, base, mcu.flash.size(), None)),
        other => Ok(Firmware::HardFault(format!("bootloader region: {other:?}"))),
    }
}

fn dfu_mode(mcu: &Mcu, design: Design) -> Firmware {
    let config = custom_config(mcu, &design);
    Firmware::Bootloader(design, DfuseFunction::new(config))
}

fn run_design(mcu: &mut Mcu, d: Design) -> Result<Firmware, PowerLost> {
    let force_dfu = std::mem::take(&mut mcu.dfu_request);
    let a_valid = matches!(
        header::check_app(d.app_base, slot(mcu, d.app_base, d.app_size)),
        SlotCheck::Valid(_)
    );
    Ok(match d.kind {
        DesignKind::StRom if force_dfu => Firmware::Rom(DfuseFunction::new(rom_config(mcu))),
        DesignKind::StRom => jump(mcu, d.app_base, d.app_size, Some(&d)),
        _ if force_dfu => dfu_mode(mcu, d),
        // A dual-image product leaves DFU only when both images check.
        DesignKind::CrcSingle if a_valid && cm4_valid(mcu, &d) => {
            jump(mcu, d.app_base, d.app_size, Some(&d))
        }
        DesignKind::CrcSingle => dfu_mode(mcu, d),
        // A naive bootloader only asks whether the slot looks erased.
        DesignKind::Naive if slot(mcu, d.app_base, 4) == [0xFF; 4] => dfu_mode(mcu, d),
        DesignKind::Naive => jump(mcu, d.app_base, d.app_size, Some(&d)),
        DesignKind::AbSlots => {
            for slots in d.all_slots() {
                ab_copy_if_needed(mcu, &d, &slots)?;
            }
            let a_check = header::check_app(d.app_base, slot(mcu, d.app_base, d.app_size));
            match a_check {
                SlotCheck::Valid(_) => jump(mcu, d.app_base, d.app_size, Some(&d)),
                SlotCheck::Blank => dfu_mode(mcu, d),
                _ if d.check_a => dfu_mode(mcu, d),
                _ => jump(mcu, d.app_base, d.app_size, Some(&d)),
            }
        }
    })
}

fn cm4_valid(mcu: &Mcu, d: &Design) -> bool {
    d.cm4.is_none_or(|s| {
        matches!(
            header::check_app(s.base, slot(mcu, s.base, s.size)),
            SlotCheck::Valid(_)
        )
    })
}

fn read_word(mcu: &Mcu, address: u32) -> u32 {
    mcu.flash.read(address, 4).map_or(0xFFFF_FFFF, |b| {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

/// The A/B bootloader's boot-time copy of B into A for one image, as flash operations of the
/// device's own (each one can be cut).
fn ab_copy_if_needed(mcu: &mut Mcu, d: &Design, s: &Slots) -> Result<(), PowerLost> {
    let pending = read_word(mcu, s.pending_flag()) == PENDING_MAGIC;
    // B holds an image linked for A: check it as if it sat at A.
    let b_bytes = slot(mcu, s.slot_b, s.size).to_vec();
    let b = header::check_app(s.base, &b_bytes);
    let a = header::check_app(s.base, slot(mcu, s.base, s.size));
    if pending && d.erase_a_first {
        erase_range(mcu, s.base, s.size)?;
    }
    let b_usable = match &b {
        SlotCheck::Valid(_) => true,
        SlotCheck::Blank | SlotCheck::NoVectorTable => false,
        _ => !d.verify_before_copy,
    };
    let differs = match (&a, &b) {
        (SlotCheck::Valid(ha), SlotCheck::Valid(hb)) => ha != hb,
        _ => true,
    };
    let wanted = if d.resume_copy {
        b_usable && differs
    } else {
        b_usable && pending
    };
    if !wanted {
        return Ok(());
    }
    if !d.resume_copy {
        // This design forgets the update before copying it: a cut now is never resumed.
        clear_pending(mcu, s)?;
    }
    let len = match &b {
        SlotCheck::Valid(h) | SlotCheck::BadImageCrc(h) => (h.length as usize).min(b_bytes.len()),
        _ => b_bytes.len(),
    };
    if !(pending && d.erase_a_first) {
        erase_range(mcu, s.base, len as u32)?;
    }
    for (i, chunk) in b_bytes[..len].chunks(1024).enumerate() {
        mcu.flash_program(s.base + (i * 1024) as u32, chunk, Origin::Device)?;
        mcu.wait_flash_idle();
    }
    if d.resume_copy && pending {
        clear_pending(mcu, s)?;
    }
    Ok(())
}

fn clear_pending(mcu: &mut Mcu, s: &Slots) -> Result<(), PowerLost> {
    mcu.flash_program(s.pending_flag(), &[0; 4], Origin::Device)?;
    mcu.wait_flash_idle();
    Ok(())
}

fn erase_range(mcu: &mut Mcu, start: u32, len: u32) -> Result<(), PowerLost> {
    let mut address = start;
    while address < start + len.max(1) {
        let Some(sector) = mcu.flash.sector_of(address) else {
            break;
        };
        mcu.flash_erase(sector, Origin::Device)?;
        mcu.wait_flash_idle();
        let (s, size) = mcu.flash.sector(sector).unwrap_or((address, 1));
        address = s + size;
    }
    Ok(())
}

/// The ST ROM bootloader's DfuSe function (facts section 6).
fn rom_config(mcu: &Mcu) -> DfuseConfig {
    DfuseConfig {
        transfer_size: 2048,
        alt_names: mcu
            .part
            .rom_alt_names
            .iter()
            .map(|s| s.to_string())
            .collect(),
        commands: vec![0x00, 0x21, 0x41, 0x92],
        default_address: mcu.part.flash_base,
        // The ROM's own poll timeouts are not documented; assumed here (see docs/sim.md).
        poll_erase: Duration::from_millis(100),
        poll_program: Duration::from_millis(8),
        poll_command: Duration::from_millis(1),
        attributes: 0x0B,
        detach_timeout_ms: 255,
    }
}

/// The ranges a custom bootloader lets DFU write: each image's slot, or its slot B.
fn writable(design: &Design) -> Vec<(u32, u32)> {
    design
        .all_slots()
        .iter()
        .map(|s| match design.kind {
            DesignKind::AbSlots => (s.slot_b, s.slot_b + s.size),
            _ => (s.base, s.base + s.size),
        })
        .collect()
}

fn within(ranges: &[(u32, u32)], address: u32, len: u64) -> bool {
    let end = address as u64 + len;
    ranges
        .iter()
        .any(|&(lo, hi)| address >= lo && end <= hi as u64)
}

/// A Cube-based custom bootloader: ST's USB device library defaults (facts section 6).
fn custom_config(mcu: &Mcu, design: &Design) -> DfuseConfig {
    let ranges = writable(design);
    let mut groups = Vec::new();
    for i in 0..mcu.flash.sector_count() {
        let Some((start, size)) = mcu.flash.sector(i) else {
            continue;
        };
        // Sectors outside the writable range (the bootloader's own, slot A of an A/B
        // design) are read-only ('a').
        let letter = if within(&ranges, start, 1) { 'g' } else { 'a' };
        match groups.last_mut() {
            Some((n, s, l)) if *s == size && *l == letter => *n += 1,
            _ => groups.push((1u32, size, letter)),
        }
    }
    let map = groups
        .iter()
        .map(|(n, size, l)| format!("{n:02}*{:03}K{l}", size / 1024))
        .collect::<Vec<_>>()
        .join(",");
    let mut alt_names = vec![format!(
        "@Internal Flash   /{:#010x}/{map}",
        mcu.part.flash_base
    )];
    if design.qspi {
        alt_names.push(super::qspi::alt_name());
    }
    DfuseConfig {
        transfer_size: design.transfer_size,
        alt_names,
        commands: vec![0x00, 0x21, 0x41],
        default_address: ranges[0].0,
        poll_erase: design.poll_erase,
        poll_program: design.poll_program,
        poll_command: design.poll_program,
        attributes: 0x0B,
        detach_timeout_ms: 255,
    }
}

/// The memory a DFU function reaches, with its firmware's rules.
pub struct FirmwareMemory<'a> {
    pub mcu: &'a mut Mcu,
    /// ROM: reads, erases and writes refused at RDP level 1 (AN2662).
    pub rom: bool,
    /// DFU may write within these [lo, hi) ranges.
    pub writable: Vec<(u32, u32)>,
    /// The selected alternate setting is the QSPI chip's.
    pub qspi: bool,
    /// An option-byte write asked for the reset that applies it.
    reset: bool,
}

impl<'a> FirmwareMemory<'a> {
    pub fn rom(mcu: &'a mut Mcu) -> Self {
        let end = mcu.part.flash_base + mcu.flash.size();
        let base = mcu.part.flash_base;
        Self {
            mcu,
            rom: true,
            writable: vec![(base, end)],
            qspi: false,
            reset: false,
        }
    }

    /// A custom bootloader's memory as seen through alternate setting `alt`.
    pub fn custom(mcu: &'a mut Mcu, design: &Design, alt: u8) -> Self {
        Self {
            mcu,
            rom: false,
            writable: writable(design),
            qspi: design.qspi && alt == 1,
            reset: false,
        }
    }

    fn rdp_blocks(&self) -> bool {
        self.rom && self.mcu.fc.rdp_level() >= 1
    }
}

/// The F4 user option bytes as the ROM's "Option Bytes" alt shows them (RM0090 3.7.1, [R]:
/// recalled, not in the facts file): USER at byte 0 and RDP at byte 1 of the word at
/// 0x1FFF_C000, nWRP in bits 11:0 of the word at 0x1FFF_C008; other bytes read 0xFF.
pub const F4_OPTION_BYTES: u32 = 0x1FFF_C000;

fn f4_option_bytes(optcr: u32) -> [u8; 16] {
    let mut b = [0xFF; 16];
    b[0] = (optcr & 0xEC) as u8;
    b[1] = (optcr >> 8) as u8;
    let nwrp = ((optcr >> 16) & 0xFFF) as u16 | 0xF000;
    b[8..10].copy_from_slice(&nwrp.to_le_bytes());
    b
}

impl FirmwareMemory<'_> {
    /// The ROM programs the option bytes through FLASH_OPTCR (an RDP regression included)
    /// and resets to apply them.
    fn write_f4_options(&mut self, data: &[u8]) -> Result<(), u8> {
        if data.len() < 10 {
            return Err(dfuse::ERR_TARGET);
        }
        let Some(stored) = self.mcu.fc.as_f4().map(|fc| fc.stored_options()) else {
            return Err(dfuse::ERR_TARGET);
        };
        let nwrp = u16::from_le_bytes([data[8], data[9]]) as u32 & 0xFFF;
        let optcr = (stored & !0x0FFF_FFEC)
            | (data[0] as u32 & 0xEC)
            | ((data[1] as u32) << 8)
            | (nwrp << 16);
        self.mcu.write_options_as_code(optcr);
        self.mcu.wait_flash_idle();
        self.reset = true;
        Ok(())
    }
}

/// A cut while serving a request: nobody is left to answer.
const POWER_LOST: u8 = 0xFF;

/// The QSPI alt's media: addresses outside the chip are errADDRESS, as ST's media layer checks
/// them against its own range.
fn qspi_result(r: Option<Result<(), PowerLost>>) -> Result<(), u8> {
    match r {
        None => Err(dfuse::ERR_ADDRESS),
        Some(Err(PowerLost)) => Err(POWER_LOST),
        Some(Ok(())) => Ok(()),
    }
}

impl DfuMemory for FirmwareMemory<'_> {
    fn erase(&mut self, address: u32) -> Result<(), u8> {
        if self.qspi {
            return qspi_result(self.mcu.qspi_erase(address, Origin::Dfu));
        }
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        let Some(sector) = self.mcu.flash.sector_of(address) else {
            return Err(dfuse::ERR_TARGET);
        };
        if !within(&self.writable, address, 1) {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self
            .mcu
            .flash_erase(sector, Origin::Dfu)
            .map_err(|_| POWER_LOST)?;
        // The ROM silently skips a write-protected sector (AN2662 p. 78).
        if errors & ERR_WRITE_PROTECT != 0 && self.rom {
            return Ok(());
        }
        if errors != 0 {
            Err(dfuse::ERR_ERASE)
        } else {
            Ok(())
        }
    }

    fn mass_erase(&mut self) -> Result<(), u8> {
        if self.qspi {
            return Err(dfuse::ERR_TARGET);
        }
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        if !self.rom {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self
            .mcu
            .flash_mass_erase(Origin::Dfu)
            .map_err(|_| POWER_LOST)?;
        if errors != 0 {
            Err(dfuse::ERR_ERASE)
        } else {
            Ok(())
        }
    }

    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), u8> {
        if self.qspi {
            return qspi_result(self.mcu.qspi_program(address, data, Origin::Dfu));
        }
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        if self.rom && address == F4_OPTION_BYTES && self.mcu.fc.as_f4().is_some() {
            return self.write_f4_options(data);
        }
        if !within(&self.writable, address, data.len() as u64) {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self
            .mcu
            .flash_program(address, data, Origin::Dfu)
            .map_err(|_| POWER_LOST)?;
        if errors & ERR_WRITE_PROTECT != 0 {
            Err(dfuse::ERR_WRITE)
        } else if errors != 0 {
            Err(dfuse::ERR_PROG)
        } else {
            Ok(())
        }
    }

    fn read(&mut self, address: u32, len: usize) -> Result<Vec<u8>, u8> {
        if self.qspi {
            return self.mcu.qspi_read(address, len).ok_or(dfuse::ERR_ADDRESS);
        }
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        if self.rom
            && (F4_OPTION_BYTES..F4_OPTION_BYTES + 16).contains(&address)
            && let Some(fc) = self.mcu.fc.as_f4()
        {
            let bytes = f4_option_bytes(fc.stored_options());
            let from = (address - F4_OPTION_BYTES) as usize;
            return Ok(bytes[from..(from + len).min(16)].to_vec());
        }
        self.mcu
            .flash
            .read(address, len)
            .map(<[u8]>::to_vec)
            .ok_or(dfuse::ERR_ADDRESS)
    }

    fn take_reset(&mut self) -> bool {
        std::mem::take(&mut self.reset)
    }

    fn read_unprotect(&mut self) -> Result<(), u8> {
        if self.mcu.fc.stored_rdp_level() == 2 {
            return Err(dfuse::ERR_VENDOR);
        }
        // An RDP regression: the whole flash goes, write protection or not.
        self.mcu.flash.erase_all();
        self.mcu.fc.store_rdp_level0();
        // The ROM reloads the option bytes as it resets (on L4/G0 a plain reset would not).
        self.mcu.fc.power_on_reset();
        let mass = self.mcu.timing.mass_erase;
        crate::hw::Clock::sleep(self.mcu.clock.as_ref(), mass);
        Ok(())
    }
}

/// Leaving DFU on an A/B design: mark the update pending before the reset, so the bootloader
/// copies it at the next boot.
pub fn mark_pending(mcu: &mut Mcu, design: &Design) -> Result<(), PowerLost> {
    if design.kind != DesignKind::AbSlots {
        return Ok(());
    }
    // Only an image that was sent: a blank B has nothing to copy.
    for s in design.all_slots() {
        if slot(mcu, s.slot_b, 4) == [0xFF; 4] {
            continue;
        }
        mcu.flash_program(
            s.pending_flag(),
            &PENDING_MAGIC.to_le_bytes(),
            Origin::Device,
        )?;
        mcu.wait_flash_idle();
    }
    Ok(())
}
