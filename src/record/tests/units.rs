use std::fs;

use crate::record::*;

#[test]
fn unit_numbers_are_sequential_per_fixture_and_persisted() {
    let temp = tempfile::tempdir().unwrap();
    let store = RecordStore::open(temp.path()).unwrap();
    assert_eq!(store.next_unit_number("fx-a").unwrap(), 1);
    assert_eq!(store.next_unit_number("fx-a").unwrap(), 2);
    assert_eq!(store.next_unit_number("fx/b").unwrap(), 1);
    // A fresh store on the same dir stands in for a new process.
    let reopened = RecordStore::open(temp.path()).unwrap();
    assert_eq!(reopened.next_unit_number("fx-a").unwrap(), 3);
    assert_eq!(reopened.next_unit_number("fx/b").unwrap(), 2);
    let names: Vec<_> = fs::read_dir(temp.path().join(".station"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn corrupt_counter_is_an_error_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let store = RecordStore::open(temp.path()).unwrap();
    store.next_unit_number("fx").unwrap();
    let file = temp.path().join(".station/units-fx.json");
    fs::write(&file, "{\"fixture\": \"fx\", \"la").unwrap();
    let err = store.next_unit_number("fx").unwrap_err();
    assert!(
        matches!(&err, RecordError::Corrupt { path, .. } if *path == file),
        "{err}"
    );
    assert!(err.to_string().contains("units-fx.json"));
    fs::write(&file, "").unwrap();
    assert!(
        store.next_unit_number("fx").is_err(),
        "empty file is corrupt too"
    );
    fs::write(&file, "{\"fixture\": \"other\", \"last\": 4}").unwrap();
    assert!(store.next_unit_number("fx").is_err(), "wrong fixture");
}

#[test]
fn threads_never_share_a_unit_number() {
    let temp = tempfile::tempdir().unwrap();
    let store = RecordStore::open(temp.path()).unwrap();
    let mut numbers: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..10)
                        .map(|_| store.next_unit_number("fx").unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    numbers.sort();
    assert_eq!(numbers, (1..=80).collect::<Vec<u64>>());
}
