//! `station wrp-test` on the virtual bench, through the real binary: on every family a unit
//! provisioned with its bootloader write-protected refuses the erase with WRPERR and keeps its
//! sector (PASS), and a unit whose option bytes do not protect it (a design that never set
//! WRP) loses it (FAIL, told to recover), after which recovery restores the protection. It is
//! refused without the unit's typed label, on a profile without write protection, on a unit at
//! RDP level 1 and on an erased sector, changing nothing and writing no record.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// (profile, simulated family and part) of each family's demo.
const FAMILIES: [(&str, &str, &str); 5] = [
    ("f407", "f4", "STM32F407VG"),
    ("f767", "f7", "STM32F767ZI"),
    ("h743", "h7", "STM32H743ZI"),
    ("l476", "l4", "STM32L476RG"),
    ("g071", "g0", "STM32G071RB"),
];

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of a demo profile in `dir`, with RDP level `rdp` and `write_protect` replaced when
/// given.
fn profile(dir: &Path, name: &str, rdp: u8, wrp: Option<&str>) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    let source = std::fs::read_to_string(root.join(format!("profiles/{name}-demo.toml"))).unwrap();
    for line in source.lines() {
        let line = line.replace("\"../fixtures/", &format!("\"{}/fixtures/", root.display()));
        let line = if line.starts_with("rdp = ") {
            format!("rdp = {rdp}")
        } else if let (true, Some(w)) = (line.starts_with("write_protect = "), wrp) {
            format!("write_protect = {w}")
        } else {
            line
        };
        text.push_str(&line);
        text.push('\n');
    }
    let path = dir.join(format!(
        "{name}-rdp{rdp}-{}.toml",
        wrp.map_or("wrp", |_| "nowrp")
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// A fixture of the family `(name, family, part)` whose units arrive as `initial`.
fn fixture(
    id: &str,
    profile: &Path,
    (_, family, part): (&str, &str, &str),
    initial: &str,
) -> String {
    common::sim_fixture(
        id,
        &profile.display().to_string(),
        &format!("WRP-{id}"),
        id,
        &format!(r#"family = "{family}", part = "{part}", seed = 12, initial = "{initial}""#),
    )
}

fn station(dir: &Path, args: &[&str]) -> Output {
    common::station()
        .args(args)
        .arg("--station")
        .arg(dir.join("bench.toml"))
        .output()
        .unwrap()
}

fn wrp_test(dir: &Path, fixture: &str, label: Option<&str>) -> Output {
    let mut args = vec!["wrp-test", "--fixture", fixture];
    if let Some(l) = label {
        args.extend(["--yes-i-typed", l]);
    }
    station(dir, &args)
}

/// The label the refusal asks for (the last 8 hex digits of the UID).
fn asked_label(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = stderr
        .rfind("--yes-i-typed ")
        .unwrap_or_else(|| panic!("the refusal names the label: {}", text(out)));
    stderr[at + 14..].trim().to_string()
}

fn records(dir: &Path) -> Vec<Value> {
    let mut found = Vec::new();
    let Ok(units) = std::fs::read_dir(dir.join("records")) else {
        return found;
    };
    for unit in units.flatten() {
        if unit.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for f in std::fs::read_dir(unit.path()).unwrap().flatten() {
            found.push(serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap());
        }
    }
    found
}

fn newest(dir: &Path, fixture: &str) -> Value {
    let mut mine: Vec<Value> = records(dir)
        .into_iter()
        .filter(|r| r["fixture"] == fixture)
        .collect();
    mine.sort_by(|a, b| a["record_id"].as_str().cmp(&b["record_id"].as_str()));
    mine.pop().expect("a record")
}

fn step<'a>(record: &'a Value, name: &str) -> &'a Value {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {record}"))
}

/// The flash the simulator saved for `fixture`.
fn saved_flash(dir: &Path, fixture: &str) -> Vec<u8> {
    let bench = station::config::load_station(&dir.join("bench.toml")).unwrap();
    let f = bench.fixture(fixture).unwrap();
    let path = station::backend::state_path(&station::backend::state_dir(&bench), fixture);
    let usb = station::sim::UsbIdentities {
        application: f.usb_application,
        bootloader: f.usb_bootloader,
        rom: f.usb_rom,
        port_path: fixture.into(),
    };
    let mcu = station::sim::state::load(&path, usb).unwrap().unwrap().mcu;
    mcu.flash
        .read(mcu.flash.base(), mcu.flash.size() as usize)
        .unwrap()
        .to_vec()
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/record.schema.json");
    let text = std::fs::read_to_string(path).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn protection_holds_on_every_family_and_a_unit_without_it_loses_its_bootloader() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut fixtures = Vec::new();
    for fam in FAMILIES {
        let open = profile(dir, fam.0, 0, None);
        fixtures.push(fixture(
            &format!("held-{}", fam.0),
            &open,
            fam,
            "provisioned",
        ));
        fixtures.push(fixture(
            &format!("bare-{}", fam.0),
            &open,
            fam,
            "bootloader",
        ));
    }
    common::write_station(dir, "bench.toml", &fixtures);
    let validator = schema();
    let mut bare_labels = std::collections::BTreeMap::new();

    for (name, ..) in FAMILIES {
        // Provisioned with the profile's WRP: refused without the label, then PASS.
        let held = format!("held-{name}");
        let refused = wrp_test(dir, &held, None);
        assert_eq!(refused.status.code(), Some(2), "{name}: {}", text(&refused));
        assert!(records(dir).iter().all(|r| r["fixture"] != held.as_str()));
        let before = saved_flash(dir, &held);
        let label = asked_label(&refused);
        let passed = wrp_test(dir, &held, Some(&label));
        assert_eq!(passed.status.code(), Some(0), "{name}: {}", text(&passed));
        assert_eq!(
            saved_flash(dir, &held),
            before,
            "{name}: the sector is intact"
        );
        let record = newest(dir, &held);
        assert!(validator.iter_errors(&record).next().is_none(), "{record}");
        assert_eq!(
            (&record["kind"], &record["outcome"]),
            (&"engineering".into(), &"PASS".into())
        );
        let controller = &step(&record, "erase_protected_sector")["details"]["controller"];
        assert_eq!(
            controller["write_protection_error"], true,
            "{name}: {controller}"
        );
        assert!(
            controller["flags"].as_str().unwrap().contains("WRPERR"),
            "{controller}"
        );
        let check = &step(&record, "check_sector")["details"];
        assert_eq!(check["unchanged"], true);
        assert_eq!(check["crc32_before"], check["crc32_after"]);

        // The same profile on a unit whose option bytes never set WRP: the sector goes.
        let bare = format!("bare-{name}");
        let label = asked_label(&wrp_test(dir, &bare, None));
        bare_labels.insert(name, label.clone());
        let before = saved_flash(dir, &bare);
        let failed = wrp_test(dir, &bare, Some(&label));
        assert_eq!(failed.status.code(), Some(1), "{name}: {}", text(&failed));
        let record = newest(dir, &bare);
        assert!(validator.iter_errors(&record).next().is_none(), "{record}");
        assert_eq!(record["outcome"], "FAIL");
        let why = record["failure"].as_str().unwrap();
        assert!(why.contains("write protection did not hold"), "{why}");
        assert!(why.contains("write-protect sectors []"), "{why}");
        assert!(why.contains("recover --station"), "{why}");
        assert!(why.contains(&format!("--yes-i-typed {label}")), "{why}");
        assert_eq!(
            step(&record, "erase_protected_sector")["details"]["controller"]["write_protection_error"],
            false
        );
        let after = saved_flash(dir, &bare);
        let boot = after.iter().zip(&before).position(|(a, b)| a != b);
        assert_eq!(
            boot,
            Some(0),
            "{name}: the bootloader's first sector changed"
        );
    }

    // Recovery writes the bootloader and the profile's option bytes: now it holds.
    let label = &bare_labels["f407"];
    let recover = ["recover", "--fixture", "bare-f407", "--yes-i-typed", label];
    let recovered = station(dir, &recover);
    assert_eq!(recovered.status.code(), Some(0), "{}", text(&recovered));
    let again = wrp_test(dir, "bare-f407", Some(label));
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn refusals_name_the_reason_change_nothing_and_write_no_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f4 = FAMILIES[0];
    let l4 = FAMILIES[3];
    let fixtures = [
        fixture(
            "nowrp",
            &profile(dir, "f407", 0, Some("[]")),
            f4,
            "provisioned",
        ),
        fixture("locked", &profile(dir, "f407", 1, None), f4, "provisioned"),
        fixture("blank", &profile(dir, "l476", 0, None), l4, "blank"),
        fixture("wrong", &profile(dir, "l476", 0, None), l4, "provisioned"),
    ];
    common::write_station(dir, "bench.toml", &fixtures);
    let refused = |fixture: &str, label: Option<&str>, says: &str| {
        let out = wrp_test(dir, fixture, label);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(stderr.contains(says), "{fixture}: {stderr}");
        out
    };
    refused("nowrp", Some("ANY"), "write-protects no sector");
    assert!(
        !station::backend::state_dir(
            &station::config::load_station(&dir.join("bench.toml")).unwrap()
        )
        .join("nowrp.state")
        .exists(),
        "refused before the unit was touched"
    );
    refused("locked", Some("ANY"), "RDP level 1");
    refused("blank", Some("ANY"), "is erased");
    let first = refused("wrong", None, "--yes-i-typed");
    let before = saved_flash(dir, "wrong");
    refused("wrong", Some("NOT-THIS-ONE"), "nothing was changed");
    assert_eq!(saved_flash(dir, "wrong"), before);
    assert!(asked_label(&first).len() == 8);
    assert!(records(dir).is_empty(), "{:?}", records(dir));
}
