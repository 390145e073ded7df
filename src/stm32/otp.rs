//! The F4/F7 user OTP, programmed over SWD with the main-flash program sequence (facts 3.1):
//! unlock FLASH_KEYR, CR = PG | PSIZE x32, write each word, wait for BSY, check the error
//! flags; then, if asked, write 0x00 into the lock byte of every block written. There is no
//! erase: bits only go 1 → 0, and a locked block can never change again.

use std::time::Duration;

use super::f4::{FLASH, SR};
use super::poll_until;
use crate::hw::{Clock, DebugTarget, HwError};

const KEYR: u32 = FLASH + 0x04;
const CR: u32 = FLASH + 0x10;
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const CR_PG: u32 = 1 << 0;
const CR_PSIZE_X32: u32 = 2 << 8;
const CR_LOCK: u32 = 1 << 31;
const SR_BSY: u32 = 1 << 16;
/// PGSERR, PGPERR, PGAERR, WRPERR, OPERR (and ERSERR on F7).
const SR_ERRORS: u32 = 0xF2;
/// A word programs in ~16 µs typical, 100 µs max (facts 5.x); leave room for a slow probe.
const WORD_TIMEOUT: Duration = Duration::from_millis(10);

/// Where a family's OTP is: data base, data length, block size; lock bytes follow the data.
#[derive(Clone, Copy, Debug)]
pub struct OtpLayout {
    pub base: u32,
    pub len: u32,
    pub block: u32,
}

impl OtpLayout {
    pub fn lock_byte(&self, block: u32) -> u32 {
        self.base + self.len + block
    }

    /// The blocks `address..address + len` touches.
    pub fn blocks(&self, address: u32, len: u32) -> std::ops::Range<u32> {
        let first = (address - self.base) / self.block;
        let last = (address + len.max(1) - 1 - self.base) / self.block;
        first..last + 1
    }
}

#[derive(Debug)]
pub enum OtpError {
    Hw(HwError),
    StillLocked,
    /// The controller raised these FLASH_SR error bits at `address` (WRPERR: a locked block).
    Flags {
        address: u32,
        sr: u32,
    },
}

impl From<HwError> for OtpError {
    fn from(e: HwError) -> Self {
        OtpError::Hw(e)
    }
}

impl std::fmt::Display for OtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OtpError::Hw(e) => write!(f, "{e}"),
            OtpError::StillLocked => f.write_str("FLASH_CR stayed locked after the unlock keys"),
            OtpError::Flags { address, sr } => write!(
                f,
                "programming OTP at {address:#010x} failed: FLASH_SR {sr:#010x}{}",
                if sr & (1 << 4) != 0 {
                    " (WRPERR: the block is locked)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Program `data` (a multiple of 4 bytes) at `address`, then lock its blocks if `lock`.
pub fn program(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    layout: &OtpLayout,
    address: u32,
    data: &[u8],
    lock: bool,
) -> Result<(), OtpError> {
    if target.read_word(CR)? & CR_LOCK != 0 {
        let _ = target.write_word(KEYR, KEY1);
        let _ = target.write_word(KEYR, KEY2);
        if target.read_word(CR)? & CR_LOCK != 0 {
            return Err(OtpError::StillLocked);
        }
    }
    let result = program_unlocked(target, clock, layout, address, data, lock);
    let _ = target.write_word(CR, CR_LOCK);
    result
}

fn program_unlocked(
    target: &mut dyn DebugTarget,
    clock: &dyn Clock,
    layout: &OtpLayout,
    address: u32,
    data: &[u8],
    lock: bool,
) -> Result<(), OtpError> {
    poll_until(target, clock, SR, Duration::from_secs(1), |sr| {
        sr & SR_BSY == 0
    })?;
    target.write_word(SR, SR_ERRORS)?;
    target.write_word(CR, CR_PG | CR_PSIZE_X32)?;
    let mut words: Vec<(u32, u32)> = data
        .chunks(4)
        .enumerate()
        .map(|(i, c)| {
            let mut w = [0xFF; 4];
            w[..c.len()].copy_from_slice(c);
            (address + 4 * i as u32, u32::from_le_bytes(w))
        })
        // Erased words need no programming.
        .filter(|(_, w)| *w != 0xFFFF_FFFF)
        .collect();
    if lock {
        // Lock bytes are written a word at a time: 0x00 for each block, 0xFF leaves others.
        let blocks = layout.blocks(address, data.len() as u32);
        let mut lock_words: std::collections::BTreeMap<u32, [u8; 4]> = Default::default();
        for b in blocks {
            let at = layout.lock_byte(b);
            lock_words.entry(at & !3).or_insert([0xFF; 4])[(at & 3) as usize] = 0x00;
        }
        words.extend(
            lock_words
                .into_iter()
                .map(|(a, w)| (a, u32::from_le_bytes(w))),
        );
    }
    for (at, word) in words {
        target.write_word(at, word)?;
        let sr = poll_until(target, clock, SR, WORD_TIMEOUT, |sr| sr & SR_BSY == 0)?;
        if sr & SR_ERRORS != 0 {
            return Err(OtpError::Flags { address: at, sr });
        }
    }
    Ok(())
}
