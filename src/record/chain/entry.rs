//! One chain line: an entry's JSON with its MAC as the last field. The MAC covers the exact
//! bytes of the line without `,"mac":"…"`, so checking needs no canonical form.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::hex;
use super::key::Key;
use crate::record::{RecordError, timestamp};

const MAC_FIELD: &[u8] = b",\"mac\":\"";
const MAC_HEX: usize = 64;
/// `,"mac":"` + 64 hex digits + `"}`.
const SUFFIX_LEN: usize = MAC_FIELD.len() + MAC_HEX + 2;
/// The `prev` of the genesis entry.
pub const NO_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Seq 0: the station that started the chain and the records already there.
    Genesis,
    /// One record file.
    Record,
    /// Seals a torn line (a crash mid-append) found by the next writer.
    Torn,
}

/// A record file present when the chain started.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: String,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub kind: EntryKind,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Listed>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub prev: String,
}

impl Entry {
    pub fn new(seq: u64, kind: EntryKind, prev: &str) -> Entry {
        Entry {
            seq,
            kind,
            at: Utc::now(),
            station: None,
            records: None,
            path: None,
            offset: None,
            len: None,
            sha256: None,
            prev: prev.to_string(),
        }
    }
}

/// A decoded line: the entry, its MAC as written, and the bytes the MAC covers.
#[derive(Debug, Clone)]
pub struct Line {
    pub entry: Entry,
    pub mac: String,
    body: Vec<u8>,
}

impl Line {
    /// Whether the MAC is the station key's (compared in constant time).
    pub fn mac_ok(&self, key: &Key) -> bool {
        let mut bytes = [0u8; MAC_HEX / 2];
        for (i, byte) in bytes.iter_mut().enumerate() {
            match u8::from_str_radix(&self.mac[2 * i..2 * i + 2], 16) {
                Ok(value) => *byte = value,
                Err(_) => return false,
            }
        }
        mac_of(key, &self.body).is_some_and(|mac| mac.verify_slice(&bytes).is_ok())
    }

    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.entry.seq,
            mac: self.mac.clone(),
        }
    }
}

/// The line for `entry` (ending in a newline) and its MAC.
pub fn encode(entry: &Entry, key: &Key) -> Result<(Vec<u8>, String), RecordError> {
    let mut body = serde_json::to_vec(entry)
        .map_err(|err| RecordError::invalid(format!("cannot serialize a chain entry: {err}")))?;
    let mac = mac_of(key, &body)
        .ok_or_else(|| RecordError::invalid("the station key cannot key HMAC-SHA256"))?;
    let mac = hex(&mac.finalize().into_bytes());
    body.pop(); // the closing brace, put back after the MAC
    body.extend_from_slice(MAC_FIELD);
    body.extend_from_slice(mac.as_bytes());
    body.extend_from_slice(b"\"}\n");
    Ok((body, mac))
}

/// Parses a line (without its newline); says what is wrong in plain words.
pub fn decode(line: &[u8]) -> Result<Line, String> {
    let split = line
        .len()
        .checked_sub(SUFFIX_LEN)
        .filter(|&at| line[at..].starts_with(MAC_FIELD) && line.ends_with(b"\"}"))
        .ok_or("does not end in a \"mac\" field")?;
    let mac = &line[split + MAC_FIELD.len()..line.len() - 2];
    if !mac
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err("the mac is not 64 lower-case hex digits".into());
    }
    let mut body = line[..split].to_vec();
    body.push(b'}');
    let entry: Entry =
        serde_json::from_slice(&body).map_err(|err| format!("not a chain entry: {err}"))?;
    Ok(Line {
        entry,
        mac: String::from_utf8_lossy(mac).into_owned(),
        body,
    })
}

/// HMAC takes a key of any length, so this is always Some.
fn mac_of(key: &Key, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).ok()?;
    mac.update(body);
    Some(mac)
}

/// The chain's last entry, `SEQ:MAC`: exported at the end of a shift so that deleting the
/// newest records (and their chain lines) is caught later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub seq: u64,
    pub mac: String,
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.mac)
    }
}

impl FromStr for ChainHead {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{text:?} is not a chain head (SEQ:MAC, as `station chain-head` prints)");
        let (seq, mac) = text.trim().split_once(':').ok_or_else(bad)?;
        let seq = seq.parse().map_err(|_| bad())?;
        let mac = mac.to_ascii_lowercase();
        if mac.len() != MAC_HEX || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(ChainHead { seq, mac })
    }
}
