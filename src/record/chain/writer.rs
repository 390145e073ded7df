//! The single writer: under the chain lock, stage the record, append its entry (fsync), then
//! publish the record. A crash before the append leaves no record (and maybe a torn line,
//! sealed by the next writer); a crash after it leaves a temp file the chain vouches for,
//! renamed into place by the next writer or start-up.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::entry::{Entry, EntryKind, Line, Listed, NO_PREV, decode, encode};
use super::key::{self, Key};
use super::tail::{ChainState, read_state};
use super::{chain_path, resolve, sha256_hex};
use crate::record::atomic::{self, Staged, sync_dir, temp_path};
use crate::record::history::record_paths;
use crate::record::store::RecordStore;
use crate::record::{RecordError, crash};

/// Writes `bytes` as the new record `rel` (`<unit dir>/<record id>.json`) and chains it.
/// `station` names the key only when this write starts the chain.
pub fn write_chained(
    store: &RecordStore,
    rel: &str,
    bytes: &[u8],
    station: &str,
) -> Result<PathBuf, RecordError> {
    let dir = store.dir();
    let path = resolve(dir, rel).ok_or_else(|| RecordError::invalid(format!("bad path {rel}")))?;
    let _lock = super::lock(dir)?;
    let chain = chain_path(dir);
    let key_dir = store.key_dir()?;
    let (mut state, key) = match read_state(&chain)? {
        Some(state) => {
            let key = key::load(&key_dir, &state.station, dir)?;
            (state, key)
        }
        None => {
            let key = key::load_or_create(&key_dir, station, dir)?;
            (start(dir, &chain, station, &key)?, key)
        }
    };
    if let Some(torn) = state.torn.take() {
        state.last = seal(&chain, &state.last, torn, &key)?;
    }
    finish_publish(dir, &state.last)?;
    let staged = Staged::new(&path, bytes)?;
    let mut entry = Entry::new(state.last.entry.seq + 1, EntryKind::Record, &state.last.mac);
    entry.path = Some(rel.to_string());
    entry.sha256 = Some(sha256_hex(bytes));
    if let Err(err) = append(&chain, &entry, &key) {
        staged.discard();
        return Err(err);
    }
    staged.publish()
}

/// Everything a record's write needs, checked before a unit is touched: the chain readable,
/// its key here and outside the records directory (made now for a new chain, as the first
/// write would), and a file can be created and removed in the records directory.
pub fn preflight(store: &RecordStore, station: &str) -> Result<(), RecordError> {
    let dir = store.dir();
    let _lock = super::lock(dir)?;
    let key_dir = store.key_dir()?;
    match read_state(&chain_path(dir))? {
        Some(state) => key::load(&key_dir, &state.station, dir).map(drop)?,
        None => key::load_or_create(&key_dir, station, dir).map(drop)?,
    }
    let probe = dir.join(format!(".station-preflight-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|err| RecordError::io(&probe, err))
}

/// At start-up, under the lock: finish the rename of a record whose entry was appended just
/// before a crash. Needs no key: the chain names the file and its hash.
pub fn roll_forward(dir: &Path) -> Result<(), RecordError> {
    match read_state(&chain_path(dir)) {
        Ok(Some(state)) => finish_publish(dir, &state.last),
        // A damaged chain is verify-logs' to report; recovery just does nothing.
        Ok(None) | Err(RecordError::Corrupt { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// If `last` is a record whose file is missing but whose temp file has the chained hash,
/// rename the temp file into place.
fn finish_publish(dir: &Path, last: &Line) -> Result<(), RecordError> {
    let (Some(rel), Some(sha)) = (&last.entry.path, &last.entry.sha256) else {
        return Ok(());
    };
    let Some(path) = resolve(dir, rel) else {
        return Ok(());
    };
    if fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    let temp = temp_path(&path)?;
    match fs::read(&temp) {
        Ok(bytes) if sha256_hex(&bytes) == *sha => {
            crash::rename(&temp, &path).map_err(|err| RecordError::io(&path, err))?;
            sync_dir(path.parent().unwrap_or(dir))
        }
        Ok(_) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(RecordError::io(&temp, err)),
    }
}

/// Starts the chain: a genesis entry naming the station and every record already there.
fn start(dir: &Path, chain: &Path, station: &str, key: &Key) -> Result<ChainState, RecordError> {
    let mut records = Vec::new();
    for (rel, path) in record_paths(dir)? {
        let bytes = fs::read(&path).map_err(|err| RecordError::io(&path, err))?;
        let sha256 = sha256_hex(&bytes);
        records.push(Listed { path: rel, sha256 });
    }
    let mut entry = Entry::new(0, EntryKind::Genesis, NO_PREV);
    entry.station = Some(station.to_string());
    entry.records = Some(records);
    let (line, _) = encode(&entry, key)?;
    // Published whole (temp, fsync, rename), so the genesis line is never torn.
    atomic::replace(chain, &line)?;
    let last = decode(&line[..line.len() - 1]).map_err(|why| RecordError::corrupt(chain, why))?;
    Ok(ChainState {
        station: station.to_string(),
        last,
        torn: None,
    })
}

/// Ends a torn line with a newline and appends an entry saying where it was and what it
/// held, so the crash stays visible and the chain goes on from the last good entry.
fn seal(chain: &Path, last: &Line, torn: (u64, Vec<u8>), key: &Key) -> Result<Line, RecordError> {
    let (offset, bytes) = torn;
    let mut entry = Entry::new(last.entry.seq + 1, EntryKind::Torn, &last.mac);
    entry.offset = Some(offset);
    entry.len = Some(bytes.len() as u64);
    entry.sha256 = Some(sha256_hex(&bytes));
    let (line, _) = encode(&entry, key)?;
    let mut out = b"\n".to_vec();
    out.extend_from_slice(&line);
    write_synced(chain, &out)?;
    decode(&line[..line.len() - 1]).map_err(|why| RecordError::corrupt(chain, why))
}

fn append(chain: &Path, entry: &Entry, key: &Key) -> Result<(), RecordError> {
    let (line, _) = encode(entry, key)?;
    write_synced(chain, &line)
}

/// One append, then fsync, so an entry is durable before its record appears.
fn write_synced(chain: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    OpenOptions::new()
        .append(true)
        .open(chain)
        .and_then(|mut file| {
            crash::write_all(&mut file, bytes).and_then(|()| crash::sync_data(&file))
        })
        .map_err(|err| RecordError::io(chain, err))
}
