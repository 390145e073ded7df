//! Shared by the integration tests: the station key goes to the build's temp area, never to
//! the user's home (`STATION_KEY_DIR`).

pub mod bench_server;
#[allow(dead_code)]
pub mod check;
pub mod golden;
pub mod libusb_sim;

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

/// One simulated fixture of a test station: `profile` is relative to the repository, `sim`
/// the body of its `[fixtures.sim]` inline table.
#[allow(dead_code)]
pub fn sim_fixture(id: &str, profile: &str, probe: &str, port: &str, sim: &str) -> String {
    let profile = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(profile);
    format!(
        r#"
[[fixtures]]
id = "{id}"
backend = "sim"
profile = "{}"
probe = "1209:5151:{probe}"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", port = "{port}" }}
power = {{ kind = "sim" }}
sim = {{ {sim} }}
"#,
        profile.display()
    )
}

/// A station file `name` in `dir` holding `fixtures`, its records in `dir/records`.
#[allow(dead_code)]
pub fn write_station(dir: &std::path::Path, name: &str, fixtures: &[String]) -> PathBuf {
    let text = format!(
        "id = \"test-bench\"\nrecords = \"records\"\n{}",
        fixtures.concat()
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
