//! RMA on every family but the F4 (which tests/rma.rs covers in depth), through the real
//! binary: a provisioned unit at RDP 1 is inspected over SWD (typed option bytes, no flash),
//! refused recovery with a wrong label, recovered with the right one (RDP regression erases,
//! bootloader and option bytes restored), and inspected over DFU, where what would boot is
//! predicted; on the dual-core H755 the prediction includes the CM4 and matches what the
//! unit then does.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

const STATION: &str = "stations/families.toml";

fn station(args: &[&str], records: &Path) -> Output {
    common::station()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .args(["--station", STATION, "--records"])
        .arg(records)
        .output()
        .expect("station runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn inspect(fixture: &str, via: &str, records: &Path) -> Value {
    let out = station(
        &["inspect", "--fixture", fixture, "--via", via, "--json"],
        records,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_family_is_inspected_and_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path();
    let fixtures = ["f767", "h743", "h755", "l476", "g071"];
    for f in fixtures {
        let out = station(
            &["run", "--headless", "--units", "1", "--fixture", f],
            records,
        );
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text(&out));

        let swd = inspect(f, "swd", records);
        assert_eq!(swd["rdp_level"], 1, "{f}: {swd}");
        let ob = &swd["option_bytes"];
        assert_eq!(ob["rdp_level"], 1, "{f}: {ob}");
        assert!(
            !ob["write_protected"].as_array().unwrap().is_empty(),
            "{f}: the profile's WRP reads back: {ob}"
        );
        assert_eq!(swd["flash_readable"], false, "{f}");
        let label = swd["label"].as_str().unwrap().to_string();

        let refused = station(
            &["recover", "--fixture", f, "--yes-i-typed", "NOT-THIS-ONE"],
            records,
        );
        assert_eq!(refused.status.code(), Some(2), "{f}: {}", text(&refused));
        assert_eq!(
            inspect(f, "swd", records)["rdp_level"],
            1,
            "{f}: nothing changed"
        );

        let recovered = station(
            &["recover", "--fixture", f, "--yes-i-typed", &label],
            records,
        );
        assert_eq!(
            recovered.status.code(),
            Some(0),
            "{f}: {}",
            text(&recovered)
        );

        // The regression erased the application; the bootloader is back and waits in DFU.
        let dfu = inspect(f, "dfu", records);
        assert_eq!(dfu["bootloader"]["status"], "match", "{f}: {dfu}");
        assert_eq!(dfu["would_boot"]["runs"], "bootloader_dfu", "{f}: {dfu}");
        assert!(
            dfu["slots"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["check"] == "blank"),
            "{f}: {dfu}"
        );
        // Option bytes are the profile's again: RDP 1 and the bootloader write-protected.
        let after = inspect(f, "swd", records);
        assert_eq!(after["option_bytes"]["rdp_level"], 1, "{f}");
        assert_eq!(
            after["option_bytes"]["write_protected"], ob["write_protected"],
            "{f}"
        );
    }
}

#[test]
fn the_h755_prediction_names_both_cores_and_comes_true() {
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path();
    let at = ["--fixture", "h755"];
    let run = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(&at).copied().collect();
        let out = station(&all, records);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        out
    };
    run(&["run", "--headless", "--units", "1"]);
    let label = inspect("h755", "swd", records)["label"]
        .as_str()
        .unwrap()
        .to_string();
    run(&["recover", "--yes-i-typed", &label]);
    // Only the CM7's image: crc-single stays in DFU, and says the CM4's slot is why.
    run(&[
        "dfu",
        "download",
        "--address",
        "0x08020000",
        "fixtures/h7/app-1.0.0.bin",
    ]);
    let half = inspect("h755", "dfu", records);
    assert_eq!(half["would_boot"]["runs"], "bootloader_dfu", "{half}");
    let why = half["would_boot"]["detail"].as_str().unwrap();
    assert!(why.contains("the CM4's slot cm4 is blank"), "{why}");
    assert!(half["usb_now"].as_str().unwrap().starts_with("bootloader"));
    // Both images: the application starts and the CM4 runs its own.
    run(&[
        "dfu",
        "download",
        "--address",
        "0x08100000",
        "fixtures/h755/cm4-app-1.0.0.bin",
    ]);
    let whole = inspect("h755", "dfu", records);
    assert_eq!(whole["would_boot"]["runs"], "application", "{whole}");
    let what = whole["would_boot"]["detail"].as_str().unwrap();
    assert!(
        what.contains("the CM4 runs demo-h755-cm4 1.0.0 from slot cm4"),
        "{what}"
    );
    assert!(
        whole["usb_now"]
            .as_str()
            .unwrap()
            .starts_with("application"),
        "{whole}"
    );
}
