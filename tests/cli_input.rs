//! What a person types on the command line is taken as meant (#19): a label may contain `=`
//! (only a station's fixture name before it makes it `FIXTURE=LABEL`), and a person's name
//! with control characters is refused as labels are, before anything starts.

mod common;

use common::check::{STATION, Scratch};

fn run(s: &Scratch, extra: &[&str]) -> std::process::Output {
    common::station()
        .args([
            "run",
            "--headless",
            "--station",
            STATION,
            "--fixture",
            "sim-1",
            "--units",
            "1",
        ])
        .args(extra)
        .current_dir(s.dir.path())
        .output()
        .unwrap()
}

/// The labels of the records written so far.
fn labels(s: &Scratch) -> Vec<String> {
    let mut out = Vec::new();
    for unit in std::fs::read_dir(s.path("logs")).unwrap().flatten() {
        if unit.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for record in std::fs::read_dir(unit.path()).unwrap().flatten() {
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(record.path()).unwrap()).unwrap();
            out.push(r["label"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn a_label_holding_an_equals_sign_is_the_label() {
    let s = Scratch::new();
    let out = run(&s, &["--label", "SN=0042"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(labels(&s), ["SN=0042"]);
}

#[test]
fn a_fixture_name_before_the_equals_sign_names_the_fixture() {
    let s = Scratch::new();
    let out = run(&s, &["--label", "sim-1=SN=7"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(labels(&s), ["SN=7"]);
}

#[test]
fn an_operator_name_with_control_characters_is_refused() {
    let s = Scratch::new();
    let out = run(&s, &["--operator", "Ann\u{7}Lee"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("expected a name of printable characters"),
        "{stderr}"
    );
    assert!(
        !s.path("logs").exists() || labels(&s).is_empty(),
        "a unit ran"
    );
}

#[test]
fn a_dfu_image_outside_the_parts_flash_is_refused_before_the_unit_is_touched() {
    let s = Scratch::new();
    let image = s.path("app.bin");
    std::fs::write(&image, vec![0x5A; 4096]).unwrap();
    let out = common::station()
        .args([
            "dfu",
            "download",
            "--station",
            STATION,
            "--fixture",
            "sim-1",
        ])
        .args(["--address", "0x20000000"])
        .arg(&image)
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "4096 bytes at 0x20000000 lie outside the part's flash 0x08000000..0x08100000"
        ) && stderr.contains("nothing was sent to the unit"),
        "{stderr}"
    );
    assert!(
        !s.path("logs/.station/sim/sim-1.state").exists(),
        "the unit on the fixture was opened"
    );
}
