//! `station stats` and `station export` through the binary, over records from a real run and
//! records written straight through `RecordStore::write` (to get failures and hostile serials).

use std::path::PathBuf;
use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use station::record::{
    Outcome, ProfileRef, Record, RecordKind, RecordStore, SCHEMA_VERSION, StepRecord, new_record_id,
};

struct Dir {
    _tmp: tempfile::TempDir,
    records: PathBuf,
    keys: PathBuf,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        Dir {
            records: tmp.path().join("records"),
            keys: tmp.path().join("keys"),
            _tmp: tmp,
        }
    }

    fn store(&self) -> RecordStore {
        RecordStore::open(&self.records)
            .unwrap()
            .with_key_dir(&self.keys)
    }

    fn station(&self, args: &[&str]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_station"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("STATION_KEY_DIR", &self.keys)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        out
    }

    /// `station CMD --records DIR ARGS...`, stdout as text.
    fn on_records(&self, cmd: &str, args: &[&str]) -> String {
        let records = self.records.to_str().unwrap();
        let out = self.station(&[&[cmd, "--records", records][..], args].concat());
        String::from_utf8(out.stdout).unwrap()
    }

    fn stats(&self, args: &[&str]) -> Value {
        let text = self.on_records("stats", &[&["--json"][..], args].concat());
        serde_json::from_str(&text).unwrap()
    }
}

fn t0() -> DateTime<Utc> {
    "2026-01-05T08:00:00Z".parse().unwrap()
}

/// A production record `minutes` after t0; `failed` names the failing step and the reason.
fn record(serial: &str, uid: Option<&str>, minutes: i64, failed: Option<(&str, &str)>) -> Record {
    let started_at = t0() + Duration::minutes(minutes);
    let ended_at = started_at + Duration::milliseconds(1500);
    let step = |name: &str, outcome| StepRecord {
        name: name.into(),
        outcome,
        started_at,
        ended_at,
        measurements: vec![],
        error: None,
        details: Default::default(),
    };
    let (outcome, steps) = match failed {
        None => (Outcome::Pass, vec![step("flash", Outcome::Pass)]),
        Some((name, _)) => (
            Outcome::Fail,
            vec![step("probe", Outcome::Pass), step(name, Outcome::Fail)],
        ),
    };
    Record {
        schema_version: SCHEMA_VERSION,
        record_id: new_record_id(started_at),
        kind: RecordKind::Production,
        serial: serial.into(),
        label: None,
        uid: uid.map(String::from),
        station: "line-3".into(),
        fixture: "fx-a".into(),
        operator: "anna".into(),
        station_version: "0.1.0".into(),
        profile: ProfileRef {
            name: "board-x".into(),
            revision: "3".into(),
            sha256: "ab".repeat(32),
        },
        images: vec![],
        started_at,
        ended_at,
        outcome,
        failure: failed.map(|(_, why)| why.to_string()),
        steps,
        device: None,
        parent_record: None,
        mode: None,
        attempt: None,
        hardware: None,
    }
}

const HYPERLINK: &str = "=HYPERLINK(\"http://x\")";

/// Four units: A passes; B fails then passes; C fails twice; the hostile one passes on
/// fixture fx-b. Plus a station error (no unit) and a torture record (not production).
fn write_mixed(store: &RecordStore) {
    let uid = |c: char| c.to_string().repeat(24);
    let mut records = vec![
        record("A", Some(&uid('a')), 0, None),
        record(
            "B",
            Some(&uid('b')),
            10,
            Some(("flash", "verify mismatch at 0x08004000")),
        ),
        record("B", Some(&uid('B')), 20, None),
        record(
            "C",
            Some(&uid('c')),
            30,
            Some(("flash", "verify mismatch at 0x08004100")),
        ),
        record(
            "C",
            Some(&uid('c')),
            40,
            Some(("power", "3V3 rail at 2.91 V")),
        ),
        record(HYPERLINK, None, 60, None),
    ];
    records[5].fixture = "fx-b".into();
    let mut error = record("fx-b-unit-9", None, 50, None);
    (error.outcome, error.failure) = (Outcome::Error, Some("fixture fx-b: probe 17 gone".into()));
    error.fixture = "fx-b".into();
    let mut torture = record("T", None, 5, None);
    torture.kind = RecordKind::Torture;
    records.extend([error, torture]);
    for record in &records {
        store.write(record).unwrap();
    }
}

#[test]
fn stats_give_yields_rate_reasons_fixtures_and_the_head() {
    let dir = Dir::new();
    write_mixed(&dir.store());
    let stats = dir.stats(&[]);
    assert_eq!(stats["records"], 8);
    assert_eq!(stats["production_records"], 7);
    assert_eq!(
        stats["units"], 4,
        "A, B (either case of UID), C, the hostile one"
    );
    assert_eq!(
        (stats["first_pass"].clone(), stats["final_pass"].clone()),
        (2.into(), 3.into())
    );
    assert_eq!(stats["first_pass_yield"], 0.5);
    assert_eq!(stats["final_yield"], 0.75);
    assert_eq!(stats["station_errors"], 1);
    let uph = stats["units_per_hour"].as_f64().unwrap();
    assert!((uph - 4.0 / (3601.5 / 3600.0)).abs() < 1e-9, "{uph}");
    let reasons = stats["failure_reasons"].as_array().unwrap();
    let first = &reasons[0];
    assert_eq!(
        (first["step"].as_str(), first["reason"].as_str()),
        (Some("flash"), Some("verify mismatch at #"))
    );
    assert_eq!(first["count"], 2);
    let texts: Vec<&str> = reasons
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"# rail at #.# V"), "{texts:?}");
    assert!(texts.contains(&"fixture fx-b: probe # gone"), "{texts:?}");
    let fixtures = stats["fixtures"].as_array().unwrap();
    let cycles: Vec<(&str, u64)> = fixtures
        .iter()
        .map(|f| {
            (
                f["fixture"].as_str().unwrap(),
                f["cycles"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cycles, vec![("fx-a", 6), ("fx-b", 2)]);
    let head = dir.on_records("chain-head", &[]);
    let shown = &stats["chain_head"];
    assert_eq!(
        format!("{}:{}", shown["seq"], shown["mac"].as_str().unwrap()),
        head.trim()
    );
    let text = dir.on_records("stats", &[]);
    assert!(
        text.contains("first-pass yield   50.0 % (2 of 4)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("chain head         {}", head.trim())),
        "{text}"
    );
}

#[test]
fn since_limits_stats_and_export() {
    let dir = Dir::new();
    write_mixed(&dir.store());
    let stats = dir.stats(&["--since", "2026-01-05T08:25:00Z"]);
    assert_eq!(stats["records"], 4);
    assert_eq!(stats["units"], 2, "C and the hostile one");
    assert_eq!(dir.stats(&["--since", "2026-01-06"])["records"], 0);
    let csv = dir.on_records(
        "export",
        &["--format", "csv", "--since", "2026-01-05T08:45:00Z"],
    );
    assert_eq!(
        csv.lines().count(),
        3,
        "header, the error, the hostile one:\n{csv}"
    );
}

#[test]
fn stats_over_a_virtual_bench_run() {
    let dir = Dir::new();
    let records = dir.records.to_str().unwrap();
    let run = [
        "run",
        "--headless",
        "--station",
        "stations/virtual.toml",
        "--units",
        "3",
    ];
    dir.station(&[&run[..], &["--records", records]].concat());
    let stats = dir.stats(&[]);
    assert_eq!(
        (stats["units"].clone(), stats["first_pass_yield"].clone()),
        (3.into(), 1.0.into())
    );
    let lifetime: u64 = stats["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["lifetime_units"].as_u64().unwrap())
        .sum();
    assert_eq!(lifetime, 3);
    assert_eq!(stats["chain_head"]["seq"], 3);
}

/// Splits RFC 4180 text into rows of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CRLF line ends"),
            (false, c) => field.push(c),
        }
        if !quoted && c == '\r' {
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
        }
    }
    rows
}

const HOSTILE: [&str; 7] = [
    HYPERLINK,
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "<b a='1'>&amp;\u{1}",
];

fn write_hostile(dir: &Dir) {
    let store = dir.store();
    for (i, serial) in HOSTILE.iter().enumerate() {
        let failed = Some(("flash", "-1 V, then \"brownout\"\nretry"));
        let mut record = record(
            serial,
            None,
            i as i64,
            if i % 2 == 0 { failed } else { None },
        );
        record.operator = "=cmd|' /C calc'!A0".into();
        store.write(&record).unwrap();
    }
}

#[test]
fn csv_export_is_rfc_4180_and_safe_from_formula_injection() {
    let dir = Dir::new();
    write_hostile(&dir);
    let out = dir.records.parent().unwrap().join("out.csv");
    dir.on_records("export", &["--format", "csv", "-o", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
    let rows = parse_csv(&text);
    let header = "record_id,kind,serial,uid,station,fixture,operator,profile,profile_sha256,\
                  started_at,ended_at,outcome,failure";
    assert_eq!(rows[0].join(","), header);
    assert_eq!(rows.len(), 1 + HOSTILE.len());
    for (row, serial) in rows[1..].iter().zip(HOSTILE) {
        assert_eq!(row.len(), 13);
        let guarded = serial.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let expected = if guarded {
            format!("'{serial}")
        } else {
            serial.to_string()
        };
        assert_eq!(row[2], expected);
        assert_eq!(row[6], "'=cmd|' /C calc'!A0");
        assert_eq!(row[1], "production");
        assert!(row[9].ends_with('Z') && row[9] < row[10]);
        if row[11] == "FAIL" {
            assert_eq!(row[12], "'-1 V, then \"brownout\"\nretry");
        }
    }
}

#[test]
fn jsonl_export_is_one_record_per_line_oldest_first() {
    let dir = Dir::new();
    write_hostile(&dir);
    let text = dir.on_records("export", &["--format", "jsonl"]);
    let serials: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<Record>(line).unwrap().serial)
        .collect();
    assert_eq!(serials, HOSTILE);
}

#[test]
fn junit_export_is_well_formed_and_escaped() {
    let dir = Dir::new();
    write_hostile(&dir);
    let xml = dir.on_records("export", &["--format", "junit"]);
    assert_eq!(check_xml(&xml), HOSTILE.len(), "{xml}");
    assert!(xml.contains("=HYPERLINK(&quot;http://x&quot;)"), "{xml}");
    assert!(
        xml.contains("&lt;b a=&apos;1&apos;&gt;&amp;amp;\u{FFFD}"),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"-1 V, then &quot;brownout&quot;&#10;retry\""),
        "{xml}"
    );
    assert!(
        xml.contains("tests=\"7\" failures=\"4\" errors=\"0\""),
        "{xml}"
    );
}

/// A small well-formedness check (nesting, quoted attributes, entities, no raw control
/// characters); returns the number of testcase elements.
fn check_xml(xml: &str) -> usize {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap();
    assert!(
        !body
            .chars()
            .any(|c| (c as u32) < 0x20 && !"\n\t\r".contains(c))
    );
    let check_text = |text: &str| {
        assert!(!text.contains('<'), "raw < in {text:?}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            let known = [
                "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#9;", "&#10;", "&#13;",
            ];
            assert!(known.contains(&entity), "bad entity {entity:?}");
        }
    };
    let (mut stack, mut cases, mut rest) = (Vec::new(), 0, body);
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let tag_end = rest[open..].find('>').unwrap() + open;
        let tag = &rest[open + 1..tag_end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.to_string()), "closing {name}");
        } else {
            let (name, mut attrs) = tag
                .split_once(' ')
                .unwrap_or((tag.trim_end_matches('/'), ""));
            cases += usize::from(name == "testcase");
            attrs = attrs.trim_end_matches('/');
            while let Some(eq) = attrs.find("=\"") {
                let value_end = attrs[eq + 2..].find('"').unwrap() + eq + 2;
                check_text(&attrs[eq + 2..value_end]);
                attrs = &attrs[value_end + 1..];
            }
            if !tag.ends_with('/') {
                stack.push(name.to_string());
            }
        }
        rest = &rest[tag_end + 1..];
    }
    assert!(
        stack.is_empty() && rest.trim().is_empty(),
        "unclosed {stack:?}"
    );
    cases
}
