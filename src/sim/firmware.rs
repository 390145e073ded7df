//! What runs on a simulated MCU after reset, decided only by the BOOT0 strap and the bytes in
//! flash (read through `crate::image::header`, the one module that knows the layout).

use std::collections::BTreeMap;
use std::time::Duration;

use super::dfuse::{self, DfuMemory, DfuseConfig, DfuseFunction};
use super::f4::{self, FlashBus};
use super::mcu::Mcu;
use crate::hw::Clock;
use crate::image::header::{self, AppHeader, BootCheck, SlotCheck};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbMode {
    Application,
    Bootloader,
    Rom,
}

/// A custom bootloader design and its knobs, as its descriptor says.
#[derive(Clone, Debug)]
pub struct Design {
    pub name: String,
    pub app_base: u32,
    pub app_size: u32,
}

#[derive(Clone, Debug)]
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
        }
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => s.replace('_', "").parse().ok(),
    }
}

fn design_from(
    name: &str,
    knobs: &BTreeMap<String, String>,
    flash_end: u32,
) -> Result<Design, String> {
    let knob = |k: &str| knobs.get(k).and_then(|v| parse_u32(v));
    let app_base = knob("app_base").ok_or("descriptor has no valid app_base knob")?;
    let app_size = knob("app_size").unwrap_or(flash_end.saturating_sub(app_base));
    match name {
        "crc-single" => Ok(Design {
            name: name.into(),
            app_base,
            app_size,
        }),
        other => Err(format!("bootloader design {other:?} is not simulated yet")),
    }
}

pub fn boot(mcu: &mut Mcu) -> Firmware {
    if mcu.boot0 {
        return Firmware::Rom(DfuseFunction::new(rom_config(mcu)));
    }
    let base = mcu.part.flash_base;
    let size = mcu.flash.size() as usize;
    let Some(all) = mcu.flash.read(base, size) else {
        return Firmware::HardFault("flash unreadable".into());
    };
    match header::check_bootloader(base, all) {
        BootCheck::Valid(desc) => {
            match design_from(&desc.design, &desc.knobs, base + mcu.flash.size()) {
                Ok(design) => run_design(mcu, design),
                Err(why) => Firmware::HardFault(why),
            }
        }
        BootCheck::NoDescriptor => match header::check_app(base, all) {
            SlotCheck::Valid(h) => Firmware::App {
                header: h,
                base,
                detach: false,
            },
            other => {
                Firmware::HardFault(format!("no bootloader and no valid application: {other:?}"))
            }
        },
        other => Firmware::HardFault(format!("bootloader region: {other:?}")),
    }
}

fn run_design(mcu: &mut Mcu, design: Design) -> Firmware {
    let slot = mcu
        .flash
        .read(design.app_base, design.app_size as usize)
        .unwrap_or(&[]);
    match header::check_app(design.app_base, slot) {
        SlotCheck::Valid(h) => Firmware::App {
            header: h,
            base: design.app_base,
            detach: false,
        },
        _ => {
            let config = custom_config(mcu, &design);
            Firmware::Bootloader(design, DfuseFunction::new(config))
        }
    }
}

/// The ST ROM bootloader's DfuSe function (facts section 6).
fn rom_config(mcu: &Mcu) -> DfuseConfig {
    DfuseConfig {
        transfer_size: 2048,
        alt_names: vec![
            mcu.part.rom_flash_map.to_string(),
            "@Option Bytes  /0x1FFFC000/01*016 e".into(),
            "@OTP Memory /0x1FFF7800/01*512 e,01*016 e".into(),
            "@Device Feature/0xFFFF0000/01*004 e".into(),
        ],
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

/// A Cube-based custom bootloader: ST's USB device library defaults (facts section 6).
fn custom_config(mcu: &Mcu, design: &Design) -> DfuseConfig {
    let mut groups = Vec::new();
    for i in 0..mcu.flash.sector_count() {
        let Some((start, size)) = mcu.flash.sector(i) else {
            continue;
        };
        // Sectors below the application are the bootloader's own: read-only ('a').
        let letter = if start < design.app_base { 'a' } else { 'g' };
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
    DfuseConfig {
        transfer_size: 1024,
        alt_names: vec![format!(
            "@Internal Flash   /{:#010x}/{map}",
            mcu.part.flash_base
        )],
        commands: vec![0x00, 0x21, 0x41],
        default_address: design.app_base,
        poll_erase: Duration::from_millis(50),
        poll_program: Duration::from_millis(50),
        poll_command: Duration::from_millis(50),
        attributes: 0x0B,
        detach_timeout_ms: 255,
    }
}

/// The memory a DFU function reaches, with its firmware's rules.
pub struct FirmwareMemory<'a> {
    pub mcu: &'a mut Mcu,
    /// ROM: reads, erases and writes refused at RDP level 1 (AN2662).
    pub rom: bool,
    /// Writes below this address are refused (the custom bootloader protects itself).
    pub writable_from: u32,
}

impl FirmwareMemory<'_> {
    fn rdp_blocks(&self) -> bool {
        self.rom && f4::rdp_level(self.mcu.fc.loaded_options()) >= 1
    }

    fn flash_op(&mut self, op: impl FnOnce(&mut f4::F4Flash, &mut FlashBus) -> u32) -> u32 {
        let now = self.mcu.clock.now();
        let mcu = &mut *self.mcu;
        let mut bus = FlashBus {
            flash: &mut mcu.flash,
            timing: &mcu.timing,
            now,
            debugger: false,
            log: &mut mcu.log,
        };
        op(&mut mcu.fc, &mut bus)
    }
}

impl DfuMemory for FirmwareMemory<'_> {
    fn erase(&mut self, address: u32) -> Result<(), u8> {
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        let Some(sector) = self.mcu.flash.sector_of(address) else {
            return Err(dfuse::ERR_TARGET);
        };
        if address < self.writable_from {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self.flash_op(|fc, bus| fc.erase_block(sector, bus));
        // The ROM silently skips a write-protected sector (AN2662 p. 78).
        if errors & f4::SR_WRPERR != 0 && self.rom {
            return Ok(());
        }
        if errors != 0 {
            Err(dfuse::ERR_ERASE)
        } else {
            Ok(())
        }
    }

    fn mass_erase(&mut self) -> Result<(), u8> {
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        if !self.rom {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self.flash_op(|fc, bus| {
            fc.mass_erase(bus);
            0
        });
        if errors != 0 {
            Err(dfuse::ERR_ERASE)
        } else {
            Ok(())
        }
    }

    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), u8> {
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        let end = address as u64 + data.len() as u64;
        if address < self.writable_from
            || !self.mcu.flash.contains(address)
            || !self.mcu.flash.contains((end - 1) as u32)
        {
            return Err(dfuse::ERR_TARGET);
        }
        let errors = self.flash_op(|fc, bus| fc.program_block(address, data, bus));
        if errors & f4::SR_WRPERR != 0 {
            Err(dfuse::ERR_WRITE)
        } else if errors != 0 {
            Err(dfuse::ERR_PROG)
        } else {
            Ok(())
        }
    }

    fn read(&mut self, address: u32, len: usize) -> Result<Vec<u8>, u8> {
        if self.rdp_blocks() {
            return Err(dfuse::ERR_VENDOR);
        }
        self.mcu
            .flash
            .read(address, len)
            .map(<[u8]>::to_vec)
            .ok_or(dfuse::ERR_ADDRESS)
    }

    fn read_unprotect(&mut self) -> Result<(), u8> {
        let options = self.mcu.fc.stored_options();
        if f4::rdp_level(options) == 2 {
            return Err(dfuse::ERR_VENDOR);
        }
        self.mcu.flash.erase_all();
        self.mcu.fc.set_stored_options((options & !0xFF00) | 0xAA00);
        let mass = self.mcu.timing.mass_erase;
        self.mcu.clock.advance(mass);
        Ok(())
    }
}
