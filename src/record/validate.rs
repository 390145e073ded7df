//! Checks a record must pass before it is written, so every file on disk
//! matches `docs/record.schema.json` and reads back.

use super::paths::is_plain_file_stem;
use super::{Record, RecordError, SCHEMA_VERSION};

impl Record {
    pub fn validate(&self) -> Result<(), RecordError> {
        problems(self).map_err(RecordError::invalid)
    }
}

fn problems(record: &Record) -> Result<(), String> {
    if record.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "schema_version {} but this station writes {SCHEMA_VERSION}",
            record.schema_version
        ));
    }
    if !is_plain_file_stem(&record.record_id) {
        return Err(format!(
            "record_id {:?} is not a plain file name",
            record.record_id
        ));
    }
    if record.started_at > record.ended_at {
        return Err(format!(
            "started_at {} is after ended_at {}",
            record.started_at, record.ended_at
        ));
    }
    let uids = record
        .uid
        .iter()
        .chain(record.device.iter().map(|d| &d.uid));
    for uid in uids {
        check_hex("uid", uid, 24)?;
    }
    check_hex("profile.sha256", &record.profile.sha256, 64)?;
    for image in &record.images {
        check_hex(&format!("image {:?} sha256", image.name), &image.sha256, 64)?;
    }
    check_numbers(record)
}

fn check_hex(what: &str, value: &str, len: usize) -> Result<(), String> {
    if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!("{what} {value:?} is not {len} hex chars"))
    }
}

/// JSON has no NaN or infinity; serde_json would write `null`, which then
/// fails to read back, so such a record would be lost later instead of now.
fn check_numbers(record: &Record) -> Result<(), String> {
    for step in &record.steps {
        for m in &step.measurements {
            let limits = m
                .limits
                .iter()
                .flat_map(|l| l.low.iter().chain(l.high.iter()));
            if !m.value.is_finite() || limits.clone().any(|v| !v.is_finite()) {
                return Err(format!(
                    "step {:?} measurement {:?} has a non-finite value or limit",
                    step.name, m.name
                ));
            }
        }
    }
    Ok(())
}
