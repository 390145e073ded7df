//! Reading records back: tolerant of junk, never follows symlinks.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::store::{RecordStore, real_subdirs};
use super::{Record, RecordError};

/// Far above any real record; stops a runaway file from eating memory.
const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Records newest first, plus files that could not be read and why.
#[derive(Debug, Default)]
pub struct History {
    pub records: Vec<(PathBuf, Record)>,
    pub problems: Vec<(PathBuf, String)>,
}

impl RecordStore {
    /// Records whose serial or label equals `serial_or_uid`, or whose uid
    /// equals it ignoring case (an optional "UID-" prefix is accepted).
    pub fn history(&self, serial_or_uid: &str) -> Result<History, RecordError> {
        self.collect(|record| matches_unit(record, serial_or_uid))
    }

    /// Every record in the store.
    pub fn all(&self) -> Result<History, RecordError> {
        self.collect(|_| true)
    }

    fn collect(&self, wanted: impl Fn(&Record) -> bool) -> Result<History, RecordError> {
        let mut history = History::default();
        for unit_dir in real_subdirs(self.dir())? {
            if is_hidden(&unit_dir) {
                continue;
            }
            let files = match record_files(&unit_dir) {
                Ok(files) => files,
                Err(reason) => {
                    history.problems.push((unit_dir, reason));
                    continue;
                }
            };
            for path in files {
                match read_record(&path) {
                    Ok(record) if wanted(&record) => history.records.push((path, record)),
                    Ok(_) => {}
                    Err(reason) => history.problems.push((path, reason)),
                }
            }
        }
        history.records.sort_by(|(_, a), (_, b)| {
            (b.started_at, &b.record_id).cmp(&(a.started_at, &a.record_id))
        });
        Ok(history)
    }
}

fn matches_unit(record: &Record, key: &str) -> bool {
    let uid_key = strip_uid_prefix(key);
    let uid_matches = |uid: &String| uid.eq_ignore_ascii_case(uid_key);
    record.serial == key
        || record.label.as_deref() == Some(key)
        || record.uid.as_ref().is_some_and(uid_matches)
        || record.device.as_ref().is_some_and(|d| uid_matches(&d.uid))
}

fn strip_uid_prefix(key: &str) -> &str {
    match key.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("UID-") => &key[4..],
        _ => key,
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// Every record file as (`<unit dir>/<file>`, full path), sorted: what the chain covers.
pub(crate) fn record_paths(dir: &Path) -> Result<Vec<(String, PathBuf)>, RecordError> {
    let mut out = Vec::new();
    for unit_dir in real_subdirs(dir)? {
        if is_hidden(&unit_dir) {
            continue;
        }
        let files = record_files(&unit_dir).map_err(|why| RecordError::io(&unit_dir, why))?;
        for path in files {
            let name = |p: &Path| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            };
            out.push((format!("{}/{}", name(&unit_dir), name(&path)), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Plain `*.json` files directly in `dir`; dot-files (temp files) skipped.
fn record_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|err| format!("cannot list: {err}"))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| format!("cannot list: {err}"))?;
        let path = entry.path();
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        let is_json = path.extension().is_some_and(|ext| ext == "json");
        if is_file && is_json && !is_hidden(&path) {
            files.push(path);
        }
    }
    Ok(files)
}

fn read_record(path: &Path) -> Result<Record, String> {
    let file = File::open(path).map_err(|err| format!("cannot open: {err}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read: {err}"))?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(format!("larger than {MAX_RECORD_BYTES} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|err| format!("not a valid record: {err}"))
}
