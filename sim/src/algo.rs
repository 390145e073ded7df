//! High-level emulation of the CMSIS flash algorithms probe-rs loads into target RAM.
//!
//! There is no Thumb CPU here: when the core is resumed at an entry point of an algorithm blob
//! that probe-rs placed in RAM, the simulated MCU performs that function itself through its own
//! FLASH controller (so write protection and RDP apply), returns the result in R0 and halts at
//! the return breakpoint. The call finishes at once in real time; its cost goes to the virtual
//! clock.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use probe_rs::config::{RawFlashAlgorithm, Registry};

use super::controller::FlashBus;
use super::fault::{Origin, PowerLost};
use super::mcu::Mcu;
use crate::hw::Clock;

/// The address the F4 option-byte algorithm programs (probe-rs `stm32f401xx_opt`).
const F4_OPTION_BYTES: u64 = 0x1FFF_C000;

/// The flash algorithms probe-rs will load for `chip`, cached: building the registry is costly.
pub fn algorithms_for(chip: &str) -> Vec<RawFlashAlgorithm> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<RawFlashAlgorithm>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(chip.to_string())
        .or_insert_with(|| {
            Registry::from_builtin_families()
                .get_target_by_name(chip)
                .map(|t| t.flash_algorithms)
                .unwrap_or_default()
        })
        .clone()
}

enum Entry {
    Init,
    UnInit,
    EraseSector,
    EraseAll,
    ProgramPage,
}

fn entry_of(algo: &RawFlashAlgorithm, offset: u64) -> Option<Entry> {
    let is = |o: Option<u64>| o.is_some_and(|o| o & !1 == offset);
    if is(algo.pc_init) {
        Some(Entry::Init)
    } else if is(algo.pc_uninit) {
        Some(Entry::UnInit)
    } else if is(Some(algo.pc_erase_sector)) {
        Some(Entry::EraseSector)
    } else if is(algo.pc_erase_all) {
        Some(Entry::EraseAll)
    } else if is(Some(algo.pc_program_page)) {
        Some(Entry::ProgramPage)
    } else {
        None
    }
}

/// If `pc` is an entry point of a loaded algorithm, run it and return R0.
pub fn run_call(mcu: &mut Mcu, pc: u32) -> Option<u32> {
    // probe-rs sets LR to the blob's load address, where a BKPT header precedes the code.
    let lr = mcu.core.reg(14) & !1;
    let code_start = lr.checked_add(4)?;
    let algo = mcu
        .algos
        .iter()
        .find(|a| {
            let n = a.instructions.len().min(64);
            n > 0 && mcu.ram_slice(code_start, n) == Some(&a.instructions[..n])
        })?
        .clone();
    let entry = entry_of(&algo, (pc & !1).wrapping_sub(code_start) as u64)?;
    let (r0, r1, r2) = (mcu.core.reg(0), mcu.core.reg(1), mcu.core.reg(2));
    let option_bytes = algo.flash_properties.address_range.start == F4_OPTION_BYTES;
    let result = match entry {
        Entry::Init | Entry::UnInit => 0,
        Entry::EraseSector | Entry::EraseAll if option_bytes => {
            // Erasing the option bytes restores the factory values (may regress RDP).
            match mcu.part.controller {
                super::part::ControllerSpec::F4 { factory_options } => {
                    write_options(mcu, factory_options)
                }
                _ => 1,
            }
        }
        Entry::ProgramPage if option_bytes => match mcu.ram_slice(r2, 4) {
            Some(b) => write_options(mcu, u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            None => 3,
        },
        Entry::EraseSector => match mcu.flash.sector_of(r0) {
            Some(sector) => errors_to_result(mcu.flash_erase(sector, Origin::Debugger)),
            None => 2,
        },
        Entry::EraseAll => errors_to_result(mcu.flash_mass_erase(Origin::Debugger)),
        Entry::ProgramPage => match mcu.ram_slice(r2, r1 as usize).map(<[u8]>::to_vec) {
            Some(data) => errors_to_result(mcu.flash_program(r0, &data, Origin::Debugger)),
            None => 3,
        },
    };
    mcu.wait_flash_idle();
    Some(result)
}

fn errors_to_result(sr_errors: Result<u32, PowerLost>) -> u32 {
    match sr_errors {
        Ok(0) => 0,
        Ok(_) => 1,
        // The target is gone; whatever R0 says, the probe will see no answer next.
        Err(PowerLost) => 4,
    }
}

/// The option-byte algorithm goes through the option registers like any other code would.
fn write_options(mcu: &mut Mcu, options: u32) -> u32 {
    let now = mcu.clock.now();
    let mut bus = FlashBus {
        flash: &mut mcu.flash,
        timing: &mcu.timing,
        now,
        debugger: mcu.debugger,
        log: &mut mcu.log,
        otp: mcu.otp.as_mut(),
    };
    mcu.fc.write_options_through_registers(options, &mut bus);
    0
}
