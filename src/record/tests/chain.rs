//! The chain from the library side: crash leftovers, keys, concurrent writers.

use std::fs::{self, OpenOptions};
use std::io::Write;

use super::fixtures::*;
use crate::record::chain::{ProblemKind, chain_path};
use crate::record::*;

fn kinds(store: &RecordStore) -> Vec<ProblemKind> {
    let verification = store.verify_chain(None, None).unwrap();
    verification.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn records_written_before_the_chain_are_listed_in_its_genesis() {
    let (temp, store) = temp_store();
    let old = store.dir().join("OLD");
    fs::create_dir(&old).unwrap();
    let text = serde_json::to_string_pretty(&sample_record("OLD", 0)).unwrap();
    fs::write(old.join("legacy.json"), text).unwrap();
    assert_eq!(kinds(&store), vec![ProblemKind::NoChain]);
    store.write(&sample_record("SN-1", 1)).unwrap();
    let verification = store.verify_chain(None, None).unwrap();
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert_eq!((verification.entries, verification.records), (2, 2));
    let chain = fs::read_to_string(chain_path(store.dir())).unwrap();
    assert!(
        chain
            .lines()
            .next()
            .unwrap()
            .contains("\"path\":\"OLD/legacy.json\"")
    );
    let key = temp.path().join("keys/st-01.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(fs::read_to_string(key).unwrap().trim().len(), 64);
}

#[test]
fn a_torn_last_line_is_reported_then_sealed_by_the_next_write() {
    let (_temp, store) = temp_store();
    store.write(&sample_record("SN-1", 0)).unwrap();
    let chain = chain_path(store.dir());
    let mut file = OpenOptions::new().append(true).open(&chain).unwrap();
    file.write_all(b"{\"seq\":2,\"kind\":\"rec").unwrap();
    assert_eq!(kinds(&store), vec![ProblemKind::Torn]);
    store.write(&sample_record("SN-1", 1)).unwrap();
    let verification = store.verify_chain(None, None).unwrap();
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert!(
        verification.notices[0].contains("torn"),
        "{:?}",
        verification.notices
    );
    assert_eq!(verification.head.unwrap().seq, 3);
}

#[test]
fn a_record_whose_rename_was_cut_short_is_finished_at_start_up() {
    let (_temp, store) = temp_store();
    let record = sample_record("SN-1", 0);
    let path = store.write(&record).unwrap();
    let temp = path.with_file_name(format!(".{}.json.tmp", record.record_id));
    fs::rename(&path, &temp).unwrap();
    assert_eq!(kinds(&store), vec![ProblemKind::Unpublished]);
    assert_eq!(store.cleanup_temp_files().unwrap(), 0);
    assert!(path.exists() && !temp.exists());
    assert!(kinds(&store).is_empty());
}

#[test]
fn the_key_must_be_outside_the_records_and_present_once_chained() {
    let (temp, store) = temp_store();
    let inside = store.clone().with_key_dir(&store.dir().join("keys"));
    let err = inside.write(&sample_record("SN-1", 0)).unwrap_err();
    assert!(
        err.to_string().contains("inside the records directory"),
        "{err}"
    );
    store.write(&sample_record("SN-1", 1)).unwrap();
    let elsewhere = store.clone().with_key_dir(&temp.path().join("other-keys"));
    for err in [
        elsewhere.write(&sample_record("SN-1", 2)).unwrap_err(),
        elsewhere.verify_chain(None, None).unwrap_err(),
    ] {
        assert!(matches!(err, RecordError::KeyMissing { .. }), "{err}");
        assert!(err.to_string().contains("st-01.key"), "{err}");
    }
}

#[test]
fn a_rewritten_chain_line_and_an_exported_head_are_checked() {
    let (_temp, store) = temp_store();
    for i in 0..3 {
        store.write(&sample_record("SN-1", i)).unwrap();
    }
    let head = store.chain_head().unwrap().unwrap();
    assert_eq!(head.seq, 3);
    assert_eq!(head.to_string().parse::<chain::ChainHead>().unwrap(), head);
    let clean = store.verify_chain(None, Some(&head)).unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    let chain = chain_path(store.dir());
    let text = fs::read_to_string(&chain).unwrap();
    let kept: Vec<&str> = text.lines().take(3).collect();
    fs::write(&chain, format!("{}\n", kept.join("\n"))).unwrap();
    let cut = store.verify_chain(None, Some(&head)).unwrap();
    let kinds: Vec<ProblemKind> = cut.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, vec![ProblemKind::Added, ProblemKind::DeletedTail]);
}

#[test]
fn a_genesis_edited_to_name_another_station_is_caught_given_the_config() {
    let (_temp, store) = temp_store();
    store.write(&sample_record("SN-1", 0)).unwrap();
    let chain = chain_path(store.dir());
    let text = fs::read_to_string(&chain).unwrap();
    fs::write(
        &chain,
        text.replace("\"station\":\"st-01\"", "\"station\":\"evil\""),
    )
    .unwrap();
    let err = store.verify_chain(None, None).unwrap_err();
    assert!(err.to_string().contains("evil.key"), "{err}");
    let verification = store.verify_chain(Some("st-01"), None).unwrap();
    let problems: Vec<String> = verification
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("chain line 1 (entry 0, genesis): MAC mismatch"));
}
