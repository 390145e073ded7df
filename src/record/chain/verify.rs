//! `verify-logs`: recompute every MAC with the key, follow the links, and hold the chain
//! against the files on disk and, if given, the last exported head.

use std::fmt;
use std::fs;
use std::io::ErrorKind;

use serde::Serialize;

use super::chain_path;
use super::entry::{ChainHead, EntryKind, Line, decode};
use super::files;
use super::key::{self, key_path};
use super::walk::Walk;
use crate::record::RecordError;
use crate::record::history::record_paths;
use crate::record::store::RecordStore;

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A record's bytes differ from the hash its entry holds.
    Edited,
    /// A chained record's file is gone.
    Removed,
    /// A record file no entry names.
    Added,
    /// The chain vouches for a record whose rename a crash cut short.
    Unpublished,
    /// A line that is not a valid entry, a MAC mismatch, or a broken link.
    Chain,
    /// The chain ends in a torn line not yet sealed.
    Torn,
    /// The chain is shorter than, or differs from, the exported head.
    DeletedTail,
    /// Records but no chain at all.
    NoChain,
}

#[derive(Serialize, Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The record, relative to the records directory, when there is one to name.
    pub path: Option<String>,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = serde_json::to_value(self.kind).unwrap_or_default();
        let kind = kind.as_str().unwrap_or("problem");
        match &self.path {
            Some(path) => write!(f, "{kind:<12} {path}: {}", self.detail),
            None => write!(f, "{kind:<12} {}", self.detail),
        }
    }
}

#[derive(Serialize, Debug, Default)]
pub struct Verification {
    /// The station whose key MACs the chain.
    pub station: Option<String>,
    /// Chain lines read.
    pub entries: usize,
    /// Record files on disk.
    pub records: usize,
    pub head: Option<ChainHead>,
    pub problems: Vec<Problem>,
    /// Worth knowing, not tampering (a sealed crash, a readable key file).
    pub notices: Vec<String>,
}

impl RecordStore {
    /// Checks the chain and every record. `station` (from a station config) names the key
    /// when the genesis entry cannot; `head` is the last exported head. Errors only when the
    /// check cannot run (no key, unreadable files); tampering is in `problems`.
    pub fn verify_chain(
        &self,
        station: Option<&str>,
        head: Option<&ChainHead>,
    ) -> Result<Verification, RecordError> {
        let dir = self.dir();
        let chain = chain_path(dir);
        // The chain and the listing are taken together, so no write falls between them.
        let (bytes, on_disk) = {
            let _lock = super::lock(dir)?;
            let bytes = match fs::read(&chain) {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == ErrorKind::NotFound => Vec::new(),
                Err(err) => return Err(RecordError::io(&chain, err)),
            };
            (bytes, record_paths(dir)?)
        };
        let mut out = Verification {
            records: on_disk.len(),
            ..Verification::default()
        };
        if bytes.is_empty() {
            no_chain(&mut out, &on_disk, head);
            return Ok(out);
        }
        let (lines, torn) = split_lines(&bytes);
        let genesis = lines.first().and_then(|(_, line)| decode(line).ok());
        let owner = genesis
            .and_then(|line| line.entry.station)
            .or(station.map(String::from));
        let Some(owner) = owner else {
            let detail = "the first line is not a genesis entry, so the key is unknown (give \
                          --station)";
            out.problems.push(chain_problem(detail.into()));
            return Ok(out);
        };
        let key_dir = self.key_dir()?;
        let (owner, key) = match (key::load(&key_dir, &owner, dir), station) {
            // A genesis naming another station (edited, or the station renamed): the
            // config's key, if this machine has it, settles which.
            (Err(RecordError::KeyMissing { .. }), Some(asked)) if asked != owner => {
                (asked.to_string(), key::load(&key_dir, asked, dir)?)
            }
            (key, _) => (owner, key?),
        };
        if let Some(asked) = station.filter(|asked| *asked != owner) {
            out.notices.push(format!(
                "the chain was started by station {owner:?}, not {asked:?}: using its key"
            ));
        }
        out.notices
            .extend(key::mode_notice(&key_path(&key_dir, &owner)));
        let mut walk = Walk::new(&key);
        for (i, &(offset, line)) in lines.iter().enumerate() {
            walk.line(i, offset, line);
        }
        walk.finish();
        if let Some((offset, bytes)) = torn {
            let detail = format!(
                "the chain ends in a torn line at byte {offset} ({} bytes): a crash while \
                 appending, or tampering (the next record written seals it)",
                bytes.len()
            );
            out.problems.push(Problem {
                kind: ProblemKind::Torn,
                path: None,
                detail,
            });
        }
        out.station = Some(owner);
        out.entries = lines.len();
        files::check(dir, &walk.chained, &on_disk, &mut out.problems);
        if let Some(head) = head {
            files::check_head(head, &walk.macs, &mut out.problems);
        }
        out.head = walk.last.clone();
        out.problems.splice(0..0, walk.problems);
        out.notices.extend(walk.notices);
        Ok(out)
    }
}

pub(super) fn chain_problem(detail: String) -> Problem {
    Problem {
        kind: ProblemKind::Chain,
        path: None,
        detail,
    }
}

type Lines<'a> = Vec<(u64, &'a [u8])>;

/// Complete lines with their offsets, and the torn rest (bytes after the last newline).
fn split_lines(bytes: &[u8]) -> (Lines<'_>, Option<(u64, &[u8])>) {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            lines.push((start as u64, &bytes[start..i]));
            start = i + 1;
        }
    }
    let torn = (start < bytes.len()).then(|| (start as u64, &bytes[start..]));
    (lines, torn)
}

fn no_chain(
    out: &mut Verification,
    on_disk: &[(String, std::path::PathBuf)],
    head: Option<&ChainHead>,
) {
    if !on_disk.is_empty() {
        out.problems.push(Problem {
            kind: ProblemKind::NoChain,
            path: None,
            detail: format!(
                "no chain (.station/chain.jsonl): {} records are not protected; the chain starts \
                 with the next record written",
                on_disk.len()
            ),
        });
    }
    if let Some(head) = head {
        out.problems.push(Problem {
            kind: ProblemKind::DeletedTail,
            path: None,
            detail: format!("no chain, but the exported head is entry {}", head.seq),
        });
    }
}

/// Where a line is, for messages (the record path travels in `Problem::path`).
pub(super) fn describe(line_no: usize, line: &Line) -> String {
    let what = match line.entry.kind {
        EntryKind::Genesis => ", genesis",
        EntryKind::Torn => ", torn-line seal",
        EntryKind::Record => "",
    };
    format!("chain line {line_no} (entry {}{what})", line.entry.seq)
}
