//! `station check` on a scratch copy of the virtual bench with one thing broken: the copy,
//! and assertions that an error names the file, line, column and key.

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

pub const STATION: &str = "stations/virtual.toml";
pub const PROFILE: &str = "profiles/f407-demo.toml";

/// A copy of the virtual bench's station, profile and F407 images in a temporary directory,
/// laid out as in the repository so that the relative paths in the configs resolve.
pub struct Scratch {
    pub dir: TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("create a temporary directory");
        for (from, to) in [("stations", STATION), ("profiles", PROFILE)] {
            std::fs::create_dir_all(dir.path().join(from)).unwrap();
            std::fs::copy(repo.join(to), dir.path().join(to)).unwrap();
        }
        let images = dir.path().join("fixtures/f407");
        std::fs::create_dir_all(&images).unwrap();
        for entry in std::fs::read_dir(repo.join("fixtures/f407")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), images.join(entry.file_name())).unwrap();
            }
        }
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read_lossy(&self, rel: &str) -> String {
        String::from_utf8_lossy(&std::fs::read(self.path(rel)).unwrap()).into_owned()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replace the first `old` in a file with `new`, and return the new text. Fails the test if
    /// `old` is not there, so that a test cannot pass on an unchanged file.
    pub fn edit(&self, rel: &str, old: &str, new: &str) -> String {
        let text = self.read(rel);
        assert!(text.contains(old), "{rel} does not contain {old:?}");
        let edited = text.replacen(old, new, 1);
        assert_ne!(edited, text, "editing {rel} changed nothing");
        std::fs::write(self.path(rel), &edited).unwrap();
        edited
    }

    /// `station check --station stations/virtual.toml`, run from the scratch directory.
    pub fn check(&self) -> Output {
        self.check_station(STATION)
    }

    pub fn check_station(&self, station: &str) -> Output {
        super::station()
            .args(["check", "--station", station])
            .current_dir(self.dir.path())
            .output()
            .expect("run station")
    }
}

/// How a file name appears in messages: as given, relative to the scratch directory.
pub fn shown(rel: &str) -> String {
    Path::new(rel).display().to_string()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// Where `needle` first occurs after the first `anchor` (use "" for the file's start).
pub fn locate(text: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let from = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} not found"));
    let at = text[from..]
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found after {anchor:?}"))
        + from;
    line_col(text, at)
}

pub fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect()
}

/// Assert that `station check` failed with exit status 2 and reported an error at exactly
/// `file:line:col` for `key` whose message contains every one of `phrases`.
#[track_caller]
pub fn assert_error(
    out: &Output,
    file: &str,
    (line, column): (usize, usize),
    key: &str,
    phrases: &[&str],
) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit status 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains(": ok"),
        "a failed check printed ok:\n{stdout}"
    );
    let prefix = format!("error: {}:{line}:{column}: key `{key}`: ", shown(file));
    let Some(found) = stderr.lines().find(|l| l.starts_with(&prefix)) else {
        panic!("no error starting with {prefix:?} in:\n{stderr}");
    };
    for phrase in phrases {
        assert!(
            found.contains(phrase),
            "the error does not say {phrase:?}:\n{found}"
        );
    }
}

/// Assert how many errors were reported, so that one mistake is not reported several times.
#[track_caller]
pub fn assert_error_count(out: &Output, n: usize) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        error_lines(&stderr).len(),
        n,
        "expected {n} error(s):\n{stderr}"
    );
}
