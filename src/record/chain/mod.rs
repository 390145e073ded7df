//! Tamper evidence: every record the store writes is appended to a chain in
//! `<dir>/.station/chain.jsonl`, one JSON line per entry, each MAC'd (HMAC-SHA256) with a
//! station key kept outside the records directory. The format is in docs/records.md.

mod entry;
mod files;
mod key;
mod tail;
mod verify;
mod walk;
mod writer;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use super::RecordError;
use super::atomic;
use super::paths::is_plain_file_stem;
use super::store::{RecordStore, STATE_DIR};

pub use entry::ChainHead;
pub use key::{KEY_DIR_VAR, default_key_dir, key_path};
pub use verify::{Problem, ProblemKind, Verification};
pub(crate) use writer::{preflight, roll_forward, write_chained};

pub const CHAIN_FILE: &str = "chain.jsonl";
const LOCK_FILE: &str = "chain.lock";

/// Serialises the threads of this process; the file lock covers other processes.
static CHAIN_LOCK: Mutex<()> = Mutex::new(());

/// Held while the chain or the records directory is changed (or read as a whole).
pub(crate) struct ChainLock {
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

/// Takes the process-wide mutex, then the lock file `<dir>/.station/chain.lock`.
pub(crate) fn lock(dir: &Path) -> Result<ChainLock, RecordError> {
    let guard = CHAIN_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let state_dir = dir.join(STATE_DIR);
    atomic::ensure_dir(&state_dir, dir)?;
    let path = state_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|err| RecordError::io(&path, err))?;
    // Released when the file is dropped, on error paths too.
    file.lock().map_err(|err| RecordError::io(&path, err))?;
    Ok(ChainLock {
        _file: file,
        _guard: guard,
    })
}

/// `<dir>/.station/chain.jsonl`.
pub fn chain_path(dir: &Path) -> PathBuf {
    dir.join(STATE_DIR).join(CHAIN_FILE)
}

impl RecordStore {
    /// The chain's last entry as `seq:mac`, read without the key and so not verified (None
    /// when the directory has no chain yet).
    pub fn chain_head(&self) -> Result<Option<ChainHead>, RecordError> {
        Ok(tail::read_state(&chain_path(self.dir()))?.map(|state| state.last.head()))
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The file a chain path (`<unit dir>/<record id>.json`) names, if it is one the store
/// could have written; anything else (`..`, absolute, deeper) is refused.
pub(crate) fn resolve(dir: &Path, rel: &str) -> Option<PathBuf> {
    let (unit, file) = rel.split_once('/')?;
    let stem = file.strip_suffix(".json")?;
    (is_plain_file_stem(unit) && is_plain_file_stem(stem)).then(|| dir.join(unit).join(file))
}
