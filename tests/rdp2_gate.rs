//! RDP level 2 is permanent: a profile that asks for it (with allow_permanent_lock) still
//! needs a person to type the unit's label for the run. Without it the unit stops before its
//! option bytes change, and its record says why. With it, the values are read back before the
//! reset and the closed debug port after it is the proof. probe-rs waits in real time for the
//! port that no longer answers (a few seconds): this is one of the few such tests.

mod common;

use std::path::Path;

fn locking_profile(dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("profiles/f407-demo.toml"))
        .unwrap()
        .replace("\"../fixtures/", &format!("\"{}/fixtures/", root.display()))
        .replace(
            "rdp = 1 ",
            "rdp = 2\nallow_permanent_lock = true\n# was: rdp = 1 ",
        );
    assert!(text.contains("allow_permanent_lock = true"));
    let path = dir.join("locking.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn record(dir: &Path) -> serde_json::Value {
    let mut found = Vec::new();
    for unit in std::fs::read_dir(dir.join("records")).unwrap().flatten() {
        if unit.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for f in std::fs::read_dir(unit.path()).unwrap().flatten() {
            found.push(serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap());
        }
    }
    assert_eq!(found.len(), 1);
    found.remove(0)
}

fn run(dir: &Path, typed: &[&str]) -> (Option<i32>, serde_json::Value) {
    let profile = locking_profile(dir);
    let sim = r#"family = "f4", part = "STM32F407VG", seed = 31"#;
    let fixture = common::sim_fixture("lock", &profile, "RDP2-GATE", "l-1", sim);
    let station = common::write_station(dir, "station.toml", &[fixture]);
    let mut cmd = common::station();
    cmd.args(["run", "--headless", "--units", "1", "--station"])
        .arg(&station);
    for t in typed {
        cmd.args(["--yes-i-typed", t]);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), record(dir))
}

#[test]
fn rdp2_needs_the_units_label_typed() {
    let refused_dir = tempfile::tempdir().unwrap();
    let (code, refused) = run(refused_dir.path(), &["00000000"]);
    assert_eq!(
        code,
        Some(4),
        "not authorised is an operator stop: {refused}"
    );
    assert_eq!(refused["outcome"], "ABORTED");
    let why = refused["failure"].as_str().unwrap();
    assert!(
        why.contains("RDP level 2 is permanent") && why.contains("nothing was changed"),
        "{why}"
    );
    let uid = refused["device"]["uid"].as_str().unwrap();
    let label = &uid[uid.len() - 8..];
    assert!(why.contains(label), "{why}");

    // The same unit (same seed, fixture and unit number) with its label typed locks.
    let locked_dir = tempfile::tempdir().unwrap();
    let (code, locked) = run(locked_dir.path(), &[label]);
    assert_eq!(locked["device"]["uid"], uid);
    let ob = locked["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "option_bytes")
        .unwrap();
    assert_eq!(ob["details"]["after"]["rdp_level"], 2, "{locked}");
    assert_eq!(ob["details"]["debug_port_closed"], true, "{locked}");
    // Closed means silent: no acknowledge on SWD, not some other failure.
    let why = ob["details"]["attach_after_lock"].as_str().unwrap();
    assert!(why.starts_with("no response from target"), "{why}");
    // The bootloader still takes its update over USB at level 2: the unit passes.
    assert_eq!(
        (code, &locked["outcome"]),
        (Some(0), &serde_json::json!("PASS")),
        "{locked}"
    );
}
