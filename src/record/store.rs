//! The records directory: `<dir>/<safe serial>/<record_id>.json`.

use std::fs;
use std::path::{Path, PathBuf};

use super::Record;
use super::atomic::{self, TEMP_SUFFIX};
use super::chain;
use super::paths::safe_component;

pub use super::RecordError;
pub use super::history::History;

/// Station bookkeeping lives here; the leading dot keeps it out of history.
pub(crate) const STATE_DIR: &str = ".station";

#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
    /// Where the station key lives; None means `chain::default_key_dir()`.
    key_dir: Option<PathBuf>,
}

impl RecordStore {
    /// Opens the records directory, creating it if missing.
    pub fn open(dir: &Path) -> Result<Self, RecordError> {
        fs::create_dir_all(dir).map_err(|err| RecordError::io(dir, err))?;
        if !fs::metadata(dir)
            .map_err(|err| RecordError::io(dir, err))?
            .is_dir()
        {
            return Err(RecordError::io(dir, "not a directory"));
        }
        Ok(RecordStore {
            dir: dir.to_path_buf(),
            key_dir: None,
        })
    }

    /// Keeps the station key in `key_dir` instead of the default location.
    pub fn with_key_dir(mut self, key_dir: &Path) -> Self {
        self.key_dir = Some(key_dir.to_path_buf());
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where this store looks for (and makes) the station key.
    pub fn key_dir(&self) -> Result<PathBuf, RecordError> {
        match &self.key_dir {
            Some(dir) => Ok(dir.clone()),
            None => chain::default_key_dir(),
        }
    }

    /// Whether a record of `station` can be written here now (the chain's key, the directory
    /// writable): checked before the first unit is touched, so that a unit is never
    /// provisioned and then left without its record.
    pub fn preflight(&self, station: &str) -> Result<(), RecordError> {
        chain::preflight(self, station)
    }

    /// Validates and durably writes a new record, and appends it to the chain; never
    /// overwrites one. The first write to a directory starts the chain (and makes the key).
    pub fn write(&self, record: &Record) -> Result<PathBuf, RecordError> {
        record.validate()?;
        let unit = safe_component(&record.serial);
        atomic::ensure_dir(&self.dir.join(&unit), &self.dir)?;
        let mut text = serde_json::to_string_pretty(record)
            .map_err(|err| RecordError::invalid(format!("cannot serialize: {err}")))?;
        text.push('\n');
        let rel = format!("{unit}/{}.json", record.record_id);
        chain::write_chained(self, &rel, text.as_bytes(), &record.station)
    }

    /// Write a file that belongs to a record (a torture campaign's per-point results) beside
    /// it, crash-safely, before the record that pins its hash. `suffix` is a plain extension.
    pub fn write_sidecar(
        &self,
        serial: &str,
        record_id: &str,
        suffix: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, RecordError> {
        // A plain extension, and never `json`: that would pass for a record.
        if suffix == "json"
            || suffix.is_empty()
            || !suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(RecordError::invalid(format!(
                "bad sidecar suffix {suffix:?}"
            )));
        }
        let _lock = chain::lock(&self.dir)?;
        let unit_dir = self.dir.join(safe_component(serial));
        atomic::ensure_dir(&unit_dir, &self.dir)?;
        let path = unit_dir.join(format!("{}.{suffix}", safe_component(record_id)));
        atomic::write_new(&path, bytes)?;
        Ok(path)
    }

    /// Finishes a record a crash left half-published (its chain entry written, its rename
    /// not), then removes `.*.tmp` files left by a killed run. Call it at start-up.
    pub fn cleanup_temp_files(&self) -> Result<usize, RecordError> {
        let _lock = chain::lock(&self.dir)?;
        chain::roll_forward(&self.dir)?;
        let mut removed = 0;
        for sub in real_subdirs(&self.dir)? {
            let entries = fs::read_dir(&sub).map_err(|err| RecordError::io(&sub, err))?;
            for entry in entries {
                let entry = entry.map_err(|err| RecordError::io(&sub, err))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
                if is_file && name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
                    let path = entry.path();
                    fs::remove_file(&path).map_err(|err| RecordError::io(&path, err))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Direct subdirectories, never through a symlink.
pub(crate) fn real_subdirs(dir: &Path) -> Result<Vec<PathBuf>, RecordError> {
    let entries = fs::read_dir(dir).map_err(|err| RecordError::io(dir, err))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| RecordError::io(dir, err))?;
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}
