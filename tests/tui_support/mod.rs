//! A test bench for the TUI's end-to-end tests: four simulated F407 fixtures, the fourth
//! with a unit that arrives locked at RDP level 1 (the `rdp1` fault), so it fails production
//! and needs an RMA recovery. Its profile leaves units open (RDP 0), so that once recovered
//! the same unit passes a retest: with RDP 1 the retest could not reflash the bootloader.
//! `policy_station` is one such open fixture under a station's policies; `engine` drives the
//! TUI's state and runner in process.

use std::path::{Path, PathBuf};

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)]
pub mod engine;

pub use common::key_dir;

/// profiles/f407-demo.toml with RDP 0, no write protection, and absolute image paths.
fn open_profile(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = std::fs::read_to_string(repo.join("profiles/f407-demo.toml")).unwrap();
    let fixtures = format!("\"{}/", repo.join("fixtures").display());
    let text: Vec<String> = demo
        .lines()
        .map(|line| match line {
            l if l.starts_with("name = ") => "name = \"f407-open\"".to_string(),
            l if l.starts_with("rdp = ") => "rdp = 0".to_string(),
            l if l.starts_with("write_protect = ") => "write_protect = []".to_string(),
            l => l.replace("\"../fixtures/", &fixtures),
        })
        .collect();
    let path = dir.join("f407-open.toml");
    std::fs::write(&path, text.join("\n")).unwrap();
    path
}

/// The station file in `dir` (records in `dir/records`); `tag` keeps simulated probe serials
/// apart from other tests in the same process.
#[allow(dead_code)]
pub fn station(dir: &Path, tag: &str) -> PathBuf {
    let open = open_profile(dir);
    let mut fixtures: Vec<String> = (1..=3)
        .map(|i| {
            common::sim_fixture(
                &format!("sim-{i}"),
                "profiles/f407-demo.toml",
                &format!("{tag}-{i}"),
                &format!("{tag}-{i}"),
                "family = \"f4\", part = \"STM32F407VG\", seed = 1",
            )
        })
        .collect();
    fixtures.push(common::sim_fixture(
        "sim-4",
        open.to_str().unwrap(),
        &format!("{tag}-4"),
        &format!("{tag}-4"),
        "family = \"f4\", part = \"STM32F407VG\", seed = 1, faults = [\"rdp1\"]",
    ));
    common::write_station(dir, "station.toml", &fixtures)
}

/// A station file in `dir` with one open F407 fixture `p-1` (records in `dir/records`): `top`
/// goes before the fixtures (mode, `[operator]`, `[rework]`, `[golden]`), `faults` into its
/// simulation; `tag` keeps its probe serial apart from other tests in the process.
#[allow(dead_code)]
pub fn policy_station(dir: &Path, tag: &str, top: &str, faults: &str) -> PathBuf {
    let open = open_profile(dir);
    let fixture = common::sim_fixture(
        "p-1",
        open.to_str().unwrap(),
        tag,
        tag,
        &format!("family = \"f4\", part = \"STM32F407VG\", seed = 7, faults = [{faults}]"),
    );
    let text = format!("id = \"policy-bench\"\nrecords = \"records\"\n{top}\n{fixture}");
    let path = dir.join("station.toml");
    std::fs::write(&path, text).unwrap();
    path
}
