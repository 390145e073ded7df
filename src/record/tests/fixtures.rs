use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::record::*;

/// A store at `<temp>/records` whose station key lives in `<temp>/keys`, never in the
/// user's config directory.
pub fn temp_store() -> (tempfile::TempDir, RecordStore) {
    let temp = tempfile::tempdir().unwrap();
    let store = RecordStore::open(&temp.path().join("records"))
        .unwrap()
        .with_key_dir(&temp.path().join("keys"));
    (temp, store)
}

pub const UID: &str = "0123456789abcdef01234567";

/// Millisecond timestamps, since records store millisecond precision.
pub fn at(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_790_000_000_000 + millis).expect("in range")
}

pub fn sample_record(serial: &str, started_ms: i64) -> Record {
    Record {
        schema_version: SCHEMA_VERSION,
        record_id: new_record_id(at(started_ms)),
        kind: RecordKind::Production,
        serial: serial.to_string(),
        label: None,
        uid: None,
        station: "st-01".into(),
        fixture: "fx-a".into(),
        operator: "anna".into(),
        station_version: "0.1.0".into(),
        profile: ProfileRef {
            name: "board-x".into(),
            revision: "3".into(),
            sha256: "a".repeat(64),
        },
        images: vec![],
        started_at: at(started_ms),
        ended_at: at(started_ms + 1500),
        outcome: Outcome::Pass,
        failure: None,
        steps: vec![],
        device: None,
        parent_record: None,
        mode: None,
        attempt: None,
        hardware: None,
    }
}

/// Every optional field filled, to exercise the whole format.
pub fn full_record(serial: &str, started_ms: i64) -> Record {
    let mut details = BTreeMap::new();
    details.insert(
        "option_bytes_before".into(),
        serde_json::json!("0xffeeaa55"),
    );
    details.insert("option_bytes_after".into(), serde_json::json!({"rdp": 1}));
    let limits = Limits {
        low: Some(3.2),
        high: Some(3.4),
    };
    Record {
        label: Some("LBL-0001".into()),
        uid: Some(UID.into()),
        images: vec![ImageRef {
            name: "boot-1.2.bin".into(),
            role: "bootloader".into(),
            sha256: "0f".repeat(32),
        }],
        outcome: Outcome::Fail,
        failure: Some("3V3 rail out of range".into()),
        steps: vec![StepRecord {
            name: "power".into(),
            outcome: Outcome::Fail,
            started_at: at(started_ms + 10),
            ended_at: at(started_ms + 900),
            measurements: vec![
                Measurement::new("vdd", 3.1, "V", Some(limits)),
                Measurement::new("idd", 0.012, "A", None),
            ],
            error: Some("vdd below 3.2 V".into()),
            details,
        }],
        device: Some(DeviceInfo {
            uid: UID.into(),
            idcode: 0x1000_6413,
            flash_size_kib: 512,
        }),
        ..sample_record(serial, started_ms)
    }
}
