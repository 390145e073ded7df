//! The engine's policies, in process on the virtual bench: rework routing and clearance, a
//! label bound to its chip, step timeouts and retries, the guaranteed teardown, the real-time
//! watchdog, the golden-unit gate, and what every record carries (mode, attempt, fixture).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::AtomicBool;

use station::config::{Station, load_station};
use station::record::{Outcome, Record, RecordKind, RecordStore};
use station::station::{self as engine, Event, RunOptions, RunSummary};

static NEVER: AtomicBool = AtomicBool::new(false);

fn keys() {
    static KEYS: Once = Once::new();
    // The only variable these tests set, once, before any of them reads it.
    KEYS.call_once(|| unsafe {
        std::env::set_var("STATION_KEY_DIR", common::key_dir());
    });
}

/// A station in `dir` with one F407 fixture: `top` goes before the fixtures, `profile_tail`
/// after a copy of the demo profile, `faults` into the fixture's simulation.
fn bench(dir: &Path, probe: &str, top: &str, profile_tail: &str, faults: &str) -> PathBuf {
    keys();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = std::fs::read_to_string(repo.join("profiles/f407-demo.toml"))
        .unwrap()
        .replace("\"../fixtures/", &format!("\"{}/fixtures/", repo.display()));
    let profile_path = dir.join("profile.toml");
    std::fs::write(&profile_path, format!("{profile}\n{profile_tail}\n")).unwrap();
    let text = format!(
        r#"id = "policy-bench"
records = "records"
mode = "production"
{top}

[[fixtures]]
id = "p-1"
backend = "sim"
profile = "{}"
probe = "1209:5151:{probe}"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", port = "{probe}" }}
power = {{ kind = "sim" }}
sim = {{ family = "f4", part = "STM32F407VG", seed = 11, faults = [{faults}] }}
"#,
        profile_path.display()
    );
    let path = dir.join("station.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(path: &Path) -> Station {
    load_station(path).unwrap_or_else(|e| panic!("{e:?}"))
}

fn options(retest: bool, labels: &[&str]) -> RunOptions {
    RunOptions {
        units: 1,
        operator: "tester".into(),
        fixtures: Vec::new(),
        abort: &NEVER,
        typed_labels: Vec::new(),
        retest,
        labels: labels
            .iter()
            .map(|l| ("p-1".to_string(), l.to_string()))
            .collect(),
        golden: false,
    }
}

fn run(station: &Station, options: &RunOptions) -> (RunSummary, Record) {
    let sink = |_: Event| {};
    let summary = engine::run(station, options, &sink).unwrap();
    let record = read(&summary.units[0].3);
    (summary, record)
}

/// The profile's bootloader flash limit becomes one no flash meets: the unit FAILs there.
fn slow_flash_fails(dir: &Path) {
    let profile = dir.join("profile.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    let failing = text.replace(
        "flash_bootloader_s = { high = 10.0 }",
        "flash_bootloader_s = { low = 1000.0 }",
    );
    assert_ne!(text, failing);
    std::fs::write(&profile, failing).unwrap();
}

fn read(path: &Path) -> Record {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn step<'a>(record: &'a Record, name: &str) -> &'a station::record::StepRecord {
    record
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {:#?}", record.steps))
}

#[test]
fn a_unit_failing_too_often_is_routed_to_rework_until_a_technician_clears_it() {
    let tmp = tempfile::tempdir().unwrap();
    // Flashing the bootloader never meets its time limit: every attempt fails (the unit's
    // fault) before the unit is locked.
    let path = bench(
        tmp.path(),
        "REWORK-1",
        "[rework]\nafter_failures = 2",
        "",
        "",
    );
    slow_flash_fails(tmp.path());
    let station = load(&path);
    let (_, first) = run(&station, &options(false, &[]));
    assert_eq!(first.outcome, Outcome::Fail, "{:?}", first.failure);
    assert_eq!(first.attempt, Some(1));
    let (_, second) = run(&station, &options(true, &[]));
    assert_eq!((second.outcome, second.attempt), (Outcome::Fail, Some(2)));
    assert_eq!(second.uid, first.uid, "the retest is the same unit");

    // A third attempt is refused before anything on the unit changes.
    let (_, refused) = run(&station, &options(true, &[]));
    assert_eq!(refused.outcome, Outcome::Fail);
    let why = refused.failure.clone().unwrap();
    assert!(why.contains("routed to rework"), "{why}");
    assert_eq!(refused.attempt, Some(3), "a refused attempt is counted too");
    assert!(why.contains("station rework clear"), "{why}");
    assert_eq!(
        refused.steps.last().unwrap().name,
        "traceability",
        "nothing after the check ran"
    );

    // Clearing needs a name; then the unit is taken again, its attempts counted on.
    assert!(engine::rework::clear(&station, &first.serial, " ", None).is_err());
    let cleared =
        engine::rework::clear(&station, &first.serial, "tech-ana", Some("reseated J3")).unwrap();
    assert_eq!(cleared.failures, 3);
    let clearance = read(&cleared.path);
    assert_eq!(clearance.kind, RecordKind::Clearance);
    assert_eq!(clearance.operator, "tech-ana");
    assert_eq!(
        clearance.steps[0].details["reason"],
        serde_json::json!("reseated J3")
    );
    // Nothing left to clear.
    let again = engine::rework::clear(&station, &first.serial, "tech-ana", None).unwrap_err();
    assert!(
        again.message.contains("not routed to rework"),
        "{}",
        again.message
    );

    let (_, after) = run(&station, &options(true, &[]));
    assert_eq!(after.attempt, Some(4));
    assert_eq!(step(&after, "traceability").outcome, Outcome::Pass);
    assert_eq!(
        step(&after, "traceability").details["failures_since_clearance"],
        serde_json::json!(0)
    );
}

#[test]
fn a_label_belongs_to_the_chip_it_was_first_provisioned_on() {
    let tmp = tempfile::tempdir().unwrap();
    let station = load(&bench(tmp.path(), "LABEL-1", "", "", ""));
    let (_, first) = run(&station, &options(false, &["SN-0001"]));
    assert_eq!(first.outcome, Outcome::Pass, "{:?}", first.failure);
    assert_eq!(first.label.as_deref(), Some("SN-0001"));

    // The next unit on the fixture is another chip, scanned with the same label.
    let (_, second) = run(&station, &options(false, &["SN-0001"]));
    assert_ne!(second.uid, first.uid);
    assert_eq!(second.outcome, Outcome::Fail);
    let why = second.failure.unwrap();
    assert!(why.contains(first.uid.as_deref().unwrap()), "{why}");
    assert!(why.contains(&first.record_id), "{why}");

    // A label of its own passes.
    let (_, third) = run(&station, &options(false, &["SN-0002"]));
    assert_eq!(third.outcome, Outcome::Pass, "{:?}", third.failure);
}

#[test]
fn a_step_times_out_on_the_fixture_clock_and_retries_as_the_profile_says() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "STEPS-1",
        "",
        "[steps.dfu_download]\ntimeout_s = 0.001",
        "",
    );
    let (summary, record) = run(&load(&path), &options(false, &[]));
    assert_eq!(record.outcome, Outcome::Timeout);
    let dfu = step(&record, "dfu_download");
    assert!(
        dfu.error
            .as_deref()
            .unwrap()
            .contains("steps.dfu_download.timeout_s"),
        "{dfu:?}"
    );
    assert_eq!(summary.exit_status(), station::error::ExitStatus::Station);

    // A FAIL the policy retries: three tries, each recorded, and still a FAIL.
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "STEPS-2",
        "",
        "[steps.flash_bootloader]\nretries = 2\nretry_fail = true",
        "",
    );
    slow_flash_fails(tmp.path());
    let (_, record) = run(&load(&path), &options(false, &[]));
    assert_eq!(record.outcome, Outcome::Fail);
    let flash = step(&record, "flash_bootloader");
    assert_eq!(flash.details["tries"], serde_json::json!(3));
    let earlier = flash.details["earlier_tries"].as_array().unwrap();
    assert_eq!(earlier.len(), 2);
    assert!(earlier[0].as_str().unwrap().contains("outside its limits"));
    // Without retry_fail a FAIL is final.
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "STEPS-3",
        "",
        "[steps.flash_bootloader]\nretries = 2",
        "",
    );
    slow_flash_fails(tmp.path());
    let (_, record) = run(&load(&path), &options(false, &[]));
    assert!(
        !step(&record, "flash_bootloader")
            .details
            .contains_key("tries")
    );
}

#[test]
fn every_unit_ends_powered_off_and_its_record_names_mode_attempt_and_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(tmp.path(), "TEARDOWN-1", "", "", "");
    let station = load(&path);
    let (_, pass) = run(&station, &options(false, &[]));
    assert_eq!(pass.outcome, Outcome::Pass, "{:?}", pass.failure);
    assert_eq!(pass.mode.as_deref(), Some("production"));
    assert_eq!(pass.attempt, Some(1));
    let hardware = pass.hardware.clone().unwrap();
    assert_eq!(
        (hardware.backend.as_str(), hardware.probe.as_str()),
        ("sim", "1209:5151:TEARDOWN-1")
    );
    assert_eq!(hardware.fixture_cycles, Some(1));
    let fixture = station.fixture("p-1").unwrap();
    let held = station::backend::open_saved(&station, fixture)
        .unwrap()
        .unwrap();
    assert!(
        !held.power.as_ref().unwrap().is_on(),
        "powered off at teardown"
    );
    drop(held);
    // A failing unit is switched off too, and the next unit counts the fixture's cycles.
    let tmp2 = tempfile::tempdir().unwrap();
    let path = bench(tmp2.path(), "TEARDOWN-2", "", "", "\"never-enumerates\"");
    let station = load(&path);
    run(&station, &options(false, &[]));
    let (_, failed) = run(&station, &options(false, &[]));
    assert_eq!(failed.outcome, Outcome::Fail);
    assert_eq!(failed.hardware.unwrap().fixture_cycles, Some(2));
    let held = station::backend::open_saved(&station, station.fixture("p-1").unwrap())
        .unwrap()
        .unwrap();
    assert!(!held.power.as_ref().unwrap().is_on());
}

/// Real time: the watchdog waits 0.3 s of wall time for a USB request that never returns.
#[test]
fn the_watchdog_closes_a_hung_unit_as_timeout_in_real_time() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "HANG-1",
        "watchdog_s = 0.3",
        "",
        "\"hang-at-request:5\"",
    );
    let station = load(&path);
    let mut opts = options(false, &[]);
    opts.units = 3;
    let events = std::sync::Mutex::new(Vec::new());
    let sink = |e: Event| events.lock().unwrap().push(e);
    let summary = engine::run(&station, &opts, &sink).unwrap();
    // The hung fixture takes no more units.
    assert_eq!(summary.units.len(), 1);
    let record = read(&summary.units[0].3);
    assert_eq!(record.outcome, Outcome::Timeout);
    let why = record.failure.unwrap();
    assert!(why.contains("hung in step dfu_download"), "{why}");
    assert!(why.contains("watchdog_s"), "{why}");
    // What had been done is kept: the steps before the hang passed.
    let names: Vec<&str> = record.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"option_bytes"), "{names:?}");
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::UnitFinished {
            outcome: Outcome::Timeout,
            ..
        }
    )));
    // No journal is left for the next start to close again.
    let journal = tmp.path().join("records/.station/journal");
    let left: Vec<_> = std::fs::read_dir(&journal)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left.iter().any(|n| n.to_string_lossy().ends_with(".json")),
        "{left:?}"
    );
}

#[test]
fn production_waits_for_the_golden_unit_each_shift() {
    let tmp = tempfile::tempdir().unwrap();
    // Engineering mode needs no golden unit: provision the one that will be golden.
    let path = bench(tmp.path(), "GOLDEN-1", "", "", "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("mode = \"production\"", "mode = \"engineering\"");
    std::fs::write(&path, text).unwrap();
    let (_, made) = run(&load(&path), &options(false, &[]));
    assert_eq!(made.outcome, Outcome::Pass, "{:?}", made.failure);
    assert_eq!(made.mode.as_deref(), Some("engineering"));
    let uid = made.uid.clone().unwrap();

    let golden_station = |uid: &str| {
        let text = std::fs::read_to_string(tmp.path().join("station.toml"))
            .unwrap()
            .replace("mode = \"engineering\"", "mode = \"production\"");
        let text = text.replace(
            "[[fixtures]]",
            &format!("[golden]\nuid = \"{uid}\"\nevery_hours = 12\n\n[[fixtures]]"),
        );
        let path = tmp.path().join("golden.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    };
    let station = golden_station(&uid);
    let sink = |_: Event| {};
    let refused = engine::run(&station, &options(false, &[]), &sink).unwrap_err();
    assert!(
        refused.message.contains("golden unit"),
        "{}",
        refused.message
    );

    // The golden check on the unit the fixture holds.
    let mut golden = options(false, &[]);
    golden.golden = true;
    let (_, check) = run(&station, &golden);
    assert_eq!(check.outcome, Outcome::Pass, "{:?}", check.failure);
    assert_eq!(check.kind, RecordKind::Golden);
    for name in ["golden_identity", "option_bytes_check", "dfu_download"] {
        assert_eq!(step(&check, name).outcome, Outcome::Pass, "{name}");
    }
    assert!(check.steps.iter().all(|s| s.name != "flash_bootloader"));
    let (_, production) = run(&station, &options(false, &[]));
    assert_eq!(
        production.outcome,
        Outcome::Pass,
        "{:?}",
        production.failure
    );

    // Another unit is not the golden one; production stats leave golden checks out.
    let other = golden_station(&"0".repeat(24));
    let (_, wrong) = run(&other, &golden);
    assert_eq!(wrong.outcome, Outcome::Fail);
    assert!(wrong.failure.unwrap().contains("not the golden unit"));
    let store = RecordStore::open(&tmp.path().join("records")).unwrap();
    let (stats, _) = store.stats(None).unwrap();
    assert_eq!(stats.units, 2, "{stats:?}");
}

#[test]
fn bad_policies_are_named_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "BAD-1",
        "watchdog_s = -1\n[golden]\nuid = \"12345\"",
        "[steps.flash_bootlader]\nretries = 1",
        "",
    );
    let errors = load_station(&path).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("steps.flash_bootlader"), "{all}");
    assert!(all.contains("expected a step name"), "{all}");
    assert!(all.contains("golden.uid"), "{all}");
    assert!(all.contains("watchdog_s"), "{all}");
    assert!(all.contains("station.toml:4"), "{all}");
}

#[test]
fn the_cli_names_what_is_wrong_with_a_clearance_or_a_label() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(tmp.path(), "CLI-1", "", "", "");
    let out = common::station()
        .args([
            "rework",
            "clear",
            "UID-NOSUCHUNIT",
            "--by",
            "tech",
            "--station",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no production record"));
    // Two fixtures: a bare label does not say whose unit it is.
    let out = common::station()
        .args([
            "run",
            "--headless",
            "--station",
            "stations/virtual.toml",
            "--records",
        ])
        .arg(tmp.path().join("records"))
        .args(["--label", "SN-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FIXTURE=SN-1"), "{stderr}");
    // Named, it is recorded with the unit.
    let out = common::station()
        .args([
            "run",
            "--headless",
            "--json",
            "--station",
            "stations/virtual.toml",
            "--fixture",
            "sim-2",
            "--records",
        ])
        .arg(tmp.path().join("records"))
        .args(["--label", "sim-2=SN-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let store = RecordStore::open(&tmp.path().join("records")).unwrap();
    let history = store.history("SN-1").unwrap();
    assert_eq!(history.records.len(), 1);
    assert_eq!(history.records[0].1.label.as_deref(), Some("SN-1"));
}

#[test]
fn a_locked_unit_is_provisioned_again_only_when_a_person_typed_its_label() {
    let tmp = tempfile::tempdir().unwrap();
    let station = load(&bench(tmp.path(), "RELOCK-1", "", "", ""));
    let (_, first) = run(&station, &options(false, &["SN-77"]));
    assert_eq!(first.outcome, Outcome::Pass, "{:?}", first.failure);
    // RDP 1 now: a retest would erase the unit, so without the typed label nothing changes.
    let (_, refused) = run(&station, &options(true, &["SN-77"]));
    assert_eq!(refused.outcome, Outcome::Aborted);
    let why = refused.failure.unwrap();
    assert!(why.contains("read-protected (RDP 1)"), "{why}");
    assert!(why.contains("--yes-i-typed SN-77"), "{why}");
    let mut typed = options(true, &["SN-77"]);
    typed.typed_labels = vec!["sn-77".into()];
    let (_, again) = run(&station, &typed);
    assert_eq!(again.outcome, Outcome::Pass, "{:?}", again.failure);
    let flash = step(&again, "flash_bootloader");
    let regressed = &flash.details["rdp_regressed"];
    assert_eq!(regressed["before"]["rdp_level"], 1);
    assert_eq!(regressed["after"]["rdp_level"], 0);
    // Provisioned again from erased flash, and locked again by its option bytes.
    assert_eq!(flash.details["skipped_identical"], serde_json::json!(false));
    assert_eq!(
        step(&again, "option_bytes").details["after"]["rdp_level"],
        1
    );
}

#[test]
fn a_retest_without_a_scan_keeps_the_label_the_unit_was_provisioned_under() {
    let tmp = tempfile::tempdir().unwrap();
    let station = load(&bench(tmp.path(), "POLICY-RETEST-LABEL", "", "", ""));
    let (_, first) = run(&station, &options(false, &["SN-77"]));
    assert_eq!(
        (first.outcome, first.label.as_deref()),
        (Outcome::Pass, Some("SN-77"))
    );
    let (_, retest) = run(&station, &options(true, &[]));
    assert_eq!(retest.uid, first.uid, "the same unit");
    assert_eq!(retest.label.as_deref(), Some("SN-77"), "{retest:?}");
    // The locked unit is reopened only behind its label: the one it carries, not the UID's.
    if retest.outcome == Outcome::Aborted {
        let failure = retest.failure.unwrap_or_default();
        assert!(failure.contains("SN-77"), "{failure}");
    }
}

#[test]
fn dfu_verify_fails_a_weak_sector_at_the_download_naming_the_address() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bench(
        tmp.path(),
        "POLICY-DFU-VERIFY",
        "",
        "",
        r#""weak-sector:2""#,
    );
    let profile = tmp.path().join("profile.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    let edited = text.replacen(
        "erase = \"progressive\"",
        "erase = \"progressive\"\nverify = true",
        1,
    );
    assert_ne!(edited, text, "the profile has a [dfu] erase key");
    std::fs::write(&profile, edited).unwrap();
    let (_, record) = run(&load(&path), &options(false, &[]));
    assert_eq!(record.outcome, Outcome::Fail, "{record:?}");
    let failure = record.failure.unwrap_or_default();
    assert!(
        failure.starts_with("dfu_download: DFU verify:") && failure.contains("the first at 0x0800"),
        "{failure}"
    );
}
