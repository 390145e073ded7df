//! Record ids and fallback serials.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Time-sortable unique id, e.g. "20261121T051200123Z-3fa9c01b7e".
pub fn new_record_id(now: DateTime<Utc>) -> String {
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), unique_hex())
}

/// Serial for a unit with no scanned label.
pub fn serial_from_uid(uid_hex: &str) -> String {
    format!("UID-{}", uid_hex.trim().to_ascii_uppercase())
}

/// 10 hex chars: a per-process random tag plus a counter. The counter
/// makes ids unique within a process for certain (not just probably);
/// the tag, hashed from time, pid and RandomState's random keys, keeps
/// processes apart.
fn unique_hex() -> String {
    static PROCESS_TAG: OnceLock<u64> = OnceLock::new();
    let tag = *PROCESS_TAG.get_or_init(process_tag);
    let count = ID_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:010x}", tag.wrapping_add(count) & SUFFIX_MASK)
}

const SUFFIX_MASK: u64 = (1 << 40) - 1;

fn process_tag() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let random = RandomState::new().hash_one(nanos);
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(random.to_le_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}
