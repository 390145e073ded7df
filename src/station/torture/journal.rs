//! The torture campaign's journal: every finished cut point, one JSON line each, so that an
//! interrupted campaign resumes where it stopped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::PointResult;
use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::record;

/// The journal of finished points, so that an interrupted campaign resumes where it stopped.
pub(super) fn journal_path(station: &Station, fixture: &Fixture, key: &str) -> PathBuf {
    station
        .records_dir
        .join(".station")
        .join("torture")
        .join(format!(
            "{}-{key}.jsonl",
            record::paths::safe_component(&fixture.id)
        ))
}

pub(super) fn read_journal(path: &PathBuf) -> Vec<PointResult> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line cut by a crash does not parse and is simply run again.
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Appends finished points to the journal. Every line is written at once (a killed process
/// loses none); the disk sync comes at most every `SYNC_EVERY`, as an fsync per point costs
/// more than the point itself: a power loss can only lose the last moments' points, which a
/// resumed campaign runs again.
pub(super) struct JournalWriter<'a> {
    file: std::fs::File,
    path: &'a Path,
    last_sync: Instant,
}

const SYNC_EVERY: Duration = Duration::from_millis(250);

impl<'a> JournalWriter<'a> {
    pub(super) fn new(file: std::fs::File, path: &'a Path) -> Self {
        Self {
            file,
            path,
            last_sync: Instant::now(),
        }
    }

    fn error(&self, e: std::io::Error) -> StationError {
        StationError::station(format!("{}: {e}", self.path.display()))
    }

    pub(super) fn append(&mut self, result: &PointResult) -> Result<(), StationError> {
        let mut line = serde_json::to_string(result).unwrap_or_default();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| self.error(e))?;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    pub(super) fn sync(&mut self) -> Result<(), StationError> {
        self.file.sync_data().map_err(|e| self.error(e))?;
        self.last_sync = Instant::now();
        Ok(())
    }
}
