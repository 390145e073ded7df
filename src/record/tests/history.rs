use std::fs;

use super::fixtures::*;
use crate::record::*;

fn store() -> (tempfile::TempDir, RecordStore) {
    temp_store()
}

fn started(history: &History) -> Vec<i64> {
    let base = at(0);
    let ms = |r: &Record| (r.started_at - base).num_milliseconds();
    history.records.iter().map(|(_, r)| ms(r)).collect()
}

#[test]
fn history_by_serial_is_newest_first() {
    let (_temp, store) = store();
    for ms in [2000, 0, 5000, 1000] {
        store.write(&sample_record("SN-1", ms)).unwrap();
    }
    store.write(&sample_record("SN-2", 9000)).unwrap();
    assert_eq!(
        started(&store.history("SN-1").unwrap()),
        vec![5000, 2000, 1000, 0]
    );
    assert_eq!(
        started(&store.all().unwrap()),
        vec![9000, 5000, 2000, 1000, 0]
    );
}

#[test]
fn same_start_time_orders_by_record_id() {
    let (_temp, store) = store();
    let a = sample_record("SN-1", 0);
    let b = Record {
        record_id: format!("{}x", a.record_id),
        ..a.clone()
    };
    store.write(&a).unwrap();
    store.write(&b).unwrap();
    let ids: Vec<String> = store
        .history("SN-1")
        .unwrap()
        .records
        .into_iter()
        .map(|(_, r)| r.record_id)
        .collect();
    assert_eq!(ids, vec![b.record_id, a.record_id]);
}

#[test]
fn history_finds_unit_by_uid_label_and_uid_serial() {
    let (_temp, store) = store();
    // First run had no label, so it is filed under the UID serial.
    let unlabelled = Record {
        uid: Some(UID.into()),
        ..sample_record(&serial_from_uid(UID), 0)
    };
    let labelled = full_record("SN-9", 1000);
    store.write(&unlabelled).unwrap();
    store.write(&labelled).unwrap();
    store.write(&sample_record("OTHER", 2000)).unwrap();
    let upper = UID.to_ascii_uppercase();
    let uid_serial = serial_from_uid(UID);
    let lower_serial = uid_serial.to_ascii_lowercase();
    for key in [
        UID,
        upper.as_str(),
        uid_serial.as_str(),
        lower_serial.as_str(),
    ] {
        assert_eq!(
            started(&store.history(key).unwrap()),
            vec![1000, 0],
            "{key}"
        );
    }
    assert_eq!(started(&store.history("LBL-0001").unwrap()), vec![1000]);
    assert_eq!(started(&store.history("SN-9").unwrap()), vec![1000]);
    assert!(store.history("nobody").unwrap().records.is_empty());
}

#[test]
fn temp_files_are_ignored_and_garbage_is_reported() {
    let (_temp, store) = store();
    let path = store.write(&sample_record("SN-1", 0)).unwrap();
    let unit_dir = path.parent().unwrap();
    fs::write(
        unit_dir.join(".20260101T000000000Z-aaaaaaaaaa.json.tmp"),
        "{\"schema_ver",
    )
    .unwrap();
    fs::write(unit_dir.join(".hidden.json"), "garbage").unwrap();
    fs::write(unit_dir.join("notes.txt"), "not a record").unwrap();
    let garbage = unit_dir.join("garbage.json");
    fs::write(&garbage, "{ not json").unwrap();
    let wrong_shape = unit_dir.join("shape.json");
    fs::write(&wrong_shape, "{\"serial\": 5}").unwrap();

    let history = store.history("SN-1").unwrap();
    assert_eq!(history.records.len(), 1);
    let mut problems: Vec<_> = history.problems.iter().map(|(p, _)| p.clone()).collect();
    problems.sort();
    assert_eq!(problems, vec![garbage, wrong_shape]);
    assert!(
        history
            .problems
            .iter()
            .all(|(_, why)| why.contains("not a valid record"))
    );
}

#[test]
fn walk_is_two_levels_and_skips_state_dir() {
    let (_temp, store) = store();
    store.next_unit_number("fx").unwrap();
    let path = store.write(&sample_record("SN-1", 0)).unwrap();
    let deeper = path.parent().unwrap().join("deeper");
    fs::create_dir(&deeper).unwrap();
    fs::copy(&path, deeper.join("copy.json")).unwrap();
    fs::copy(&path, store.dir().join("top.json")).unwrap();
    let all = store.all().unwrap();
    assert_eq!(all.records.len(), 1);
    assert!(all.problems.is_empty(), "{:?}", all.problems);
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed() {
    use std::os::unix::fs::symlink;
    let (_temp, store) = store();
    let (_outside, other) = temp_store();
    let path = other.write(&sample_record("SN-1", 0)).unwrap();
    symlink(path.parent().unwrap(), store.dir().join("SN-1")).unwrap();
    fs::create_dir(store.dir().join("SN-2")).unwrap();
    symlink(&path, store.dir().join("SN-2").join("link.json")).unwrap();
    let all = store.all().unwrap();
    assert!(all.records.is_empty() && all.problems.is_empty());
    // Writing through a planted symlink is refused rather than hidden.
    assert!(store.write(&sample_record("SN-1", 10)).is_err());
}
