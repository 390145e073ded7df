//! Per-fixture unit counter that never hands out a number twice.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::RecordError;
use super::atomic;
use super::paths::safe_component;
use super::store::{RecordStore, STATE_DIR};

/// Serializes threads of this process; the file lock covers other processes.
static UNIT_LOCK: Mutex<()> = Mutex::new(());

#[derive(Serialize, Deserialize)]
struct UnitCounter {
    fixture: String,
    last: u64,
}

impl RecordStore {
    /// Next unit number for `fixture`: 1, 2, 3, ... persisted before return.
    pub fn next_unit_number(&self, fixture: &str) -> Result<u64, RecordError> {
        let _guard = UNIT_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let state_dir = self.dir().join(STATE_DIR);
        atomic::ensure_dir(&state_dir, self.dir())?;
        let name = safe_component(fixture);
        let path = state_dir.join(format!("units-{name}.json"));
        let lock_path = state_dir.join(format!("units-{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|err| RecordError::io(&lock_path, err))?;
        // Released when `lock` is dropped, including on error paths.
        lock.lock()
            .map_err(|err| RecordError::io(&lock_path, err))?;

        let next = read_last(&path, fixture)?
            .checked_add(1)
            .ok_or_else(|| RecordError::corrupt(&path, "counter exhausted"))?;
        let counter = UnitCounter {
            fixture: fixture.to_string(),
            last: next,
        };
        let mut text =
            serde_json::to_string_pretty(&counter).map_err(|err| RecordError::io(&path, err))?;
        text.push('\n');
        atomic::replace(&path, text.as_bytes())?;
        Ok(next)
    }
}

impl RecordStore {
    /// How many units `fixture` has been given so far (0 if none): its cycle count.
    pub fn unit_count(&self, fixture: &str) -> Result<u64, RecordError> {
        let name = safe_component(fixture);
        let path = self
            .dir()
            .join(STATE_DIR)
            .join(format!("units-{name}.json"));
        read_last(&path, fixture)
    }
}

/// Last number handed out; 0 if the fixture never had one.
fn read_last(path: &Path, fixture: &str) -> Result<u64, RecordError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(RecordError::io(path, err)),
    };
    let counter: UnitCounter =
        serde_json::from_slice(&bytes).map_err(|err| RecordError::corrupt(path, err))?;
    if counter.fixture != fixture {
        let message = format!("belongs to fixture {:?}, not {fixture:?}", counter.fixture);
        return Err(RecordError::corrupt(path, message));
    }
    Ok(counter.last)
}
