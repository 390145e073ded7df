//! STM32 knowledge the station needs above the debug seam: identity registers and the
//! family's option-byte encoding and programming sequence, from the reference manuals
//! (facts file sections 3 and 4).

pub mod f4;
pub mod f7;
pub mod h7;
pub mod options;
pub mod optr;
pub mod otp;
pub mod sector_erase;

use std::time::Duration;

use crate::chip::Family;
use crate::hw::{Clock, DebugTarget, HwError};

/// What a chip says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: [u32; 3],
    pub idcode: u32,
    pub flash_kib: u32,
}

impl Identity {
    /// The UID as 24 hex digits in memory byte order.
    pub fn uid_hex(&self) -> String {
        self.uid
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    pub fn dev_id(&self) -> u16 {
        (self.idcode & 0xFFF) as u16
    }
}

struct IdentityRegisters {
    uid: u32,
    flash_size: u32,
    idcode: u32,
    dev_ids: &'static [u16],
}

fn identity_registers(family: Family) -> IdentityRegisters {
    match family {
        // RM0090; DEV_ID 0x413 for F405/407, 0x419 for F42x/43x (facts section 4).
        Family::F4 => IdentityRegisters {
            uid: 0x1FFF_7A10,
            flash_size: 0x1FFF_7A22,
            idcode: 0xE004_2000,
            dev_ids: &[0x413, 0x419],
        },
        // RM0410: F76x/77x DEV_ID 0x451, F74x/75x 0x449 (same UID and flash-size addresses).
        Family::F7 => IdentityRegisters {
            uid: 0x1FF0_F420,
            flash_size: 0x1FF0_F442,
            idcode: 0xE004_2000,
            dev_ids: &[0x451, 0x449],
        },
        // RM0433/RM0399: DEV_ID 0x450 for H742/743/745/747/750/753/755/757.
        Family::H7 => IdentityRegisters {
            uid: 0x1FF1_E800,
            flash_size: 0x1FF1_E880,
            idcode: 0x5C00_1000,
            dev_ids: &[0x450],
        },
        // RM0351: L47x/L48x DEV_ID 0x415.
        Family::L4 => IdentityRegisters {
            uid: 0x1FFF_7590,
            flash_size: 0x1FFF_75E0,
            idcode: 0xE004_2000,
            dev_ids: &[0x415],
        },
        // RM0444: G07x/G08x DEV_ID 0x460.
        Family::G0 => IdentityRegisters {
            uid: 0x1FFF_7590,
            flash_size: 0x1FFF_75E0,
            idcode: 0x4001_5800,
            dev_ids: &[0x460],
        },
    }
}

/// Read UID, DBGMCU IDCODE and flash size, and check the part belongs to `family`.
pub fn read_identity(
    target: &mut dyn DebugTarget,
    family: Family,
) -> Result<Identity, IdentityError> {
    let regs = identity_registers(family);
    let mut uid = [0u32; 3];
    target.read_words(regs.uid, &mut uid)?;
    let idcode = target.read_word(regs.idcode)?;
    let size_word = target.read_word(regs.flash_size & !3)?;
    let flash_kib = (size_word >> (8 * (regs.flash_size & 3))) & 0xFFFF;
    let identity = Identity {
        uid,
        idcode,
        flash_kib,
    };
    if !regs.dev_ids.contains(&identity.dev_id()) {
        return Err(IdentityError::WrongPart { idcode, family });
    }
    Ok(identity)
}

#[derive(Debug)]
pub enum IdentityError {
    Hw(HwError),
    WrongPart { idcode: u32, family: Family },
}

impl From<HwError> for IdentityError {
    fn from(e: HwError) -> Self {
        IdentityError::Hw(e)
    }
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityError::Hw(e) => write!(f, "{e}"),
            IdentityError::WrongPart { idcode, family } => write!(
                f,
                "the part's DBGMCU_IDCODE is {idcode:#010x} (DEV_ID {:#05x}), not an STM32{} as the profile says",
                idcode & 0xFFF,
                family.name().to_uppercase()
            ),
        }
    }
}

/// The names of the flags set in `value`, as "WRPERR, PGSERR" (or "none").
pub fn flag_names(value: u32, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| value & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join(", ")
    }
}

/// Poll a register until `done` holds or `timeout` passes on `clock`.
pub fn poll_until(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    address: u32,
    timeout: Duration,
    done: impl Fn(u32) -> bool,
) -> Result<u32, HwError> {
    let start = clock.now();
    let mut interval = Duration::from_millis(1);
    loop {
        let value = target.read_word(address)?;
        if done(value) {
            return Ok(value);
        }
        if clock.now() - start >= timeout {
            return Err(HwError::Timeout(format!(
                "register {address:#010x} still reads {value:#010x} after {timeout:?}"
            )));
        }
        clock.sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(20));
    }
}
