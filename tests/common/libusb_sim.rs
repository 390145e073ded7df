//! libusb-sim built for the tests (once per test process, into its own target directory, so
//! the outer `cargo test` holds no lock it needs), and a directory that holds it as
//! `libusb-1.0.so.0` for `LD_LIBRARY_PATH`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libusb-sim-target")
}

/// The directory to put first on `LD_LIBRARY_PATH`.
pub fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--locked", "-p", "libusb-sim", "--target-dir"])
            .arg(target_dir())
            .output()
            .expect("run cargo to build libusb-sim");
        assert!(
            out.status.success(),
            "building libusb-sim failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let built = target_dir().join("debug/libusb_sim.so");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libusb-sim-lib");
        std::fs::create_dir_all(&dir).unwrap();
        // A copy beside the previous one, renamed over it: a running test never sees half.
        let tmp = dir.join(format!("libusb-1.0.so.0.{}", std::process::id()));
        std::fs::copy(&built, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join("libusb-1.0.so.0")).unwrap();
        dir
    })
}

/// The library file itself.
pub fn library() -> PathBuf {
    lib_dir().join("libusb-1.0.so.0")
}

/// A program from PATH, if installed.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// dfu-util, or `None` with the reason printed (the only reason a test here may skip).
pub fn dfu_util() -> Option<PathBuf> {
    let found = which("dfu-util");
    if found.is_none() {
        eprintln!("SKIPPED: dfu-util is not installed (Debian: apt-get install dfu-util)");
    }
    found
}

/// A command that loads libusb-sim in place of libusb and finds the server at `socket`.
pub fn on_bus(program: &Path, socket: &Path) -> Command {
    let mut c = Command::new(program);
    c.env("LD_LIBRARY_PATH", lib_dir())
        .env("STATION_USB_SOCKET", socket);
    c
}
