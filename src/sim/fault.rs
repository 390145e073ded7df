//! Power cuts and what they leave behind. A cut can fall before, inside or after the Nth
//! flash operation (the device's own included), before or after the Nth USB request, or at a
//! virtual time. A cut inside an erase or a program leaves torn state: part of the sector
//! erased, some bits of a word programmed, and cells that may read either way.

use std::time::Duration;

use sha2::{Digest, Sha256};

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

/// Deterministic randomness for one event, from the device's seed and the event's index.
pub struct EventRng(u64);

impl EventRng {
    pub fn new(seed: u64, salt: &str, index: u64) -> Self {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(salt.as_bytes());
        h.update(index.to_le_bytes());
        let d = h.finalize();
        Self(u64::from_le_bytes([
            d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
        ]))
    }

    /// SplitMix64.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

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

/// Faults a simulated unit is built with (`[fixtures.sim] faults`), all deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The firmware never shows up on USB.
    pub never_enumerates: bool,
    /// The firmware takes this long to appear on USB after it starts.
    pub enumeration_delay: Duration,
    /// The Nth USB request is stalled.
    pub stall_at_request: Option<u64>,
    /// The cable comes loose at the Nth USB request (the device stays powered).
    pub disconnect_at_request: Option<u64>,
    /// Erase and program fail in this sector.
    pub dead_sector: Option<usize>,
    /// The unit arrives at RDP level 1.
    pub delivered_rdp1: bool,
    /// The Nth USB request never returns: a wedged host controller or hub, which only the
    /// station's real-time watchdog catches (the virtual clock stands still meanwhile).
    #[serde(default)]
    pub hang_at_request: Option<u64>,
    /// Programs into this sector report success but do not stick (a verify finds it).
    pub weak_sector: Option<usize>,
    /// Every option change fails with the family's error flag, or never finishes.
    pub option_change: Option<OptionFault>,
    /// The fixture's probe is held by another program: opening it fails as busy.
    pub probe_busy: bool,
    /// The user may not open the fixture's probe (no udev rule): listed as such, opening fails.
    pub probe_denied: bool,
    /// The probe's reset line does not reach the part's NRST: resetting through it does
    /// nothing, so an attach under reset never finds the core halted.
    pub nrst_unconnected: bool,
}

/// How an option change goes wrong (`sim::option_fault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptionFault {
    /// The change is refused with the family's option error flag; nothing changes.
    Error,
    /// The controller stays busy until the next power-on; nothing changes.
    Hang,
}

pub const FAULT_SYNTAX: &str = "never-enumerates, slow-enumeration:MS, stall-at-request:N, disconnect-at-request:N, dead-sector:K, weak-sector:K, hang-at-request:N, rdp1, option-error, option-hang, probe-busy, probe-denied or nrst-unconnected";

impl Faults {
    /// Add one fault written as in a station file.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let bad = || format!("unknown fault {text:?}; expected {FAULT_SYNTAX}");
        let num = |v: &str| v.parse::<u64>().map_err(|_| bad());
        match text.split_once(':') {
            None if text == "never-enumerates" => self.never_enumerates = true,
            None if text == "rdp1" => self.delivered_rdp1 = true,
            None if text == "option-error" => self.option_change = Some(OptionFault::Error),
            None if text == "option-hang" => self.option_change = Some(OptionFault::Hang),
            None if text == "probe-busy" => self.probe_busy = true,
            None if text == "probe-denied" => self.probe_denied = true,
            None if text == "nrst-unconnected" => self.nrst_unconnected = true,
            Some(("slow-enumeration", ms)) => {
                self.enumeration_delay = Duration::from_millis(num(ms)?)
            }
            Some(("stall-at-request", n)) => self.stall_at_request = Some(num(n)?),
            Some(("disconnect-at-request", n)) => self.disconnect_at_request = Some(num(n)?),
            Some(("dead-sector", k)) => self.dead_sector = Some(num(k)? as usize),
            Some(("hang-at-request", n)) => self.hang_at_request = Some(num(n)?),
            Some(("weak-sector", k)) => self.weak_sector = Some(num(k)? as usize),
            _ => return Err(bad()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod fault_syntax {
    use super::*;

    #[test]
    fn faults_parse_and_refuse_with_the_syntax() {
        let mut f = Faults::default();
        for t in [
            "never-enumerates",
            "slow-enumeration:1500",
            "stall-at-request:7",
            "disconnect-at-request:9",
            "dead-sector:3",
            "hang-at-request:4",
            "weak-sector:0",
            "rdp1",
            "probe-busy",
            "probe-denied",
            "nrst-unconnected",
            "option-error",
        ] {
            f.add(t).unwrap();
        }
        assert!(f.never_enumerates && f.delivered_rdp1);
        assert!(f.probe_busy && f.probe_denied && f.nrst_unconnected);
        assert_eq!(
            (f.weak_sector, f.option_change),
            (Some(0), Some(OptionFault::Error))
        );
        f.add("option-hang").unwrap();
        assert_eq!(f.option_change, Some(OptionFault::Hang));
        assert_eq!(f.enumeration_delay, Duration::from_millis(1500));
        assert_eq!(
            (f.stall_at_request, f.disconnect_at_request, f.dead_sector),
            (Some(7), Some(9), Some(3))
        );
        assert_eq!(f.hang_at_request, Some(4));
        for bad in [
            "sometimes",
            "stall-at-request:x",
            "dead-sector",
            "weak-sector:x",
        ] {
            assert!(
                f.add(bad).unwrap_err().contains("slow-enumeration:MS"),
                "{bad}"
            );
        }
    }
}
