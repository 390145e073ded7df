//! The board's external QSPI NOR flash, memory-mapped at 0x9000_0000 as the F7/H7 QUADSPI
//! peripheral maps it. Only a custom bootloader with the `qspi` knob reaches it, through a
//! second DfuSe alternate setting, as field products expose their asset flash.
//!
//! The facts file has no figures for it. Assumed: a 64 Mbit (8 MiB) part with 64 KiB sectors,
//! erased to 0xFF, NOR programming in 256-byte pages; 64 KiB sector erase 150 ms typical /
//! 2 s maximum and page program 0.5 ms / 5 ms, in the range of common 3 V serial NOR
//! datasheets (Micron MT25Q, Winbond W25Q).

use std::time::Duration;

use super::flash::FlashArray;
use super::part::Timing;

pub const BASE: u32 = 0x9000_0000;
pub const SECTOR: u32 = 64 * 1024;
pub const SECTORS: u32 = 128;

pub struct QspiTiming {
    pub sector_erase: Duration,
    pub page_program: Duration,
}

pub fn timing(t: Timing) -> QspiTiming {
    match t {
        Timing::Typical => QspiTiming {
            sector_erase: Duration::from_millis(150),
            page_program: Duration::from_micros(500),
        },
        Timing::Max => QspiTiming {
            sector_erase: Duration::from_secs(2),
            page_program: Duration::from_millis(5),
        },
    }
}

/// The chip, allocated (erased) the first time anything touches it: most units never do, and
/// snapshots stay small.
pub fn chip(slot: &mut Option<FlashArray>) -> &mut FlashArray {
    slot.get_or_insert_with(|| FlashArray::new(BASE, vec![SECTOR; SECTORS as usize]))
}

/// The DfuSe memory map a bootloader gives the chip's alternate setting.
pub fn alt_name() -> String {
    format!(
        "@QSPI Flash     /{BASE:#010x}/{SECTORS}*{:03}Kg",
        SECTOR / 1024
    )
}
