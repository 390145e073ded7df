//! Power cuts and what they leave behind. A cut can fall before, inside or after the Nth
//! flash operation (the device's own included), before or after the Nth USB request, or at a
//! virtual time. A cut inside an erase or a program leaves torn state: part of the sector
//! erased, some bits of a word programmed, and cells that may read either way.

pub use crate::chip::EventRng;
pub use crate::hw::bench::{FAULT_SYNTAX, Faults, OptionFault};

use std::time::Duration;

use super::flash::FlashArray;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CutPoint {
    /// The Nth flash operation since the device was built (1-based).
    FlashOp(u64),
    /// The Nth USB control request since the device was built (1-based).
    UsbRequest(u64),
    /// A moment on the fixture's virtual clock.
    At(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CutWhen {
    Before,
    /// Torn: the operation is partly done.
    Inside,
    After,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cut {
    pub point: CutPoint,
    pub when: CutWhen,
}

/// Who asked for a flash operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// A host over DFU, through the bootloader.
    Dfu,
    /// The device's own firmware (an A/B bootloader copying a slot at boot).
    Device,
    /// A debugger's flash algorithm.
    Debugger,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OpKind {
    Erase {
        sector: usize,
    },
    MassErase,
    Program {
        address: u32,
        len: u32,
    },
    /// The external QSPI NOR flash (`sim::qspi`): a 64 KiB sector erase, a page program.
    QspiErase {
        sector: usize,
    },
    QspiProgram {
        address: u32,
        len: u32,
    },
}

/// One flash operation as it happened, for calibration and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlashOp {
    pub index: u64,
    pub origin: Origin,
    pub kind: OpKind,
    pub at: Duration,
}

/// The power went away: whatever was running stops here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerLost;

/// Cells at the edge of a torn operation hold whatever the interrupted charge left.
const UNSETTLED: usize = 16;

/// An erase cut at `fraction` of its time: the sector is erased up to a point, a few cells
/// after it are unsettled, the rest keeps its old contents.
pub fn tear_erase(flash: &mut FlashArray, sector: usize, fraction: f64, rng: &mut EventRng) {
    let Some((start, size)) = flash.sector(sector) else {
        return;
    };
    let done = ((size as f64) * fraction.clamp(0.0, 1.0)) as u32;
    let done = done.min(size);
    flash.poke(start, &vec![0xFF; done as usize]);
    let unsettled = (size - done).min(UNSETTLED as u32);
    let noise: Vec<u8> = (0..unsettled).map(|_| rng.next_u64() as u8).collect();
    flash.poke(start + done, &noise);
}

/// A program cut at `fraction` of its time: words before the cut are programmed, the word
/// under way has a random subset of its bits programmed.
pub fn tear_program(
    flash: &mut FlashArray,
    address: u32,
    data: &[u8],
    fraction: f64,
    rng: &mut EventRng,
) {
    let words = data.len().div_ceil(4);
    let done_words = ((words as f64) * fraction.clamp(0.0, 1.0)) as usize;
    let done = (done_words * 4).min(data.len());
    flash.program(address, &data[..done]);
    if done < data.len() {
        let end = (done + 4).min(data.len());
        let partial: Vec<u8> = data[done..end]
            .iter()
            .map(|b| {
                // Bits to clear are !b; only some of them made it.
                let cleared = !*b & rng.next_u64() as u8;
                !cleared
            })
            .collect();
        flash.program(address + done as u32, &partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array() -> FlashArray {
        FlashArray::new(0x0800_0000, vec![1024, 1024])
    }

    #[test]
    fn torn_erase_leaves_a_prefix_erased_and_the_tail_old() {
        let mut f = array();
        f.program(0x0800_0000, &[0u8; 1024]);
        let mut rng = EventRng::new(1, "t", 1);
        tear_erase(&mut f, 0, 0.5, &mut rng);
        assert!(f.read(0x0800_0000, 512).unwrap().iter().all(|b| *b == 0xFF));
        assert!(
            f.read(0x0800_0000 + 512 + UNSETTLED as u32, 512 - UNSETTLED)
                .unwrap()
                .iter()
                .all(|b| *b == 0)
        );
    }

    #[test]
    fn torn_program_never_sets_bits_and_keeps_the_tail_erased() {
        let mut f = array();
        let data = vec![0x00u8; 64];
        let mut rng = EventRng::new(7, "t", 3);
        tear_program(&mut f, 0x0800_0000, &data, 0.25, &mut rng);
        assert!(f.read(0x0800_0000, 16).unwrap().iter().all(|b| *b == 0));
        assert!(
            f.read(0x0800_0000 + 20, 44)
                .unwrap()
                .iter()
                .all(|b| *b == 0xFF)
        );
    }

    #[test]
    fn event_randomness_repeats_for_the_same_seed_and_index() {
        let a: Vec<u64> = (0..4)
            .map(|_| EventRng::new(5, "x", 9).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            EventRng::new(5, "x", 9).next_u64(),
            EventRng::new(5, "x", 10).next_u64()
        );
    }
}
