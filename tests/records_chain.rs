//! Tamper evidence through the binary: records from a virtual-bench run, tampered with as an
//! attacker with file access (but not the station key) would, then `station verify-logs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

struct Bench {
    _tmp: tempfile::TempDir,
    records: PathBuf,
    keys: PathBuf,
}

impl Bench {
    /// A records directory holding `units` records from the virtual bench.
    fn new(units: u32) -> Bench {
        let tmp = tempfile::tempdir().unwrap();
        let bench = Bench {
            records: tmp.path().join("records"),
            keys: tmp.path().join("keys"),
            _tmp: tmp,
        };
        bench.run(units);
        bench
    }

    fn station(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_station"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("STATION_KEY_DIR", &self.keys)
            .args(args)
            .output()
            .unwrap()
    }

    fn run(&self, units: u32) {
        let records = self.records.to_str().unwrap();
        let units = units.to_string();
        let args = ["run", "--headless", "--station", "stations/virtual.toml"];
        let out = self.station(&[&args[..], &["--units", &units, "--records", records]].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    /// (exit code, stdout + stderr) of `verify-logs`, with `--head HEAD` if given.
    fn verify(&self, head: Option<&str>) -> (i32, String) {
        let mut args = vec!["verify-logs", "--records", self.records.to_str().unwrap()];
        args.extend(head.iter().flat_map(|head| ["--head", head]));
        let out = self.station(&args);
        (out.status.code().unwrap(), text(&out))
    }

    fn head(&self) -> String {
        let out = self.station(&["chain-head", "--records", self.records.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn chain(&self) -> PathBuf {
        self.records.join(".station/chain.jsonl")
    }

    fn lines(&self) -> Vec<String> {
        let text = fs::read_to_string(self.chain()).unwrap();
        text.lines().map(String::from).collect()
    }

    fn write_lines(&self, lines: &[String]) {
        fs::write(
            self.chain(),
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    /// The record path (relative) that chain line `index` names.
    fn path_at(&self, index: usize) -> String {
        let entry: serde_json::Value = serde_json::from_str(&self.lines()[index]).unwrap();
        entry["path"].as_str().unwrap().to_string()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn edit(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    let edited = text.replace("\"operator\": \"", "\"operator\": \"mallory-");
    assert_ne!(text, edited);
    fs::write(path, edited).unwrap();
}

#[test]
fn a_clean_run_verifies_and_exports_its_head() {
    let bench = Bench::new(4);
    let (code, out) = bench.verify(None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("4 records, 5 chain lines") && out.contains("clean"),
        "{out}"
    );
    let head = bench.head();
    assert!(head.starts_with("4:") && head.len() == 2 + 64, "{head}");
    assert!(bench.lines()[0].contains("\"kind\":\"genesis\""));
    // A later shift extends the chain; the old head still matches its entry.
    bench.run(2);
    let (code, out) = bench.verify(Some(&head));
    assert_eq!(code, 0, "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = bench.keys.join("virtual-bench.key");
        assert_eq!(
            fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn an_edited_record_is_named() {
    let bench = Bench::new(3);
    let victim = bench.path_at(2);
    edit(&bench.records.join(&victim));
    let (code, out) = bench.verify(None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("edited       {victim}")), "{out}");
}

/// The attacker edits a record and rebuilds every chain line so hashes and links agree,
/// but without the station key: once with a key of their own, once with plain SHA-256.
#[test]
fn an_edit_with_the_chain_recomputed_without_the_key_is_caught() {
    type Forge = fn(&[u8]) -> String;
    let forgers: [Forge; 2] = [
        |body| {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"mallory's own key").unwrap();
            mac.update(body);
            hex(&mac.finalize().into_bytes())
        },
        |body| hex(&Sha256::digest(body)),
    ];
    for forge in forgers {
        let bench = Bench::new(3);
        let victim = bench.path_at(2);
        let file = bench.records.join(&victim);
        let old_sha = hex(&Sha256::digest(fs::read(&file).unwrap()));
        edit(&file);
        let new_sha = hex(&Sha256::digest(fs::read(&file).unwrap()));
        let mut prev = "0".repeat(64);
        let mut forged = Vec::new();
        for line in bench.lines() {
            let cut = line.rfind(",\"mac\":\"").unwrap();
            let old_prev = serde_json::from_str::<serde_json::Value>(&line).unwrap()["prev"]
                .as_str()
                .unwrap()
                .to_string();
            let body = format!("{}}}", &line[..cut])
                .replace(&old_sha, &new_sha)
                .replace(
                    &format!("\"prev\":\"{old_prev}\""),
                    &format!("\"prev\":\"{prev}\""),
                );
            let mac = forge(body.as_bytes());
            forged.push(format!("{},\"mac\":\"{mac}\"}}", &body[..body.len() - 1]));
            prev = mac;
        }
        bench.write_lines(&forged);
        let (code, out) = bench.verify(None);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("MAC mismatch"), "{out}");
        assert!(out.contains(&victim), "{out}");
        assert!(
            !out.contains("edited "),
            "hashes agree, only the MACs give it away: {out}"
        );
    }
}

#[test]
fn deleting_the_newest_records_and_their_lines_is_caught_against_the_head() {
    let bench = Bench::new(5);
    let head = bench.head();
    let mut lines = bench.lines();
    for index in [5, 4] {
        fs::remove_file(bench.records.join(bench.path_at(index))).unwrap();
        lines.remove(index);
    }
    bench.write_lines(&lines);
    let (code, out) = bench.verify(None);
    assert_eq!(
        code, 0,
        "without the head a clean cut is undetectable: {out}"
    );
    let (code, out) = bench.verify(Some(&head));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("deleted-tail") && out.contains("ends at entry 3"),
        "{out}"
    );
}

#[test]
fn a_record_removed_from_the_middle_is_named() {
    let bench = Bench::new(4);
    let victim = bench.path_at(2);
    fs::remove_file(bench.records.join(&victim)).unwrap();
    let (code, out) = bench.verify(None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("removed      {victim}")), "{out}");
}

#[test]
fn reordered_or_deleted_chain_lines_are_caught() {
    let bench = Bench::new(4);
    let mut lines = bench.lines();
    lines.swap(2, 3);
    bench.write_lines(&lines);
    let (code, out) = bench.verify(None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("out of place"), "{out}");
    lines.swap(2, 3);
    bench.write_lines(&lines);
    let gone = bench.path_at(2);
    lines.remove(2);
    bench.write_lines(&lines);
    let (code, out) = bench.verify(None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("added        {gone}")), "{out}");
    assert!(out.contains("out of place"), "{out}");
}

#[test]
fn a_record_copied_in_is_named() {
    let bench = Bench::new(2);
    let source = bench.records.join(bench.path_at(1));
    let copy = source.with_file_name("20991231T000000000Z-0000000000.json");
    fs::copy(&source, &copy).unwrap();
    let (code, out) = bench.verify(None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("added") && out.contains("20991231T000000000Z"),
        "{out}"
    );
}

#[test]
fn a_missing_key_and_bad_arguments_have_their_own_exit_codes() {
    let bench = Bench::new(1);
    fs::remove_dir_all(&bench.keys).unwrap();
    let (code, out) = bench.verify(None);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("virtual-bench.key not found"), "{out}");
    let (code, out) = bench.verify(Some("12:not-a-mac"));
    assert_eq!(code, 2, "{out}");
    assert_eq!(bench.station(&["verify-logs"]).status.code(), Some(2));
    let missing = bench.station(&["verify-logs", "--records", "/nonexistent/records"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}
