//! RFC 4180 CSV, safe to open in a spreadsheet.

use std::io::{self, Write};

use super::{kind_name, time, uid};
use crate::record::Record;

pub const COLUMNS: [&str; 13] = [
    "record_id",
    "kind",
    "serial",
    "uid",
    "station",
    "fixture",
    "operator",
    "profile",
    "profile_sha256",
    "started_at",
    "ended_at",
    "outcome",
    "failure",
];

pub fn write(records: &[&Record], out: &mut dyn Write) -> io::Result<()> {
    line(out, COLUMNS.iter().map(|c| c.to_string()))?;
    for record in records {
        let row = [
            record.record_id.clone(),
            kind_name(record.kind).to_string(),
            record.serial.clone(),
            uid(record).to_string(),
            record.station.clone(),
            record.fixture.clone(),
            record.operator.clone(),
            record.profile.name.clone(),
            record.profile.sha256.clone(),
            time(record.started_at),
            time(record.ended_at),
            record.outcome.to_string(),
            record.failure.clone().unwrap_or_default(),
        ];
        line(out, row.into_iter())?;
    }
    Ok(())
}

fn line(out: &mut dyn Write, cells: impl Iterator<Item = String>) -> io::Result<()> {
    let cells: Vec<String> = cells.map(|c| cell(&c)).collect();
    write!(out, "{}\r\n", cells.join(","))
}

/// One field: a value a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first) gets a leading `'`; then RFC 4180 quoting where needed.
pub fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}
