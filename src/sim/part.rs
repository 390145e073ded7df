//! The simulated parts: identity, memory map and flash timing, from the reference manuals
//! (see `../shared/reference/stm32-facts.md`, sections 4 and 5).

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    F4,
}

impl Family {
    pub fn parse(s: &str) -> Option<Family> {
        match s.to_ascii_lowercase().as_str() {
            "f4" | "stm32f4" => Some(Family::F4),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Family::F4 => "f4",
        }
    }
}

/// Which column of the datasheet the simulated flash follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    #[default]
    Typical,
    Max,
}

/// Flash operation times. F4 figures are the DS8626 values recalled in the facts file,
/// section 5.2, tagged [R]: plausible defaults, not verified against the datasheet.
#[derive(Clone, Debug)]
pub struct FlashTiming {
    /// Programming one 32-bit word (x32 parallelism).
    pub word_program: Duration,
    /// Erase time per sector size in KiB, as (size_kib, time).
    pub sector_erase: Vec<(u32, Duration)>,
    pub mass_erase: Duration,
    /// Writing the option bytes (without an RDP regression).
    pub option_program: Duration,
}

impl FlashTiming {
    pub fn f4(timing: Timing) -> Self {
        let ms = Duration::from_millis;
        match timing {
            Timing::Typical => Self {
                word_program: Duration::from_micros(16),
                sector_erase: vec![(16, ms(250)), (64, ms(550)), (128, ms(1000))],
                mass_erase: ms(8000),
                option_program: ms(16),
            },
            Timing::Max => Self {
                word_program: Duration::from_micros(100),
                sector_erase: vec![(16, ms(500)), (64, ms(1100)), (128, ms(2000))],
                mass_erase: ms(16000),
                option_program: ms(32),
            },
        }
    }

    pub fn erase_time(&self, sector_bytes: u32) -> Duration {
        let kib = sector_bytes / 1024;
        self.sector_erase
            .iter()
            .find(|(size, _)| *size >= kib)
            .or(self.sector_erase.last())
            .map(|(_, t)| *t)
            .unwrap_or_default()
    }
}

/// A simulated part: what the silicon says about itself and how its memory is laid out.
#[derive(Clone, Debug)]
pub struct PartSpec {
    pub family: Family,
    pub name: &'static str,
    /// The chip name probe-rs knows it by.
    pub probe_rs_chip: &'static str,
    pub flash_base: u32,
    /// Sector sizes in order from the flash base.
    pub sectors: Vec<u32>,
    pub flash_regs: u32,
    pub uid_address: u32,
    pub flash_size_address: u32,
    pub idcode_address: u32,
    /// DBGMCU_IDCODE: REV_ID in bits 31:16, DEV_ID in bits 11:0.
    pub idcode: u32,
    /// RAM regions as (base, size).
    pub ram: Vec<(u32, u32)>,
    /// The user option bytes as they leave the factory.
    pub factory_options: u32,
    /// The ROM bootloader's DfuSe map of the internal flash.
    pub rom_flash_map: &'static str,
    /// Cortex-M CPUID.
    pub cpuid: u32,
}

impl PartSpec {
    pub fn lookup(family: Family, part: &str) -> Option<PartSpec> {
        let upper = part.to_ascii_uppercase();
        match family {
            // F405/F407 1 MiB: 4x16K, 1x64K, 7x128K (facts 5.1); DEV_ID 0x413 (facts 4);
            // factory OPTCR 0x0FFFAAED is tagged [R] in the facts file (3.1).
            Family::F4 if upper.starts_with("STM32F407") || upper.starts_with("STM32F405") => {
                let mut sectors = vec![16 * 1024; 4];
                sectors.push(64 * 1024);
                sectors.extend(std::iter::repeat_n(128 * 1024, 7));
                Some(PartSpec {
                    family,
                    name: if upper.starts_with("STM32F407") {
                        "STM32F407VG"
                    } else {
                        "STM32F405RG"
                    },
                    probe_rs_chip: if upper.starts_with("STM32F407") {
                        "STM32F407VGTx"
                    } else {
                        "STM32F405RGTx"
                    },
                    flash_base: 0x0800_0000,
                    sectors,
                    flash_regs: 0x4002_3C00,
                    uid_address: 0x1FFF_7A10,
                    flash_size_address: 0x1FFF_7A22,
                    idcode_address: 0xE004_2000,
                    idcode: 0x1007_6413,
                    ram: vec![(0x2000_0000, 128 * 1024), (0x1000_0000, 64 * 1024)],
                    factory_options: 0x0FFF_AAED,
                    rom_flash_map: "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
                    cpuid: 0x410F_C241,
                })
            }
            _ => None,
        }
    }

    pub fn flash_size(&self) -> u32 {
        self.sectors.iter().sum()
    }

    pub fn known_parts(family: Family) -> &'static [&'static str] {
        match family {
            Family::F4 => &["STM32F407VG", "STM32F405RG"],
        }
    }
}
