//! libusb-sim stands in for the system's libusb-1.0: it exports every symbol the system
//! library does, so that dfu-util and the station (bound at load) start with it, and the
//! station itself links libusb dynamically so that it can be swapped in.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::libusb_sim::{dfu_util, library};

/// `nm -D` of `file`, the libusb symbols only: defined or undefined ones.
fn libusb_symbols(file: &Path, defined: bool) -> BTreeSet<String> {
    let out = Command::new("nm")
        .arg("-D")
        .arg(if defined {
            "--defined-only"
        } else {
            "--undefined-only"
        })
        .arg(file)
        .output()
        .expect("nm (binutils) runs");
    assert!(
        out.status.success(),
        "nm {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .filter(|s| s.starts_with("libusb_"))
        .collect()
}

/// Where `binary` loads libusb-1.0.so.0 from, per ldd; `None` when it does not load it.
fn loaded_libusb(binary: &Path) -> Option<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("libusb-1.0.so.0"))
        .and_then(|l| l.split("=>").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
}

const DYNAMIC_LINK_HINT: &str = "the station must link the system's libusb-1.0 dynamically \
     to run on the virtual bus: install libusb-1.0-0-dev (.ci/run does, as root), then \
     `cargo clean -p libusb1-sys` so that rusb's build finds it";

#[test]
fn the_station_and_this_test_load_libusb_dynamically() {
    // This test uses the rusb backend (here without a USB stack: a plain error), so its binary
    // links libusb as the station does.
    if let Err(e) = station::backend::usb::RusbBus::new() {
        assert!(e.to_string().contains("USB is not available"), "{e}");
    }
    let station = Path::new(env!("CARGO_BIN_EXE_station"));
    for binary in [station.to_path_buf(), std::env::current_exe().unwrap()] {
        assert!(
            loaded_libusb(&binary).is_some(),
            "{} does not load libusb-1.0.so.0: {DYNAMIC_LINK_HINT}",
            binary.display()
        );
    }
}

#[test]
fn every_libusb_symbol_the_programs_need_is_exported() {
    let exported = libusb_symbols(&library(), true);
    let station = Path::new(env!("CARGO_BIN_EXE_station"));
    let system = loaded_libusb(station).expect(DYNAMIC_LINK_HINT);
    let everything = libusb_symbols(&system, true);
    assert!(
        everything.len() >= 80,
        "the system libusb exports {everything:?}"
    );
    let missing: Vec<_> = everything.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "libusb-sim lacks {missing:?} of {}",
        system.display()
    );

    let mut users = vec![station.to_path_buf()];
    users.extend(dfu_util());
    for user in users {
        let needed = libusb_symbols(&user, false);
        assert!(
            !needed.is_empty(),
            "{} uses no libusb symbol",
            user.display()
        );
        let missing: Vec<_> = needed.difference(&exported).collect();
        assert!(missing.is_empty(), "{} needs {missing:?}", user.display());
    }
}

#[test]
fn the_library_answers_libusb_calls_without_a_server() {
    // dfu-util run against a socket where nobody listens: it starts (every symbol binds),
    // finds no device, and the library says where it looked.
    let Some(dfu_util) = dfu_util() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("nobody.sock");
    let out = common::libusb_sim::on_bus(&dfu_util, &socket)
        .arg("-l")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("libusb-sim: no virtual bench at") && err.contains("nobody.sock"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Found DFU"));
}
