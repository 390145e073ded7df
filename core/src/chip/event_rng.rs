//! Deterministic randomness: the same seed gives the same run, on the bench and in the
//! sweep's random plans alike.

use sha2::{Digest, Sha256};

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
