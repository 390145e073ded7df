//! The H745/H755's second core (Cortex-M4) after a reset (RM0399 "Boot configuration",
//! facts 3.3): with OPTSR.BCM4 set it boots by itself from BOOT_CM4_ADD0/1; with BCM4 clear it
//! stays gated until the Cortex-M7's code releases it (RCC_GCR.BOOT_C2). A bootloader whose
//! descriptor names a CM4 slot releases it after checking that image, as a Cube dual-core
//! bootloader does. Either way the core then runs whatever its boot address holds.

use super::firmware::{Design, DesignKind, Firmware};
use super::mcu::Mcu;
use crate::image::header::{self, AppHeader, SlotCheck};

/// What the second core is doing.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SecondCore {
    /// Held in reset: BCM4 clear and nothing released it.
    Gated,
    /// An application with a valid header and CRC.
    Running { header: AppHeader, base: u32 },
    /// A valid vector table in front of a damaged body.
    Corrupt { base: u32 },
    /// Nothing to run at its boot address.
    HardFault(String),
}

impl SecondCore {
    pub fn describe(&self) -> String {
        match self {
            SecondCore::Gated => "held in reset (BCM4 = 0, not released)".into(),
            SecondCore::Running { header, base } => {
                format!("{} {} at {base:#010x}", header.name, header.version)
            }
            SecondCore::Corrupt { base } => format!("corrupt application at {base:#010x}"),
            SecondCore::HardFault(why) => format!("hard fault ({why})"),
        }
    }
}

/// The second core's state once the first core's firmware has started; `None` on parts with
/// one core.
pub fn boot(mcu: &Mcu) -> Option<SecondCore> {
    let (boots_alone, address) = mcu.fc.second_core_boot(mcu.boot0)?;
    let released = match &mcu.firmware {
        Firmware::App {
            design: Some(d), ..
        } => releases(mcu, d),
        _ => false,
    };
    if !boots_alone && !released {
        return Some(SecondCore::Gated);
    }
    Some(run_at(mcu, address))
}

/// Whether the main core's bootloader lets the CM4 go before jumping to its application.
fn releases(mcu: &Mcu, d: &Design) -> bool {
    let Some(s) = d.cm4 else {
        return false;
    };
    let bytes = mcu.flash.read(s.base, s.size as usize).unwrap_or(&[]);
    match d.kind {
        // A naive bootloader asks only whether the slot looks erased.
        DesignKind::Naive => bytes.get(..4).is_some_and(|w| w != [0xFF; 4]),
        DesignKind::AbSlots if !d.check_a => bytes.get(..4).is_some_and(|w| w != [0xFF; 4]),
        _ => matches!(header::check_app(s.base, bytes), SlotCheck::Valid(_)),
    }
}

fn run_at(mcu: &Mcu, address: u32) -> SecondCore {
    let base = mcu.part.flash_base;
    let end = base + mcu.flash.size();
    if !(base..end).contains(&address) {
        return SecondCore::HardFault(format!(
            "boot address {address:#010x} is not in flash (the simulator runs CM4 code only \
             from there)"
        ));
    }
    let bytes = mcu
        .flash
        .read(address, (end - address) as usize)
        .unwrap_or(&[]);
    match header::check_app(address, bytes) {
        SlotCheck::Valid(header) => SecondCore::Running {
            header,
            base: address,
        },
        SlotCheck::Blank | SlotCheck::NoVectorTable => {
            SecondCore::HardFault(format!("no valid vector table at {address:#010x}"))
        }
        _ => SecondCore::Corrupt { base: address },
    }
}
