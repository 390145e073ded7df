//! The differential test programs are committed built, so CI needs no cross toolchain: their
//! bytes must match the pins build.sh wrote, and where the compiler that made them is here
//! (with both targets installed) they are rebuilt from source and must come out the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn firmware() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/firmware")
}

/// `name = "value"` lines of pins.toml.
fn pins() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(firmware().join("bin/pins.toml")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (
                k.trim().trim_matches('"').to_string(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_committed_programs_are_the_pinned_ones() {
    let pins = pins();
    let images: Vec<_> = pins.iter().filter(|(k, _)| k.ends_with(".elf")).collect();
    assert_eq!(images.len(), 2, "pins.toml pins both programs");
    for (name, pin) in images {
        assert_eq!(&sha256(&firmware().join("bin").join(name)), pin, "{name}");
    }
}

#[test]
fn the_programs_rebuild_to_the_same_bytes_where_their_compiler_is_here() {
    let pins = pins();
    let wanted = &pins.iter().find(|(k, _)| k == "rustc").unwrap().1;
    let here = Command::new("rustc").arg("-V").output().ok();
    let here = here.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let installed = ["thumbv7em-none-eabi", "thumbv6m-none-eabi"]
        .iter()
        .all(|t| targets.lines().any(|l| l.trim() == *t));
    if here.as_deref() != Some(wanted.as_str()) || !installed {
        eprintln!(
            "not rebuilt: the programs were built by {wanted}; here is {here:?} with the thumbv7em \
             and thumbv6m targets {}",
            if installed {
                "installed"
            } else {
                "not installed"
            }
        );
        return;
    }
    let target_dir = tempfile::tempdir().unwrap();
    let source = firmware().join("cpu-tests");
    for (target, name) in [
        ("thumbv7em-none-eabi", "cpu-tests-v7em.elf"),
        ("thumbv6m-none-eabi", "cpu-tests-v6m.elf"),
    ] {
        let status = Command::new("cargo")
            .current_dir(&source)
            .args(["build", "--release", "--locked", "--target", target])
            .env("CARGO_TARGET_DIR", target_dir.path())
            .env_remove("RUSTFLAGS")
            .status()
            .unwrap();
        assert!(status.success(), "building the {target} program failed");
        let built = target_dir.path().join(target).join("release/cpu-tests");
        let pin = &pins.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(&sha256(&built), pin, "{name} rebuilt differs from its pin");
    }
}
