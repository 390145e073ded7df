//! Cross-process checks: the test binary re-runs itself as child processes.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::fixtures::{at, sample_record};
use crate::record::*;

const ROLE_VAR: &str = "STATION_RECORD_TEST_CHILD";
const HELPER: &str = "record::tests::child::child_process_helper";
/// Enough that the children overlap in time, so a missing lock shows.
const UNITS_PER_CHILD: u64 = 100;
const WRITES_PER_CHILD: u64 = 25;

/// Does nothing unless started by `spawn_child`.
#[test]
#[ignore = "helper run by the cross-process tests"]
fn child_process_helper() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let lines: Vec<String> = match role.split_once(':') {
        Some(("ids", _)) => (0..2000).map(|_| new_record_id(at(0))).collect(),
        Some(("units", dir)) => {
            let store = RecordStore::open(Path::new(dir)).unwrap();
            (0..UNITS_PER_CHILD)
                .map(|_| store.next_unit_number("fx").unwrap().to_string())
                .collect()
        }
        Some(("writes", dirs)) => {
            let (records, keys) = dirs.split_once('|').unwrap();
            let store = RecordStore::open(Path::new(records))
                .unwrap()
                .with_key_dir(Path::new(keys));
            (0..WRITES_PER_CHILD)
                .map(|i| {
                    let path = store.write(&sample_record("SHARED", i as i64)).unwrap();
                    path.display().to_string()
                })
                .collect()
        }
        _ => panic!("unknown role {role}"),
    };
    for line in lines {
        println!("CHILD:{line}");
    }
}

fn spawn_child(role: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            HELPER,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, role)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn child_lines(child: Child) -> Vec<String> {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed");
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .filter_map(|l| l.split_once("CHILD:"))
        .map(|(_, rest)| rest.to_string())
        .collect()
}

#[test]
fn record_ids_are_unique_across_processes() {
    let children: Vec<Child> = (0..4).map(|_| spawn_child("ids:")).collect();
    let mut ids: Vec<String> = children.into_iter().flat_map(child_lines).collect();
    ids.extend((0..2000).map(|_| new_record_id(at(0))));
    assert_eq!(ids.len(), 5 * 2000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
}

#[test]
fn unit_numbers_are_unique_across_processes() {
    let temp = tempfile::tempdir().unwrap();
    let role = format!("units:{}", temp.path().display());
    let children: Vec<Child> = (0..4).map(|_| spawn_child(&role)).collect();
    let mut numbers: Vec<u64> = children
        .into_iter()
        .flat_map(child_lines)
        .map(|n| n.parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=4 * UNITS_PER_CHILD).collect::<Vec<u64>>());
    let store = RecordStore::open(temp.path()).unwrap();
    assert_eq!(
        store.next_unit_number("fx").unwrap(),
        4 * UNITS_PER_CHILD + 1
    );
}

#[test]
fn chained_writes_from_several_processes_serialise() {
    let temp = tempfile::tempdir().unwrap();
    let (records, keys) = (temp.path().join("records"), temp.path().join("keys"));
    let role = format!("writes:{}|{}", records.display(), keys.display());
    let children: Vec<Child> = (0..4).map(|_| spawn_child(&role)).collect();
    let written: Vec<String> = children.into_iter().flat_map(child_lines).collect();
    assert_eq!(written.len(), 4 * WRITES_PER_CHILD as usize);
    let store = RecordStore::open(&records).unwrap().with_key_dir(&keys);
    let verification = store.verify_chain(None, None).unwrap();
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert_eq!(verification.entries, 1 + written.len());
}
