use std::time::Duration;

use super::HwError;

/// A contiguous run of bytes at an address: what images normalise to and what gets flashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub address: u32,
    pub data: Vec<u8>,
}

impl Segment {
    pub fn new(address: u32, data: Vec<u8>) -> Self {
        Self { address, data }
    }
    /// One past the last byte, as u64 so that a segment ending at 4 GiB does not overflow.
    pub fn end(&self) -> u64 {
        self.address as u64 + self.data.len() as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// Attach to a running target.
    Normal,
    /// Hold NRST while connecting, so that whatever runs cannot interfere.
    UnderReset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// System reset, then let the core run.
    Run,
    /// System reset with the core caught at its reset vector.
    Halt,
}

#[derive(Clone, Debug, Default)]
pub struct FlashOptions {
    /// Read back after programming.
    pub verify: bool,
    /// Compare first and skip programming when the target already holds the image.
    pub preverify: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashPhase {
    Erase,
    Program,
    Verify,
}

/// Progress of a flash operation, as bytes done out of a total per phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashProgress {
    pub phase: FlashPhase,
    pub done: u64,
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlashReport {
    /// The target already matched and nothing was written.
    pub skipped: bool,
    pub bytes_programmed: u64,
    pub verified: bool,
}

/// A debug connection to one target (over SWD in practice).
pub trait DebugTarget: Send {
    /// Connect to the target. Must be called before any other method.
    fn attach(&mut self, mode: AttachMode) -> Result<(), HwError>;
    /// Release the target, leaving it running.
    fn detach(&mut self);
    fn read_word(&mut self, address: u32) -> Result<u32, HwError>;
    fn write_word(&mut self, address: u32, value: u32) -> Result<(), HwError>;
    fn read_words(&mut self, address: u32, out: &mut [u32]) -> Result<(), HwError> {
        for (i, w) in out.iter_mut().enumerate() {
            *w = self.read_word(address + 4 * i as u32)?;
        }
        Ok(())
    }
    /// Read bytes (a flash region, say) from a word-aligned address.
    fn read_bytes(&mut self, address: u32, out: &mut [u8]) -> Result<(), HwError> {
        let mut words = vec![0u32; out.len().div_ceil(4)];
        self.read_words(address, &mut words)?;
        for (chunk, w) in out.chunks_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
    /// Program segments into the target's flash, reporting progress.
    fn flash(
        &mut self,
        segments: &[Segment],
        options: &FlashOptions,
        progress: &mut dyn FnMut(FlashProgress),
    ) -> Result<FlashReport, HwError>;
    fn reset(&mut self, kind: ResetKind) -> Result<(), HwError>;
    /// How long the last operations took on the target's own clock, when a backend knows
    /// better than the wall clock (the virtual bench does).
    fn charge(&mut self) -> Option<Duration> {
        None
    }
}
