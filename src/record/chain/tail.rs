//! What a writer needs from the chain without reading all of it: the station that started it
//! (first line), the last complete entry, and any torn bytes after it.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use super::entry::{EntryKind, Line, decode};
use crate::record::RecordError;

const FIRST_CHUNK: u64 = 16 * 1024;

pub struct ChainState {
    /// The station whose key MACs the chain (from the genesis entry).
    pub station: String,
    pub last: Line,
    /// Bytes after the last newline: a crash cut an append short. (offset, bytes)
    pub torn: Option<(u64, Vec<u8>)>,
}

/// None when there is no chain yet (no file, or an empty one).
pub fn read_state(chain: &Path) -> Result<Option<ChainState>, RecordError> {
    let mut file = match File::open(chain) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(RecordError::io(chain, err)),
    };
    let len = file
        .metadata()
        .map_err(|err| RecordError::io(chain, err))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    let station = genesis_station(&mut file, chain)?;
    let (last_start, tail) = last_line(&mut file, len, chain)?;
    let newline = tail.iter().rposition(|&b| b == b'\n');
    let (line, torn) = match newline {
        Some(end) => (&tail[..end], &tail[end + 1..]),
        None => return Err(RecordError::corrupt(chain, "no complete line")),
    };
    let last = decode(line)
        .map_err(|why| RecordError::corrupt(chain, format!("last entry {why}; run verify-logs")))?;
    let torn_at = last_start + line.len() as u64 + 1;
    Ok(Some(ChainState {
        station,
        last,
        torn: (!torn.is_empty()).then(|| (torn_at, torn.to_vec())),
    }))
}

fn genesis_station(file: &mut File, chain: &Path) -> Result<String, RecordError> {
    let mut first = Vec::new();
    BufReader::new(&mut *file)
        .read_until(b'\n', &mut first)
        .map_err(|err| RecordError::io(chain, err))?;
    let line = first.strip_suffix(b"\n").unwrap_or(&first);
    let entry = decode(line)
        .map_err(|why| RecordError::corrupt(chain, format!("first line {why}")))?
        .entry;
    match (entry.kind, entry.station) {
        (EntryKind::Genesis, Some(station)) => Ok(station),
        _ => Err(RecordError::corrupt(
            chain,
            "the first line is not a genesis entry",
        )),
    }
}

/// The file from the start of its last complete line to the end: `(offset, bytes)`. Reads
/// backwards in growing chunks, so a long genesis line is handled too.
fn last_line(file: &mut File, len: u64, chain: &Path) -> Result<(u64, Vec<u8>), RecordError> {
    let mut chunk = FIRST_CHUNK;
    loop {
        let start = len.saturating_sub(chunk);
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.take(len - start).read_to_end(&mut bytes))
            .map_err(|err| RecordError::io(chain, err))?;
        // The last newline ends the last complete line; the one before it starts it.
        let end = bytes.iter().rposition(|&b| b == b'\n');
        let begin = end.and_then(|end| bytes[..end].iter().rposition(|&b| b == b'\n'));
        match begin {
            Some(begin) => return Ok((start + begin as u64 + 1, bytes[begin + 1..].to_vec())),
            None if start == 0 => return Ok((0, bytes)),
            None => chunk = chunk.saturating_mul(4),
        }
    }
}
