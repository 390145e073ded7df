//! What a unit comes back as after a cut: the torture campaign's classifier, and the virtual
//! bench's own boot tests, use this one definition.

use super::firmware::{self, DesignKind, Firmware, RomEntry};
use super::mcu::Mcu;
use crate::image::header::{self, BootCheck, Version};

pub use crate::chip::BootOutcome;

/// The design the bootloader region describes, if any.
pub fn installed_design(mcu: &Mcu) -> Option<firmware::Design> {
    let base = mcu.part.flash_base;
    let region = mcu.flash.read(base, mcu.flash.size() as usize)?;
    match header::check_bootloader(base, region) {
        BootCheck::Valid(d) => {
            firmware::design_from(&d.design, &d.knobs, base + mcu.flash.size()).ok()
        }
        _ => None,
    }
}

fn power_cycle(mcu: &mut Mcu) {
    mcu.set_power(false);
    mcu.set_power(true);
}

/// Restore power with the strap low, let the unit boot uninterrupted (its own flash work
/// included), and say what it came back as. `old` and `new` are the versions of the update.
pub fn classify(mcu: &mut Mcu, old: Version, new: Version) -> BootOutcome {
    mcu.cut = None;
    mcu.boot0 = false;
    power_cycle(mcu);
    // A product whose field procedure is the BOOT0 strap gets in whatever runs.
    let strapped = installed_design(mcu)
        .is_some_and(|d| d.kind == DesignKind::StRom && d.entry == RomEntry::Boot0Strap);
    match &mcu.firmware {
        Firmware::App { header, .. } if header.version == new => BootOutcome::NewImage,
        Firmware::App { header, .. } if header.version == old => BootOutcome::OldImage,
        Firmware::App { .. } | Firmware::CorruptApp { .. } if strapped => BootOutcome::NeedsBoot0,
        Firmware::App { .. } | Firmware::CorruptApp { .. } => BootOutcome::CorruptApp,
        Firmware::Bootloader(..) | Firmware::Rom(_) => BootOutcome::InBootloader,
        Firmware::HardFault(_) | Firmware::Off => {
            mcu.boot0 = true;
            power_cycle(mcu);
            let rom = matches!(mcu.firmware, Firmware::Rom(_));
            mcu.boot0 = false;
            power_cycle(mcu);
            if rom && strapped {
                BootOutcome::NeedsBoot0
            } else {
                BootOutcome::Bricked
            }
        }
    }
}
