//! The bootloader descriptor's design: which kind of bootloader a descriptor names and what
//! its knobs mean (docs/sim.md). The virtual bench boots by it; the station checks knobs and
//! classifies a real bench's unit by it.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DesignKind {
    CrcSingle,
    AbSlots,
    Naive,
    StRom,
}

/// How the product gets into the ST system bootloader (`st-rom` designs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RomEntry {
    /// The application jumps there on command: a corrupt application means no way in.
    AppJump,
    /// The fixture drives BOOT0 high: always reachable.
    Boot0Strap,
}

/// A bootloader design and its knobs, as its descriptor says.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Design {
    pub kind: DesignKind,
    pub name: String,
    pub app_base: u32,
    pub app_size: u32,
    /// ab-slots: where updates land.
    pub slot_b: u32,
    pub entry: RomEntry,
    /// ab-slots: copy only a B whose magic and CRC are valid.
    pub verify_before_copy: bool,
    /// ab-slots: erase A as soon as an update is pending, before looking at B.
    pub erase_a_first: bool,
    /// ab-slots: an interrupted copy starts again at the next boot.
    pub resume_copy: bool,
    /// Boot A only when its CRC is valid (otherwise any vector table is jumped to).
    pub check_a: bool,
    pub transfer_size: u16,
    pub poll_erase: Duration,
    pub poll_program: Duration,
    /// Expose the board's QSPI flash as DfuSe alternate setting 1 (custom designs).
    #[serde(default)]
    pub qspi: bool,
    /// Dual-core parts: the Cortex-M4's own image and slots (knobs `cm4_base`, `cm4_size`,
    /// `cm4_slot_b`). The bootloader checks it (and on ab-slots copies it) like the main one.
    #[serde(default)]
    pub cm4: Option<Slots>,
}

/// Where one core's application lives: slot A (where it runs) and, for ab-slots, slot B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slots {
    pub base: u32,
    pub size: u32,
    pub slot_b: u32,
}

impl Slots {
    /// The flash word ab-slots uses to mark an update as pending: the last 32 bytes of B.
    pub fn pending_flag(&self) -> u32 {
        self.slot_b + self.size - 32
    }
}

impl Design {
    /// The main (or only) core's slots.
    pub fn main_slots(&self) -> Slots {
        Slots {
            base: self.app_base,
            size: self.app_size,
            slot_b: self.slot_b,
        }
    }

    /// Every image's slots, the main core's first.
    pub fn all_slots(&self) -> Vec<Slots> {
        std::iter::once(self.main_slots()).chain(self.cm4).collect()
    }

    pub fn pending_flag(&self) -> u32 {
        self.main_slots().pending_flag()
    }
}

pub const PENDING_MAGIC: u32 = 0x5044_4E47;

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => s.replace('_', "").parse().ok(),
    }
}

pub fn design_from(
    name: &str,
    knobs: &BTreeMap<String, String>,
    flash_end: u32,
) -> Result<Design, String> {
    let number = |k: &str| {
        knobs
            .get(k)
            .map(|v| parse_u32(v).ok_or(format!("knob {k} = {v:?} is not a number")))
            .transpose()
    };
    let flag = |k: &str, default: bool| match knobs.get(k).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("knob {k} = {v:?} is not true or false")),
    };
    let kind = match name {
        "crc-single" => DesignKind::CrcSingle,
        "ab-slots" => DesignKind::AbSlots,
        "naive" => DesignKind::Naive,
        "st-rom" => DesignKind::StRom,
        other => return Err(format!("unknown bootloader design {other:?}")),
    };
    let app_base = number("app_base")?.ok_or("the descriptor has no app_base knob")?;
    let app_size = number("app_size")?.unwrap_or(flash_end.saturating_sub(app_base));
    let slot_b = number("slot_b")?.unwrap_or(app_base.saturating_add(app_size));
    let entry = match knobs.get("entry").map(String::as_str) {
        None | Some("app-jump") => RomEntry::AppJump,
        Some("boot0-strap") => RomEntry::Boot0Strap,
        Some(v) => return Err(format!("knob entry = {v:?} is not app-jump or boot0-strap")),
    };
    let cm4 = match number("cm4_base")? {
        None => None,
        Some(base) => {
            let size = number("cm4_size")?.unwrap_or(flash_end.saturating_sub(base));
            let slot_b = number("cm4_slot_b")?.unwrap_or(base.saturating_add(size));
            Some(Slots { base, size, slot_b })
        }
    };
    let ms = |k: &str, d: u64| number(k).map(|v| Duration::from_millis(v.map_or(d, u64::from)));
    Ok(Design {
        kind,
        name: name.to_string(),
        app_base,
        app_size,
        slot_b,
        entry,
        verify_before_copy: flag("verify_before_copy", true)?,
        erase_a_first: flag("erase_a_first", false)?,
        resume_copy: flag("resume_copy", true)?,
        check_a: flag("check_a", true)?,
        transfer_size: number("transfer_size")?.map_or(1024, |v| v.min(4096) as u16),
        // ST's USB device library templates advertise fixed values (facts section 6).
        poll_erase: ms("poll_erase_ms", 50)?,
        poll_program: ms("poll_program_ms", 50)?,
        qspi: match flag("qspi", false)? {
            true if kind == DesignKind::StRom => {
                return Err("knob qspi applies to custom designs; st-rom is ST's ROM".into());
            }
            q => q,
        },
        cm4,
    })
}
