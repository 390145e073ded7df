//! The simulated parts: identity, memory map and flash timing, from the reference manuals
//! (see `../shared/reference/stm32-facts.md`, sections 4 and 5).

use std::time::Duration;

pub use crate::chip::{Family, Timing};

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

    /// F767 (DS11532), tagged [R] in the facts file (5.2): a 32-bit word as on the F4, sectors
    /// of 32/128/256 KiB on the F4's 16/64/128 KiB scale doubled, and the 4 s maximum for a
    /// 256 KiB sector that an old Zephyr driver states [V].
    pub fn f7(timing: Timing) -> Self {
        let ms = Duration::from_millis;
        match timing {
            Timing::Typical => Self {
                word_program: Duration::from_micros(16),
                sector_erase: vec![(32, ms(250)), (128, ms(1000)), (256, ms(2000))],
                mass_erase: ms(16000),
                option_program: ms(16),
            },
            Timing::Max => Self {
                word_program: Duration::from_micros(100),
                sector_erase: vec![(32, ms(500)), (128, ms(2000)), (256, ms(4000))],
                mass_erase: ms(32000),
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
    /// The FLASH controller and its factory option bytes.
    pub controller: ControllerSpec,
    /// The ST ROM bootloader's DfuSe alternate settings (memory maps).
    pub rom_alt_names: Vec<&'static str>,
    /// The cores, as (access port, CPUID): the first is the one that boots and runs firmware.
    pub cores: Vec<(u8, u32)>,
    /// The APB-AP that reaches the debug components (DBGMCU), where the part has one.
    pub apb_ap: Option<u8>,
    /// The user OTP area (F4, F7), programmed through the FLASH controller.
    pub otp: Option<super::otp::OtpSpec>,
}

#[derive(Clone, Debug)]
pub enum ControllerSpec {
    F4 {
        factory_options: u32,
    },
    /// F76x/77x: factory OPTCR and OPTCR1.
    F7 {
        factory_options: u32,
        factory_boot: u32,
    },
    H7(super::h7::H7Variant),
    L4,
    G0,
}

const CM4: u32 = 0x410F_C241;
const CM7: u32 = 0x411F_C272;
/// The F76x's Cortex-M7 r1p0.
const CM7_F7: u32 = 0x411F_C270;
const CM0_PLUS: u32 = 0x410C_C601;

impl PartSpec {
    pub fn lookup(family: Family, part: &str) -> Option<PartSpec> {
        let upper = part.to_ascii_uppercase();
        let is = |prefix: &str| upper.starts_with(prefix);
        match family {
            // F405/F407 1 MiB: 4x16K, 1x64K, 7x128K (facts 5.1); DEV_ID 0x413 (facts 4);
            // factory OPTCR 0x0FFFAAED is tagged [R] in the facts file (3.1).
            Family::F4 if is("STM32F407") || is("STM32F405") => {
                let mut sectors = vec![16 * 1024; 4];
                sectors.push(64 * 1024);
                sectors.extend(std::iter::repeat_n(128 * 1024, 7));
                let f407 = is("STM32F407");
                Some(PartSpec {
                    family,
                    name: if f407 { "STM32F407VG" } else { "STM32F405RG" },
                    probe_rs_chip: if f407 {
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
                    controller: ControllerSpec::F4 {
                        factory_options: 0x0FFF_AAED,
                    },
                    rom_alt_names: vec![
                        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
                        // As the F4 Discovery's ROM reports them (facts 2.7).
                        "@Option Bytes  /0x1FFFC000/01*016 g",
                        "@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
                        "@Device Feature/0xFFFF0000/01*004 g",
                    ],
                    cores: vec![(0, CM4)],
                    apb_ap: None,
                    otp: Some(super::otp::OtpSpec::F4),
                })
            }
            // F767 2 MiB single bank (nDBANK = 1): 4x32K, 1x128K, 7x256K (facts 5.1); UID
            // 0x1FF0F420, flash size 0x1FF0F442, DEV_ID 0x451 (facts 4). Factory OPTCR
            // 0xFFFFAAFD and OPTCR1 0x00400080 (BOOT_ADD0 0x0080 = ITCM flash 0x00200000,
            // BOOT_ADD1 0x0040 = system memory) are recalled from RM0410, [R]. The ROM's alt
            // string is assumed in ST's format; its option-byte alt is not modelled.
            Family::F7 if is("STM32F767") => {
                let mut sectors = vec![32 * 1024; 4];
                sectors.push(128 * 1024);
                sectors.extend(std::iter::repeat_n(256 * 1024, 7));
                Some(PartSpec {
                    family,
                    name: "STM32F767ZI",
                    probe_rs_chip: "STM32F767ZITx",
                    flash_base: 0x0800_0000,
                    sectors,
                    flash_regs: 0x4002_3C00,
                    uid_address: 0x1FF0_F420,
                    flash_size_address: 0x1FF0_F442,
                    idcode_address: 0xE004_2000,
                    idcode: 0x1001_6451,
                    ram: vec![(0x2000_0000, 128 * 1024), (0x2002_0000, 384 * 1024)],
                    controller: ControllerSpec::F7 {
                        factory_options: 0xFFFF_AAFD,
                        factory_boot: 0x0040_0080,
                    },
                    rom_alt_names: vec!["@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg"],
                    cores: vec![(0, CM7_F7)],
                    apb_ap: None,
                    otp: Some(super::otp::OtpSpec::F7),
                })
            }
            // H743/H755: 2 banks x 8 x 128 KiB, FLASH at 0x52002000, UID 0x1FF1E800, DEV_ID
            // 0x450 at DBGMCU_IDC 0x5C001000 (facts 3.3, 4, 5.1). The H755's Cortex-M4 sits on
            // AP3 and DBGMCU on AP2 (probe-rs targets, STM32H7 sequence). ROM alt strings are
            // from third-party logs (facts 2.7).
            Family::H7 if is("STM32H743") || is("STM32H755") => {
                let h755 = is("STM32H755");
                let variant = if h755 {
                    super::h7::H7Variant::H755
                } else {
                    super::h7::H7Variant::H743
                };
                Some(PartSpec {
                    family,
                    name: if h755 { "STM32H755ZI" } else { "STM32H743ZI" },
                    probe_rs_chip: if h755 {
                        "STM32H755ZITx"
                    } else {
                        "STM32H743ZITx"
                    },
                    flash_base: 0x0800_0000,
                    sectors: vec![128 * 1024; 16],
                    flash_regs: 0x5200_2000,
                    uid_address: 0x1FF1_E800,
                    flash_size_address: 0x1FF1_E880,
                    idcode_address: 0x5C00_1000,
                    idcode: 0x2003_6450,
                    ram: vec![
                        (0x0000_0000, 64 * 1024),
                        (0x2000_0000, 128 * 1024),
                        (0x2400_0000, 512 * 1024),
                        (0x3000_0000, 288 * 1024),
                        (0x3800_0000, 64 * 1024),
                    ],
                    controller: ControllerSpec::H7(variant),
                    rom_alt_names: vec![
                        "@Internal Flash   /0x08000000/16*128Kg",
                        "@Option Bytes   /0x5200201C/01*128 e",
                    ],
                    cores: if h755 {
                        vec![(0, CM7), (3, CM4)]
                    } else {
                        vec![(0, CM7)]
                    },
                    apb_ap: Some(2),
                    otp: None,
                })
            }
            // L476: 1 MiB dual bank, 2 x 256 pages of 2 KiB; DEV_ID 0x415 (facts 3.4, 4, 5.1).
            // The ROM's alt strings are not in the facts file: assumed in ST's format.
            Family::L4 if is("STM32L476") => Some(PartSpec {
                family,
                name: "STM32L476RG",
                probe_rs_chip: "STM32L476RGTx",
                flash_base: 0x0800_0000,
                sectors: vec![2048; 512],
                flash_regs: 0x4002_2000,
                uid_address: 0x1FFF_7590,
                flash_size_address: 0x1FFF_75E0,
                idcode_address: 0xE004_2000,
                idcode: 0x1007_6415,
                ram: vec![(0x2000_0000, 96 * 1024), (0x1000_0000, 32 * 1024)],
                controller: ControllerSpec::L4,
                rom_alt_names: vec![
                    "@Internal Flash  /0x08000000/512*0002Kg",
                    "@Option Bytes  /0x1FFF7800/01*040 e",
                ],
                cores: vec![(0, CM4)],
                apb_ap: None,
                otp: None,
            }),
            // G071: 128 KiB, 64 pages of 2 KiB; DBGMCU_IDCODE at 0x40015800, DEV_ID 0x460
            // (facts 3.5, 4, 5.1). A Cortex-M0+.
            Family::G0 if is("STM32G071") => Some(PartSpec {
                family,
                name: "STM32G071RB",
                probe_rs_chip: "STM32G071RBTx",
                flash_base: 0x0800_0000,
                sectors: vec![2048; 64],
                flash_regs: 0x4002_2000,
                uid_address: 0x1FFF_7590,
                flash_size_address: 0x1FFF_75E0,
                idcode_address: 0x4001_5800,
                idcode: 0x1000_6460,
                ram: vec![(0x2000_0000, 36 * 1024)],
                controller: ControllerSpec::G0,
                rom_alt_names: vec![
                    "@Internal Flash  /0x08000000/064*0002Kg",
                    "@Option Bytes  /0x1FFF7800/01*128 e",
                ],
                cores: vec![(0, CM0_PLUS)],
                apb_ap: None,
                otp: None,
            }),
            _ => None,
        }
    }

    pub fn timing(&self, t: Timing) -> FlashTiming {
        match self.controller {
            ControllerSpec::F4 { .. } => FlashTiming::f4(t),
            ControllerSpec::F7 { .. } => FlashTiming::f7(t),
            ControllerSpec::H7(_) => super::h7::timing(t),
            ControllerSpec::L4 => super::l4::timing(t),
            ControllerSpec::G0 => super::g0::timing(t),
        }
    }

    pub fn new_controller(&self) -> super::controller::Controller {
        use super::controller::Controller;
        match &self.controller {
            ControllerSpec::F4 { factory_options } => {
                Controller::F4(super::f4::F4Flash::new(*factory_options))
            }
            ControllerSpec::F7 {
                factory_options,
                factory_boot,
            } => Controller::F4(super::f4::F4Flash::f76x(*factory_options, *factory_boot)),
            ControllerSpec::H7(v) => {
                Controller::H7(super::h7::H7Flash::new(super::h7::H7Options::factory(*v)))
            }
            ControllerSpec::L4 => Controller::L4(super::l4::L4Flash::factory()),
            ControllerSpec::G0 => Controller::G0(super::g0::G0Flash::factory()),
        }
    }

    pub fn flash_size(&self) -> u32 {
        self.sectors.iter().sum()
    }

    pub fn known_parts(family: Family) -> &'static [&'static str] {
        family.parts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_station_knows_exactly_the_simulated_parts() {
        for family in Family::ALL {
            for part in family.parts() {
                assert!(PartSpec::lookup(family, part).is_some(), "{part}");
                assert!(family.knows_part(&format!("{part}Tx")), "{part}");
            }
            for other in ["STM32F401RE", "STM32H750VB", "STM32L452RE", "STM32G031K8"] {
                assert_eq!(
                    PartSpec::lookup(family, other).is_some(),
                    family.knows_part(other),
                    "{other}"
                );
            }
        }
    }
}
