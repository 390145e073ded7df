//! Shared by the integration tests: the station key goes to the build's temp area, never to
//! the user's home (`STATION_KEY_DIR`).

use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)]
pub fn key_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("station-keys")
}

/// The station binary, run from the repository with test keys.
#[allow(dead_code)]
pub fn station() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_station"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STATION_KEY_DIR", key_dir());
    c
}
