//! Walking the chain line by line: MACs, sequence numbers, links, and which files it names.

use std::collections::BTreeMap;

use super::entry::{ChainHead, EntryKind, NO_PREV, decode};
use super::key::Key;
use super::sha256_hex;
use super::verify::{Problem, ProblemKind, describe};

/// A line that is not an entry, waiting to see whether the next entry seals it as torn.
struct Pending {
    line_no: usize,
    offset: u64,
    len: u64,
    sha256: String,
    why: String,
}

pub struct Walk<'k> {
    key: &'k Key,
    expected_seq: u64,
    prev_mac: String,
    pending: Option<Pending>,
    /// Record path → (entry seq, sha256) for every record the chain names.
    pub chained: BTreeMap<String, (u64, String)>,
    /// Entry seq → MAC, to hold against an exported head.
    pub macs: BTreeMap<u64, String>,
    pub last: Option<ChainHead>,
    pub problems: Vec<Problem>,
    pub notices: Vec<String>,
}

impl<'k> Walk<'k> {
    pub fn new(key: &'k Key) -> Self {
        Walk {
            key,
            expected_seq: 0,
            prev_mac: NO_PREV.to_string(),
            pending: None,
            chained: BTreeMap::new(),
            macs: BTreeMap::new(),
            last: None,
            problems: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// Line `index` (0-based) of the chain, without its newline, at byte `offset`.
    pub fn line(&mut self, index: usize, offset: u64, bytes: &[u8]) {
        let line_no = index + 1;
        let line = match decode(bytes) {
            Ok(line) => line,
            Err(why) => {
                self.finish();
                self.pending = Some(Pending {
                    line_no,
                    offset,
                    len: bytes.len() as u64,
                    sha256: sha256_hex(bytes),
                    why,
                });
                return;
            }
        };
        let label = describe(line_no, &line);
        let entry = &line.entry;
        let path = entry.path.clone();
        if !line.mac_ok(self.key) {
            let detail = format!(
                "{label}: MAC mismatch (the entry was edited, or the chain rewritten without \
                 the station key)"
            );
            self.problem(path.clone(), detail);
        }
        if (index == 0) != (entry.kind == EntryKind::Genesis) {
            let detail = format!("{label}: a genesis entry must be the first line, and only it");
            self.problem(path.clone(), detail);
        }
        if entry.seq != self.expected_seq || entry.prev != self.prev_mac {
            let detail = format!(
                "{label}: out of place, entry {} should follow here (lines reordered, removed \
                 or inserted)",
                self.expected_seq
            );
            self.problem(path.clone(), detail);
        }
        let pending = self.pending.take();
        if entry.kind == EntryKind::Torn {
            let sealed = pending.as_ref().is_some_and(|p| {
                entry.offset == Some(p.offset)
                    && entry.len == Some(p.len)
                    && entry.sha256.as_ref() == Some(&p.sha256)
            });
            match pending {
                Some(p) if sealed => self.notices.push(format!(
                    "chain line {}: a torn append (a crash), sealed by entry {}; its record was \
                     never published",
                    p.line_no, entry.seq
                )),
                other => {
                    self.pending = other;
                    self.finish();
                    self.problem(None, format!("{label}: seals no torn line"));
                }
            }
        } else {
            self.pending = pending;
            self.finish();
        }
        match entry.kind {
            EntryKind::Genesis => {
                for listed in entry.records.iter().flatten() {
                    self.name(&listed.path, entry.seq, &listed.sha256);
                }
            }
            EntryKind::Record => match (&entry.path, &entry.sha256) {
                (Some(path), Some(sha)) => self.name(path, entry.seq, sha),
                _ => self.problem(None, format!("{label}: no path or sha256")),
            },
            EntryKind::Torn => {}
        }
        self.expected_seq = entry.seq.saturating_add(1);
        self.prev_mac = line.mac.clone();
        self.macs.insert(entry.seq, line.mac.clone());
        self.last = Some(line.head());
    }

    /// Reports a bad line no entry sealed.
    pub fn finish(&mut self) {
        if let Some(p) = self.pending.take() {
            let detail = format!("chain line {}: not a chain entry ({})", p.line_no, p.why);
            self.problem(None, detail);
        }
    }

    fn name(&mut self, path: &str, seq: u64, sha256: &str) {
        if let Some((first, _)) = self.chained.get(path) {
            let detail = format!("named by chain entry {first} and again by entry {seq}");
            self.problem(Some(path.to_string()), detail);
            return;
        }
        self.chained
            .insert(path.to_string(), (seq, sha256.to_string()));
    }

    fn problem(&mut self, path: Option<String>, detail: String) {
        self.problems.push(Problem {
            kind: ProblemKind::Chain,
            path,
            detail,
        });
    }
}
