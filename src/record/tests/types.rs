use std::collections::HashSet;
use std::sync::Mutex;

use super::fixtures::*;
use crate::record::*;

#[test]
fn json_round_trip_keeps_every_field() {
    let record = full_record("SN1", 0);
    let text = serde_json::to_string(&record).unwrap();
    let back: Record = serde_json::from_str(&text).unwrap();
    assert_eq!(back, record);
}

#[test]
fn wire_format_uses_documented_spellings() {
    let value = serde_json::to_value(full_record("SN1", 0)).unwrap();
    assert_eq!(value["kind"], "production");
    assert_eq!(value["outcome"], "FAIL");
    assert_eq!(value["device"]["idcode"], "0x10006413");
    assert_eq!(value["started_at"], "2026-09-21T14:13:20.000Z");
    assert!(value.get("details").is_none());
    let minimal = serde_json::to_value(sample_record("SN1", 0)).unwrap();
    for absent in ["label", "uid", "failure", "device"] {
        assert!(minimal.get(absent).is_none(), "{absent} should be skipped");
    }
}

#[test]
fn unknown_fields_from_newer_versions_are_tolerated() {
    let mut value = serde_json::to_value(sample_record("SN1", 0)).unwrap();
    value["added_later"] = serde_json::json!({"x": 1});
    assert!(serde_json::from_value::<Record>(value).is_ok());
}

#[test]
fn outcome_display_matches_serialization() {
    for outcome in [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Aborted,
    ] {
        let json = serde_json::to_string(&outcome).unwrap();
        assert_eq!(json, format!("\"{outcome}\""));
    }
}

#[test]
fn measurement_limits_are_inclusive_and_nan_fails() {
    let limits = Some(Limits {
        low: Some(1.0),
        high: Some(2.0),
    });
    assert!(Measurement::new("v", 1.0, "V", limits.clone()).passed);
    assert!(Measurement::new("v", 2.0, "V", limits.clone()).passed);
    assert!(!Measurement::new("v", 2.0001, "V", limits.clone()).passed);
    assert!(!Measurement::new("v", 0.9999, "V", limits).passed);
    let low_only = Some(Limits {
        low: Some(1.0),
        high: None,
    });
    assert!(Measurement::new("v", 1e9, "V", low_only).passed);
    assert!(!Measurement::new("v", f64::NAN, "V", None).passed);
    let nan_limit = Some(Limits {
        low: Some(f64::NAN),
        high: None,
    });
    assert!(!Measurement::new("v", 1.0, "V", nan_limit).passed);
}

#[test]
fn bad_idcode_is_an_error_not_a_panic() {
    let mut value = serde_json::to_value(full_record("SN1", 0)).unwrap();
    for bad in ["10006413", "0xZZ", "0x1000064130", ""] {
        value["device"]["idcode"] = serde_json::json!(bad);
        assert!(
            serde_json::from_value::<Record>(value.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn serial_from_uid_is_prefixed_upper_hex() {
    assert_eq!(serial_from_uid("0123abcd"), "UID-0123ABCD");
}

#[test]
fn record_ids_sort_by_time_and_are_file_safe() {
    let early = new_record_id(at(0));
    let late = new_record_id(at(1));
    assert!(early < late);
    assert_eq!(&early[..20], "20260921T141320000Z-");
    assert_eq!(early.len(), 30);
    assert_eq!(paths::safe_component(&early), early);
}

#[test]
fn record_ids_are_unique_across_threads() {
    let seen = Mutex::new(HashSet::new());
    let now = at(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let ids: Vec<String> = (0..5000).map(|_| new_record_id(now)).collect();
                seen.lock().unwrap().extend(ids);
            });
        }
    });
    assert_eq!(seen.lock().unwrap().len(), 8 * 5000);
}
