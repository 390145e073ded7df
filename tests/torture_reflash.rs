//! Torture without snapshots (`--restore reflash`): every point restored over SWD and cut
//! through the hw traits only, on the virtual bench's simulated units. It must tell the
//! designs apart and agree with the snapshot path where both cut the same operation.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn torture(fixture: &str, records: &Path, extra: &[&str]) -> Output {
    common::station()
        .args([
            "torture",
            "--station",
            "stations/zoo.toml",
            "--fixture",
            fixture,
        ])
        .arg("--records")
        .arg(records)
        .args(extra)
        .output()
        .unwrap()
}

fn record(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("record "))
        .unwrap_or_else(|| panic!("no record line in {text}"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sweep(record: &Value) -> &Value {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sweep")
        .unwrap()
}

/// (mode, index) -> (outcome, recovered), from the record's pinned sidecar.
fn points(records: &Path, record: &Value) -> BTreeMap<(String, u64), (String, bool)> {
    let file = sweep(record)["details"]["points_file"].as_str().unwrap();
    let dir = records.join(record["serial"].as_str().unwrap());
    let points: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
    points
        .iter()
        .map(|p| {
            (
                (
                    p["point"]["mode"].as_str().unwrap().to_string(),
                    p["point"]["index"].as_u64().unwrap(),
                ),
                (
                    p["outcome"].as_str().unwrap().to_string(),
                    p["recovered"].as_bool().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn reflash_tells_a_bricking_design_from_one_that_never_bricks() {
    let tmp = tempfile::tempdir().unwrap();
    let naive = torture(
        "naive",
        tmp.path(),
        &["--restore", "reflash", "--plan", "every:5"],
    );
    assert_eq!(
        naive.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&naive.stdout)
    );
    let r = record(&naive);
    let details = &sweep(&r)["details"];
    assert_eq!(details["restore"], "reflash");
    assert_eq!(details["power_cuts_index"], "host operations");
    assert!(
        details["notes"][0]
            .as_str()
            .unwrap()
            .contains("cannot be listed on real hardware"),
        "{details}"
    );
    assert!(!details["reproducer"].is_null());
    assert!(String::from_utf8_lossy(&naive.stdout).contains("Reproducer"));

    let ab = torture(
        "ab-slots",
        tmp.path(),
        &["--restore", "reflash", "--plan", "every:5"],
    );
    assert_eq!(
        ab.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ab.stdout)
    );
    let r = record(&ab);
    // Every mode ran, the power cuts included, on host operations.
    let modes: std::collections::BTreeSet<String> =
        points(tmp.path(), &r).keys().map(|k| k.0.clone()).collect();
    assert_eq!(modes.len(), 6, "{modes:?}");
    assert_eq!(sweep(&r)["details"]["counts"].get("bricked"), None);
}

#[test]
fn reflash_and_snapshot_agree_where_both_cut_the_same_host_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let host_modes = "host-abort,dfu-abort,usb-reset";
    for design in ["naive", "st-rom-boot0"] {
        let run = |restore: &str| {
            let records = tmp.path().join(format!("{design}-{restore}"));
            let out = torture(
                design,
                &records,
                &[
                    "--restore",
                    restore,
                    "--modes",
                    host_modes,
                    "--plan",
                    "every:2",
                ],
            );
            let r = record(&out);
            assert_eq!(sweep(&r)["details"]["restore"], restore);
            (out.status.code(), points(&records, &r))
        };
        let (snapshot_code, snapshot) = run("snapshot");
        let (reflash_code, reflash) = run("reflash");
        assert!(snapshot.len() >= 9, "{design}: {snapshot:?}");
        assert_eq!(snapshot, reflash, "{design}");
        assert_eq!(snapshot_code, reflash_code, "{design}");
    }
}

#[test]
fn power_cuts_on_a_fixture_without_a_switch_are_refused_naming_the_file_and_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/zoo/naive.toml");
    let station = tmp.path().join("real-bench.toml");
    std::fs::write(
        &station,
        format!(
            r#"id = "real-bench"
records = "records"

[[fixtures]]
id = "board-7"
backend = "hw"
profile = "{}"
probe = "0483:374b:NO-SUCH-PROBE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "1-4" }}
power = {{ kind = "none" }}
"#,
            profile.display()
        ),
    )
    .unwrap();
    let run = |modes: &str| {
        common::station()
            .args(["torture", "--fixture", "board-7", "--modes", modes])
            .arg("--station")
            .arg(&station)
            .output()
            .unwrap()
    };
    let out = run("power-before,power-after");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("real-bench.toml")
            && err.contains("board-7")
            && err.contains("no power switch"),
        "{err}"
    );
    // With a mode it can run, the campaign goes on to the board (which this machine has not)
    // and still says what it refused.
    let out = run("host-abort,power-inside");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("NO-SUCH-PROBE"), "{err}");
    assert!(
        err.contains("note: ") && err.contains("(power-inside)"),
        "{err}"
    );
}

#[test]
fn the_restore_image_is_the_bootloader_the_old_image_and_every_slot_erased() {
    use station::config::{self, ImageRole};
    use station::station::torture::Setup;
    use station::station::torture::reflash::restore_segments;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stations/zoo.toml");
    let station = config::load_station(&path).unwrap();
    let fixture = station.fixture("ab-slots").unwrap();
    let profile = station.profile_of(fixture);
    let image = |name: &str| {
        let spec = profile.images.iter().find(|i| i.name == name).unwrap();
        config::check::load_pinned_image(profile, spec).unwrap()
    };
    let bootloader = image(&profile.image(ImageRole::Bootloader).unwrap().name);
    let (from, to) = (image("application"), image("update"));
    let setup = Setup {
        fixture,
        profile,
        bootloader: &bootloader,
        from: &from,
        to: &to,
    };
    let segments = restore_segments(&setup);
    // In order, never overlapping.
    for w in segments.windows(2) {
        assert!(
            w[0].end() <= w[1].address as u64,
            "{:#x} overlaps",
            w[1].address
        );
    }
    // Each image's bytes are there as they are; every other byte of every slot is erased.
    let byte_at = |a: u32| {
        segments
            .iter()
            .find(|s| s.address <= a && (a as u64) < s.end())
            .map(|s| s.data[(a - s.address) as usize])
    };
    for s in bootloader.segments.iter().chain(&from.segments) {
        for (i, b) in s.data.iter().enumerate().step_by(97) {
            assert_eq!(byte_at(s.address + i as u32), Some(*b));
        }
    }
    let in_image = |a: u32| {
        bootloader
            .segments
            .iter()
            .chain(&from.segments)
            .any(|s| s.address <= a && (a as u64) < s.end())
    };
    assert_eq!(profile.memory.slots.len(), 2);
    for slot in &profile.memory.slots {
        for a in (slot.start..slot.start + slot.size).step_by(251) {
            if !in_image(a) {
                assert_eq!(byte_at(a), Some(0xFF), "{a:#x}");
            }
        }
        assert!(byte_at(slot.start + slot.size - 1).is_some());
    }
}
