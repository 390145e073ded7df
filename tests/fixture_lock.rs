//! One process at a time on a fixture (#19: a second `station run` on the same fixture
//! passed while the first ended ERROR). Another process (this test) holds the fixture's
//! lock file as a station would; every command that touches a unit is refused, naming the
//! holder, and touches nothing.

mod common;

use std::fs::File;
use std::io::Write;
use std::process::Output;

use common::check::{STATION, Scratch};

/// Hold sim-1 the way a station process does: the OS lock on its file, and who holds it.
fn hold_sim_1(s: &Scratch) -> File {
    let path = s.path("logs/.station/fixtures/sim-1.lock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = File::create(&path).unwrap();
    file.try_lock().expect("the fixture is free");
    writeln!(file, "pid 4242: station run --station other.toml").unwrap();
    file
}

fn station(s: &Scratch, args: &[&str]) -> Output {
    common::station()
        .args(args)
        .args(["--station", STATION, "--fixture", "sim-1"])
        .current_dir(s.dir.path())
        .output()
        .unwrap()
}

#[track_caller]
fn refused(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "fixture sim-1 is in use by another process (pid 4242: station run --station other.toml)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_fixture_another_process_holds_is_refused_by_every_command_that_touches_a_unit() {
    let s = Scratch::new();
    let held = hold_sim_1(&s);
    refused(&station(&s, &["run", "--headless", "--units", "1"]));
    refused(&station(&s, &["inspect"]));
    let dump = s.path("dump.bin");
    refused(&station(&s, &["dump", "--output", dump.to_str().unwrap()]));
    assert!(!dump.exists(), "the flash was dumped");
    assert!(
        !s.path("logs/.station/sim/sim-1.state").exists(),
        "a unit was touched"
    );
    drop(held);
    let out = station(&s, &["run", "--headless", "--units", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "released: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_other_fixtures_stay_free() {
    let s = Scratch::new();
    let _held = hold_sim_1(&s);
    let out = common::station()
        .args([
            "run",
            "--headless",
            "--station",
            STATION,
            "--fixture",
            "sim-2",
            "--units",
            "1",
        ])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
