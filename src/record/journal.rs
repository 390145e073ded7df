//! The run journal: while a unit runs, a provisional record of what has been done so far sits
//! in `<dir>/.station/journal/`, replaced crash-safely after every step. A station killed
//! mid-run leaves it behind; the next start closes it as an ABORTED record.

use std::path::PathBuf;

use super::paths::safe_component;
use super::store::RecordStore;
use super::{Outcome, Record, RecordError, atomic};

impl RecordStore {
    fn journal_dir(&self) -> PathBuf {
        self.dir().join(".station").join("journal")
    }

    fn journal_path(&self, key: &str) -> PathBuf {
        self.journal_dir()
            .join(format!("{}.json", safe_component(key)))
    }

    /// Hold the unit run `key` as live for as long as the returned lock lives, so that
    /// another process's start does not mistake it for an abandoned one.
    pub fn hold_journal(&self, key: &str) -> Result<std::fs::File, RecordError> {
        let dir = self.journal_dir();
        std::fs::create_dir_all(&dir).map_err(|e| RecordError::io(&dir, e))?;
        let path = self.journal_path(key).with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RecordError::io(&path, e))?;
        file.lock().map_err(|e| RecordError::io(&path, e))?;
        Ok(file)
    }

    /// Keep `record` as the provisional state of the unit run named `key`.
    pub fn write_journal(&self, key: &str, record: &Record) -> Result<(), RecordError> {
        let dir = self.journal_dir();
        std::fs::create_dir_all(&dir).map_err(|e| RecordError::io(&dir, e))?;
        let bytes =
            serde_json::to_vec_pretty(record).map_err(|e| RecordError::invalid(e.to_string()))?;
        atomic::replace(&self.journal_path(key), &bytes)
    }

    /// The unit run finished and its record is written.
    pub fn clear_journal(&self, key: &str) {
        let _ = std::fs::remove_file(self.journal_path(key));
        let _ = std::fs::remove_file(self.journal_path(key).with_extension("lock"));
    }

    /// Close every unit run a killed station left behind as an ABORTED record. Returns the
    /// records written; a journal that cannot be read is reported, not dropped.
    pub fn close_abandoned(&self) -> Result<Vec<PathBuf>, RecordError> {
        let dir = self.journal_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut written = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A run whose process is alive still holds its lock: leave it be.
            let lock_path = path.with_extension("lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path);
            match lock.map(|f| f.try_lock().map(|()| f)) {
                Ok(Ok(_held)) => {}
                _ => continue,
            }
            let bytes = std::fs::read(&path).map_err(|e| RecordError::io(&path, e))?;
            let mut record: Record =
                serde_json::from_slice(&bytes).map_err(|e| RecordError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            record.outcome = Outcome::Aborted;
            match self.write(&record) {
                Ok(path) => written.push(path),
                // The unit's record (it shares the journal's id) was written before the
                // station died: the unit is closed already.
                Err(RecordError::Exists { .. }) => {}
                Err(e) => return Err(e),
            }
            std::fs::remove_file(&path).map_err(|e| RecordError::io(&path, e))?;
            let _ = std::fs::remove_file(&lock_path);
        }
        Ok(written)
    }
}
