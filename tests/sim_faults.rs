//! Faulty simulated units: what each fault does to a provisioning run, and what the record
//! says about it.

mod common;

use std::path::Path;

fn station_with_faults(dir: &Path, faults: &[(&str, &str)]) -> std::path::PathBuf {
    let fixtures: Vec<String> = faults
        .iter()
        .enumerate()
        .map(|(i, (id, fault))| {
            common::sim_fixture(
                id,
                "profiles/f407-demo.toml",
                &format!("FAULT-{i}-{id}"),
                &format!("f-{i}"),
                &format!(r#"family = "f4", part = "STM32F407VG", seed = 3, faults = [{fault}]"#),
            )
        })
        .collect();
    common::write_station(dir, "faulty.toml", &fixtures)
}

fn outcomes(dir: &Path) -> std::collections::BTreeMap<String, (String, String)> {
    let mut out = std::collections::BTreeMap::new();
    for d in std::fs::read_dir(dir.join("records")).unwrap().flatten() {
        if d.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
            out.insert(
                v["fixture"].as_str().unwrap().to_string(),
                (
                    v["outcome"].as_str().unwrap().to_string(),
                    v["failure"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
    }
    out
}

#[test]
fn each_fault_shows_in_the_unit_record() {
    let tmp = tempfile::tempdir().unwrap();
    let station = station_with_faults(
        tmp.path(),
        &[
            ("never", r#""never-enumerates""#),
            ("slow", r#""slow-enumeration:2000""#),
            ("dead", r#""dead-sector:2""#),
            ("loose", r#""disconnect-at-request:40""#),
            ("locked", r#""rdp1""#),
        ],
    );
    let out = common::station()
        .args(["run", "--headless", "--units", "5", "--station"])
        .arg(&station)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "some units fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = outcomes(tmp.path());
    let (o, why) = &got["never"];
    assert_eq!(o, "FAIL");
    assert!(
        why.contains("did not enumerate") && why.contains("check the USB cable"),
        "{why}"
    );
    assert_eq!(
        got["slow"].0, "PASS",
        "a slow enumeration within the deadline still passes"
    );
    let (o, why) = &got["dead"];
    assert_eq!(o, "FAIL");
    assert!(why.contains("errERASE") || why.contains("erase"), "{why}");
    let (o, why) = &got["loose"];
    assert_eq!(o, "FAIL");
    assert!(why.contains("dfu_download"), "{why}");
    let (o, why) = &got["locked"];
    assert_eq!(o, "FAIL");
    assert!(
        why.contains("protect"),
        "a unit delivered at RDP 1 refuses the debugger: {why}"
    );
}

#[test]
fn unknown_faults_are_config_errors_with_their_location() {
    let tmp = tempfile::tempdir().unwrap();
    let station = station_with_faults(tmp.path(), &[("x", r#""sometimes""#)]);
    let out = common::station()
        .args(["check", "--station"])
        .arg(&station)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("faulty.toml:")
            && err.contains("sim.faults")
            && err.contains("slow-enumeration:MS"),
        "{err}"
    );
}

#[test]
fn a_unit_delivered_at_rdp1_is_refused_on_every_family() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = [
        ("f767", "f7", "STM32F767ZI"),
        ("h743", "h7", "STM32H743ZI"),
        ("l476", "l4", "STM32L476RG"),
        ("g071", "g0", "STM32G071RB"),
    ];
    let fixtures: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, (id, family, part))| {
            common::sim_fixture(
                id,
                &format!("profiles/{id}-demo.toml"),
                &format!("RDP1-{id}"),
                &format!("r-{i}"),
                &format!(r#"family = "{family}", part = "{part}", seed = 4, faults = ["rdp1"]"#),
            )
        })
        .collect();
    let station = common::write_station(tmp.path(), "rdp1.toml", &fixtures);
    let out = common::station()
        .args(["run", "--headless", "--units", "4", "--station"])
        .arg(&station)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = outcomes(tmp.path());
    assert_eq!(got.len(), 4, "{got:?}");
    for (id, (outcome, why)) in &got {
        assert_eq!(outcome, "FAIL", "{id}");
        assert!(why.contains("protect"), "{id}: {why}");
    }
}

#[test]
fn probe_option_and_flash_faults_and_a_wrong_part_are_named_in_the_records() {
    let tmp = tempfile::tempdir().unwrap();
    let mut fixtures: Vec<String> = [
        ("busy", r#""probe-busy""#),
        ("optfail", r#""option-error""#),
        ("opthang", r#""option-hang""#),
        ("weak", r#""weak-sector:0""#),
    ]
    .iter()
    .enumerate()
    .map(|(i, (id, fault))| {
        common::sim_fixture(
            id,
            "profiles/f407-demo.toml",
            &format!("PF-{i}-{id}"),
            &format!("p-{i}"),
            &format!(r#"family = "f4", part = "STM32F407VG", seed = 3, faults = [{fault}]"#),
        )
    })
    .collect();
    // An F767 board in a fixture set up for the F407 product.
    fixtures.push(common::sim_fixture(
        "wrongpart",
        "profiles/f407-demo.toml",
        "PF-WRONG",
        "p-9",
        r#"family = "f7", part = "STM32F767ZI", seed = 3"#,
    ));
    let station = common::write_station(tmp.path(), "faulty.toml", &fixtures);
    let out = common::station()
        .args(["run", "--headless", "--units", "5", "--station"])
        .arg(&station)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "a station-side error ranks worst: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = outcomes(tmp.path());
    let expect = [
        ("busy", "ERROR", "in use by another program"),
        ("optfail", "FAIL", "option_bytes: the option change failed"),
        ("opthang", "TIMEOUT", "option_bytes: timeout"),
        ("weak", "FAIL", "flash_bootloader: verify mismatch"),
        ("wrongpart", "FAIL", "not an STM32F4 as the profile says"),
    ];
    for (id, outcome, says) in expect {
        let (o, why) = &got[id];
        assert_eq!(o, outcome, "{id}: {why}");
        assert!(why.contains(says), "{id}: {why}");
    }
    assert!(got["optfail"].1.contains("(OPERR)"), "{}", got["optfail"].1);
    assert!(
        got["wrongpart"].1.contains("DEV_ID 0x451"),
        "{}",
        got["wrongpart"].1
    );
}
