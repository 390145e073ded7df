use std::fs;
use std::path::Path;

use super::fixtures::*;
use crate::record::*;

fn store() -> (tempfile::TempDir, RecordStore) {
    temp_store()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn write_then_read_back_is_identical() {
    let (_temp, store) = store();
    let record = full_record("SN-1", 0);
    let path = store.write(&record).unwrap();
    assert_eq!(
        path,
        store
            .dir()
            .join("SN-1")
            .join(format!("{}.json", record.record_id))
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with("}\n") && text.contains("\n  \"serial\""),
        "pretty with newline"
    );
    let history = store.history("SN-1").unwrap();
    assert_eq!(history.records, vec![(path, record)]);
    assert!(history.problems.is_empty());
}

#[test]
fn write_leaves_no_temp_file() {
    let (_temp, store) = store();
    let record = sample_record("SN-1", 0);
    store.write(&record).unwrap();
    assert_eq!(
        names_in(&store.dir().join("SN-1")),
        vec![format!("{}.json", record.record_id)]
    );
}

#[test]
fn existing_record_is_never_overwritten() {
    let (_temp, store) = store();
    let record = sample_record("SN-1", 0);
    let path = store.write(&record).unwrap();
    let mut changed = record.clone();
    changed.outcome = Outcome::Fail;
    let err = store.write(&changed).unwrap_err();
    assert!(
        matches!(&err, RecordError::Exists { path: p } if *p == path),
        "{err}"
    );
    assert!(err.to_string().contains(&record.record_id));
    assert_eq!(store.history("SN-1").unwrap().records[0].1, record);
    assert_eq!(
        names_in(path.parent().unwrap()).len(),
        1,
        "temp file removed"
    );
}

#[test]
fn invalid_records_are_refused() {
    let (_temp, store) = store();
    let good = sample_record("SN-1", 0);
    let mut bad_profile = good.clone();
    bad_profile.profile.sha256 = "abc".into();
    let mut nan = full_record("SN-1", 0);
    nan.steps[0].measurements[0].value = f64::NAN;
    let mut infinite_limit = full_record("SN-1", 0);
    infinite_limit.steps[0].measurements[0].limits = Some(Limits {
        low: None,
        high: Some(f64::INFINITY),
    });
    let cases = [
        Record {
            schema_version: SCHEMA_VERSION + 1,
            ..good.clone()
        },
        Record {
            ended_at: at(-1),
            ..good.clone()
        },
        Record {
            record_id: "../escape".into(),
            ..good.clone()
        },
        Record {
            record_id: String::new(),
            ..good.clone()
        },
        Record {
            uid: Some("xyz".into()),
            ..good.clone()
        },
        bad_profile,
        nan,
        infinite_limit,
    ];
    for record in cases {
        let err = store.write(&record).unwrap_err();
        assert!(matches!(err, RecordError::Invalid { .. }), "{err}");
    }
    assert!(store.all().unwrap().records.is_empty());
}

#[test]
fn hostile_serials_stay_inside_the_store() {
    let (temp, store) = store();
    let long = "x/".repeat(5000);
    let hostile = [
        "../../etc/passwd",
        "a/b",
        "\0",
        "..",
        ".",
        "",
        "ÿ/ü",
        "/abs",
        "C:\\x",
        &long,
    ];
    for (i, serial) in hostile.iter().enumerate() {
        let record = sample_record(serial, i as i64);
        let path = store.write(&record).unwrap();
        let unit_dir = path.parent().unwrap();
        assert_eq!(unit_dir.parent().unwrap(), store.dir(), "{serial:?}");
        let history = store.history(serial).unwrap();
        assert_eq!(history.records.len(), 1, "{serial:?}");
        assert_eq!(history.records[0].1.serial, *serial);
    }
    assert_eq!(store.all().unwrap().records.len(), hostile.len());
    assert_eq!(
        names_in(temp.path()),
        vec!["keys", "records"],
        "nothing escaped"
    );
}

#[test]
fn cleanup_removes_only_leftover_temp_files() {
    let (_temp, store) = store();
    let record = sample_record("SN-1", 0);
    let path = store.write(&record).unwrap();
    let unit_dir = path.parent().unwrap();
    fs::write(unit_dir.join(".x.json.tmp"), "{\"half").unwrap();
    store.next_unit_number("fx").unwrap();
    fs::write(store.dir().join(".station/.units-fx.json.tmp"), "").unwrap();
    assert_eq!(store.cleanup_temp_files().unwrap(), 2);
    assert_eq!(store.cleanup_temp_files().unwrap(), 0);
    assert!(path.exists());
    assert_eq!(store.next_unit_number("fx").unwrap(), 2);
}

#[test]
fn open_refuses_a_file() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("f");
    fs::write(&file, "").unwrap();
    assert!(RecordStore::open(&file).is_err());
}
