//! One CSV row, JSON line or JUnit test case per record: what `station export` writes.

mod csv;
mod junit;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Record, RecordKind};

pub use csv::{COLUMNS, cell};
pub use junit::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Junit,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "junit" => Ok(Format::Junit),
            _ => Err(format!("unknown format {text:?}: csv, jsonl or junit")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Junit => "junit",
        })
    }
}

/// Writes `records` in the order given (callers pass them oldest first).
pub fn write(records: &[&Record], format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => csv::write(records, out),
        Format::Jsonl => {
            for record in records {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Junit => junit::write(records, out),
    }
}

pub(crate) fn kind_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Production => "production",
        RecordKind::Torture => "torture",
        RecordKind::Rma => "rma",
        RecordKind::Clearance => "clearance",
        RecordKind::Golden => "golden",
        RecordKind::Engineering => "engineering",
    }
}

/// The records' own timestamp form.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The unit's UID, from the record or its device block.
pub(crate) fn uid(record: &Record) -> &str {
    let device = record.device.as_ref().map(|d| d.uid.as_str());
    record.uid.as_deref().or(device).unwrap_or("")
}
