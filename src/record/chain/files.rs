//! The records on disk against what the chain names, and the chain against an exported head.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::entry::ChainHead;
use super::verify::{Problem, ProblemKind};
use super::{resolve, sha256_hex};
use crate::record::atomic::temp_path;

pub fn check(
    dir: &Path,
    chained: &BTreeMap<String, (u64, String)>,
    on_disk: &[(String, PathBuf)],
    problems: &mut Vec<Problem>,
) {
    let problem = |kind, rel: &str, detail: String| Problem {
        kind,
        path: Some(rel.to_string()),
        detail,
    };
    for (rel, (seq, sha)) in chained {
        let Some(path) = resolve(dir, rel) else {
            let detail = format!("entry {seq} names a path the station never writes");
            problems.push(problem(ProblemKind::Chain, rel, detail));
            continue;
        };
        let is_file = fs::symlink_metadata(&path).map(|meta| meta.is_file());
        let found = match is_file {
            Ok(true) => fs::read(&path).map(|bytes| sha256_hex(&bytes)),
            Ok(false) => Ok("not a regular file".into()),
            Err(err) => Err(err),
        };
        match found {
            Ok(actual) if actual == *sha => {}
            Ok(_) => problems.push(problem(
                ProblemKind::Edited,
                rel,
                format!("content differs from the sha256 in chain entry {seq}"),
            )),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                let temp = temp_path(&path).ok().and_then(|temp| fs::read(temp).ok());
                if temp.is_some_and(|bytes| sha256_hex(&bytes) == *sha) {
                    let detail = format!(
                        "chain entry {seq} names it but a crash cut its rename short (the \
                         next station start finishes it)"
                    );
                    problems.push(problem(ProblemKind::Unpublished, rel, detail));
                } else {
                    let detail = format!("missing, but chain entry {seq} names it");
                    problems.push(problem(ProblemKind::Removed, rel, detail));
                }
            }
            Err(err) => problems.push(problem(
                ProblemKind::Edited,
                rel,
                format!("unreadable: {err}"),
            )),
        }
    }
    for (rel, _) in on_disk {
        if !chained.contains_key(rel) {
            let detail = "in the records directory but in no chain entry".to_string();
            problems.push(problem(ProblemKind::Added, rel, detail));
        }
    }
}

pub fn check_head(head: &ChainHead, macs: &BTreeMap<u64, String>, problems: &mut Vec<Problem>) {
    let last = macs.keys().next_back().copied();
    let detail = match macs.get(&head.seq) {
        Some(mac) if *mac == head.mac => return,
        Some(_) => format!(
            "chain entry {} differs from the exported head {head}: the chain was rewritten from \
             there on",
            head.seq
        ),
        None => format!(
            "the chain ends at entry {} but the exported head is entry {}: the newest entries \
             (and the records they name) were deleted",
            last.map_or("-".into(), |seq| seq.to_string()),
            head.seq
        ),
    };
    problems.push(Problem {
        kind: ProblemKind::DeletedTail,
        path: None,
        detail,
    });
}
