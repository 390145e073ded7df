//! Crash-safe file publication: temp file, fsync, rename, fsync directory.
//! After a crash either the old state or the complete new file is visible.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::RecordError;
use super::crash;

pub const TEMP_SUFFIX: &str = ".tmp";

/// Publishes `bytes` at `path`, refusing if `path` already exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    publish(path, bytes, false)
}

/// Publishes `bytes` at `path`, atomically replacing any old content.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    publish(path, bytes, true)
}

/// `<dir>/.<name>.tmp`: dot-prefixed so readers skip it.
pub fn temp_path(path: &Path) -> Result<PathBuf, RecordError> {
    let name = path
        .file_name()
        .ok_or_else(|| RecordError::io(path, "no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(TEMP_SUFFIX);
    Ok(path.with_file_name(temp_name))
}

/// Makes the directory entry durable (new files, renames).
pub fn sync_dir(dir: &Path) -> Result<(), RecordError> {
    File::open(dir)
        .and_then(|handle| crash::sync_all(&handle))
        .map_err(|err| RecordError::io(dir, err))
}

/// Creates `dir` inside `parent` if missing; a symlink is refused because
/// readers never follow one.
pub fn ensure_dir(dir: &Path, parent: &Path) -> Result<(), RecordError> {
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(dir).map_err(|e| RecordError::io(dir, e))?;
            if meta.is_dir() {
                Ok(())
            } else {
                Err(RecordError::io(dir, "exists but is not a real directory"))
            }
        }
        Err(err) => Err(RecordError::io(dir, err)),
    }
}

/// A new file written and fsynced under its temp name, not yet visible under its own.
/// `publish` renames it into place; dropping it unpublished leaves the temp file (the
/// chain may already name it, so start-up recovery can finish the rename).
pub struct Staged {
    temp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// Writes and fsyncs `bytes` as `path`'s temp file; refuses if `path` exists.
    pub fn new(path: &Path, bytes: &[u8]) -> Result<Staged, RecordError> {
        let temp = temp_path(path)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|err| match err.kind() {
                ErrorKind::AlreadyExists => RecordError::io(
                    &temp,
                    "temp file exists: another write in progress or left by a crash",
                ),
                _ => RecordError::io(&temp, err),
            })?;
        let staged = Staged {
            temp,
            path: path.to_path_buf(),
        };
        let result = refuse_existing(path).and_then(|()| fill(file, &staged.temp, bytes));
        if let Err(err) = result {
            staged.discard();
            return Err(err);
        }
        Ok(staged)
    }

    /// Removes the temp file: the write is abandoned.
    pub fn discard(self) {
        // Best effort: the temp name is dot-prefixed, so readers skip a leftover.
        let _ = fs::remove_file(&self.temp);
    }

    /// Renames the temp file into place and makes the new name durable.
    pub fn publish(self) -> Result<PathBuf, RecordError> {
        refuse_existing(&self.path)?;
        crash::rename(&self.temp, &self.path).map_err(|err| RecordError::io(&self.path, err))?;
        let dir = self
            .path
            .parent()
            .ok_or_else(|| RecordError::io(&self.path, "no parent directory"))?;
        sync_dir(dir)?;
        Ok(self.path)
    }
}

fn refuse_existing(path: &Path) -> Result<(), RecordError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(RecordError::Exists {
            path: path.to_path_buf(),
        }),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(RecordError::io(path, err)),
    }
}

fn fill(mut file: File, temp: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    crash::write_all(&mut file, bytes)
        .and_then(|()| crash::sync_all(&file))
        .map_err(|err| RecordError::io(temp, err))
}

fn publish(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), RecordError> {
    let dir = path
        .parent()
        .ok_or_else(|| RecordError::io(path, "no parent directory"))?;
    let temp = temp_path(path)?;
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        // create_new doubles as a lock against a second writer of the same id.
        options.create_new(true);
    }
    let file = options.open(&temp).map_err(|err| match err.kind() {
        ErrorKind::AlreadyExists => RecordError::io(
            &temp,
            "temp file exists: another write in progress or left by a crash",
        ),
        _ => RecordError::io(&temp, err),
    })?;
    let result = fill_and_rename(file, &temp, path, bytes, overwrite).and_then(|()| sync_dir(dir));
    if result.is_err() {
        // Best effort: after a successful rename the temp name is gone anyway.
        let _ = fs::remove_file(&temp);
    }
    result
}

fn fill_and_rename(
    file: File,
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    overwrite: bool,
) -> Result<(), RecordError> {
    if !overwrite {
        refuse_existing(path)?;
    }
    fill(file, temp, bytes)?;
    crash::rename(temp, path).map_err(|err| RecordError::io(path, err))
}
