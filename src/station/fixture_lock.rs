//! One process at a time on a fixture. Every command that touches a unit (run and the TUI,
//! RMA and engineering commands, `dfu`, `torture`, `sim serve`) holds the fixture's lock file
//! (`<records>/.station/fixtures/<fixture>.lock`, an OS file lock the kernel drops when the
//! process dies); a second process is refused, with the holder the file names. Within one
//! process the lock is counted, so a run that holds its fixtures can open their units.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::record::paths::safe_component;

/// Lock files this process holds, with how many holders each has.
static HELD: Mutex<Option<HashMap<PathBuf, (usize, File)>>> = Mutex::new(None);

/// This process's hold on a fixture; released when the last holder drops it.
#[derive(Debug)]
pub struct FixtureLock {
    path: PathBuf,
}

/// Where a fixture's lock lives.
pub fn lock_path(records_dir: &Path, fixture: &str) -> PathBuf {
    records_dir
        .join(".station")
        .join("fixtures")
        .join(format!("{}.lock", safe_component(fixture)))
}

/// Hold `fixture` for this process, or say who holds it. `what` names this process's work
/// for whoever is refused next ("station run").
pub fn acquire(records_dir: &Path, fixture: &str, what: &str) -> Result<FixtureLock, String> {
    let path = lock_path(records_dir, fixture);
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    let held = held.get_or_insert_with(HashMap::new);
    if let Some((count, _)) = held.get_mut(&path) {
        *count += 1;
        return Ok(FixtureLock { path });
    }
    let dir = path.parent().unwrap_or(records_dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(format!(
            "fixture {fixture} is in use by another process ({}); wait for it to finish, or \
             stop it",
            if holder.is_empty() { "unnamed" } else { holder }
        ));
    }
    // Say who holds it; the lock, not the text, is what keeps others out.
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
        writeln!(file, "pid {}: {what}", std::process::id()).and_then(|()| file.flush())
    });
    held.insert(path.clone(), (1, file));
    Ok(FixtureLock { path })
}

impl Drop for FixtureLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(held) = held.as_mut() else { return };
        if let Some((count, _)) = held.get_mut(&self.path) {
            *count -= 1;
            if *count == 0 {
                // Closing the file releases the OS lock.
                held.remove(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_may_hold_a_fixture_twice_and_releases_it_with_the_last_hold() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "f-1", "test").unwrap();
        let second = acquire(dir.path(), "f-1", "test").unwrap();
        let path = lock_path(dir.path(), "f-1");
        let other = File::open(&path).unwrap();
        assert!(other.try_lock().is_err(), "held while two holds remain");
        drop(first);
        assert!(other.try_lock().is_err(), "held while one hold remains");
        drop(second);
        assert!(other.try_lock().is_ok(), "released with the last hold");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("pid {}: test", std::process::id())),
            "{text}"
        );
    }
}
