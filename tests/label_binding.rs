//! A label is bound to one chip at the station, atomically (#19: the same label scanned onto
//! two fixtures running together bound to two chips and both passed, because the check read
//! only written records), and labels compare case-insensitively (a scanner with Caps Lock).

mod common;

use common::check::{STATION, Scratch};

fn run(s: &Scratch, args: &[&str]) -> std::process::Output {
    common::station()
        .args(["run", "--headless", "--station", STATION])
        .args(args)
        .current_dir(s.dir.path())
        .output()
        .unwrap()
}

/// (fixture, outcome, failure) of every record written.
fn outcomes(s: &Scratch) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for unit in std::fs::read_dir(s.path("logs")).unwrap().flatten() {
        if unit.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for record in std::fs::read_dir(unit.path()).unwrap().flatten() {
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(record.path()).unwrap()).unwrap();
            out.push((
                r["fixture"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
                r["failure"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn one_label_on_two_fixtures_at_once_binds_one_chip() {
    let s = Scratch::new();
    let out = run(
        &s,
        &["--fixture", "sim-1", "--fixture", "sim-2", "--units", "2"],
    );
    // Without labels first: both fixtures work.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &s,
        &[
            "--fixture",
            "sim-3",
            "--fixture",
            "sim-4",
            "--units",
            "2",
            "--label",
            "sim-3=LBL-9",
            "--label",
            "sim-4=lbl-9",
        ],
    );
    let all = outcomes(&s);
    let labelled: Vec<_> = all
        .iter()
        .filter(|(f, _, _)| f == "sim-3" || f == "sim-4")
        .collect();
    let passed = labelled.iter().filter(|(_, o, _)| o == "PASS").count();
    let failed: Vec<_> = labelled.iter().filter(|(_, o, _)| o == "FAIL").collect();
    assert_eq!((passed, failed.len()), (1, 1), "{labelled:?}");
    assert!(
        failed[0].2.contains("belongs to the chip with UID"),
        "{failed:?}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
