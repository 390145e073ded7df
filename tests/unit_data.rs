//! Unit data into the F407's OTP, end to end through the real binary: the write is gated by the
//! typed label (nothing allocated or written without it), composed from the label, a MAC from
//! the persisted pool, per-unit calibration values and a certificate file, locked, read back,
//! and recorded (the certificate by hash only). The same unit tested again keeps its MAC and
//! finds its data already there; a unit whose OTP holds other data fails, untouched.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use station::config::load_station;
use station::sim::state;

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch copy of the provisioning profile writing OTP, and a one-fixture station.
fn bench(dir: &Path) -> PathBuf {
    bench_with(dir, 1)
}

fn bench_with(dir: &Path, rdp: u8) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = std::fs::read_to_string(repo.join("profiles/f407-provisioning.toml"))
        .unwrap()
        .replace("../fixtures/", &format!("{}/fixtures/", repo.display()));
    let otp = profile.replace(
        "area = \"flash\"\naddress = 0x080E0000         # sector 11, the configuration sector\nsize = 64",
        "area = \"otp\"\naddress = 0x1FFF7800\nsize = 64\nlock = true\ndir = \"unit-data\"",
    );
    assert_ne!(otp, profile);
    let otp = otp.replace("rdp = 1", &format!("rdp = {rdp}"));
    let otp = otp.replace(
        "{ name = \"adc_gain\", offset = 24, kind = \"f32\", value = 1.0025 },",
        "{ name = \"adc_gain\", offset = 24, kind = \"f32\", key = \"gain\" },\n  { name = \"cert\", offset = 32, kind = \"file\", file = \"{label}.der\", size = 28 },",
    );
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::fs::write(dir.join("profiles/otp.toml"), otp).unwrap();
    let fixture = common::sim_fixture(
        "otp-1",
        &dir.join("profiles/otp.toml").display().to_string(),
        "OTP-1",
        "otp-1",
        "family = \"f4\", part = \"STM32F407VG\", seed = 77",
    );
    common::write_station(dir, "otp", &[fixture])
}

fn run(station: &Path, typed: Option<&str>) -> Output {
    let mut cmd = common::station();
    cmd.args(["run", "--headless", "--units", "1", "--json", "--station"])
        .arg(station);
    if let Some(t) = typed {
        cmd.args(["--yes-i-typed", t]);
    }
    cmd.output().unwrap()
}

/// The record the run wrote, from its `unit_finished` event.
fn record_of(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "unit_finished")
        .and_then(|e| e["record"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("no unit_finished event: {}", text(out)));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The fixture's saved unit, and where it is saved.
fn load_saved(station_file: &Path) -> (state::Loaded, PathBuf) {
    let bench = load_station(station_file).unwrap();
    let f = bench.fixture("otp-1").unwrap();
    let path = station::backend::state_path(&station::backend::state_dir(&bench), "otp-1");
    let usb = station::sim::UsbIdentities {
        application: f.usb_application,
        bootloader: f.usb_bootloader,
        rom: f.usb_rom,
        port_path: "otp-1".into(),
    };
    (state::load(&path, usb).unwrap().unwrap(), path)
}

fn saved_otp(station_file: &Path) -> Vec<u8> {
    load_saved(station_file)
        .0
        .mcu
        .otp
        .as_ref()
        .unwrap()
        .bytes
        .clone()
}

/// The label of the `unit`th simulated unit on fixture otp-1: the last 8 hex digits of its UID.
fn label_of(unit: u64) -> String {
    let uid: String = station::sim::unit_uid(77, "otp-1", unit)
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02X}"))
        .collect();
    uid[uid.len() - 8..].to_string()
}

#[test]
fn otp_unit_data_is_gated_written_locked_recorded_and_never_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let station_file = bench(tmp.path());
    let records = tmp.path().join("records");

    // Unit 1, without its label typed: ABORTED before anything is allocated or written.
    let out = run(&station_file, Some(&label_of(2)));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let refused = record_of(&out);
    let uid = refused["uid"].as_str().unwrap();
    assert!(uid.ends_with(&label_of(1)), "{uid}");
    let step = refused["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (step["name"].as_str(), step["outcome"].as_str()),
        (Some("unit_data"), Some("ABORTED"))
    );
    let message = step["error"].as_str().unwrap();
    assert!(message.contains("OTP writes are irreversible"), "{message}");
    assert!(
        message.contains(&format!("--yes-i-typed {}", label_of(1))),
        "{message}"
    );
    assert!(
        !records.join(".station/mac-pool.json").exists(),
        "no MAC handed out"
    );
    assert!(saved_otp(&station_file).iter().all(|b| *b == 0xFF));

    // Unit 2 with its label typed, its calibration values file and its certificate.
    let label = label_of(2);
    let data = tmp.path().join("profiles/unit-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(format!("{label}.toml")), "gain = 0.998\n").unwrap();
    let cert: Vec<u8> = (0..20u8).collect();
    std::fs::write(data.join(format!("{label}.der")), &cert).unwrap();
    let out = run(&station_file, Some(&label));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let record = record_of(&out);
    let step = record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "unit_data")
        .unwrap()
        .clone();
    let d = &step["details"];
    assert_eq!(d["area"], "otp");
    assert_eq!(d["written"], true);
    assert_eq!(d["locked"], true);
    assert_eq!(d["mac"], "02:53:54:00:00:00");
    assert_eq!(d["fields"]["label"], label.as_str());
    assert!((d["fields"]["adc_gain"].as_f64().unwrap() - 0.998).abs() < 1e-6);
    let cert_sha = station::image::sha256_hex(&cert);
    assert_eq!(d["fields"]["cert"]["sha256"], cert_sha.as_str());
    assert!(
        !record.to_string().contains("[0,1,2,3"),
        "the certificate's bytes are not in the record"
    );
    // The bytes in the part: what the record pins, and blocks 0-1 locked.
    let otp = saved_otp(&station_file);
    assert_eq!(
        station::image::sha256_hex(&otp[..64]),
        d["sha256"].as_str().unwrap()
    );
    assert_eq!(&otp[16..22], &[0x02, 0x53, 0x54, 0, 0, 0]);
    assert_eq!(&otp[32..52], &cert[..]);
    assert_eq!(
        &otp[512..515],
        &[0x00, 0x00, 0xFF],
        "lock bytes of blocks 0 and 1 only"
    );

    // Unit 3: the MAC pool moves on; nothing is handed out twice.
    let label3 = label_of(3);
    std::fs::write(data.join(format!("{label3}.toml")), "gain = 1.0\n").unwrap();
    std::fs::write(data.join(format!("{label3}.der")), b"other").unwrap();
    let out = run(&station_file, Some(&label3));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let third = record_of(&out);
    let mac3 = third["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "unit_data")
        .unwrap()["details"]["mac"]
        .clone();
    assert_eq!(mac3, "02:53:54:00:00:01");
}

/// The unit a fixture holds, tested again in-process: its saved state, the engine's steps.
fn retest(station_file: &Path, typed: &[String]) -> Vec<Value> {
    static ABORT: AtomicBool = AtomicBool::new(false);
    let bench = load_station(station_file).unwrap();
    let fixture = bench.fixture("otp-1").unwrap();
    let profile = bench.profile_of(fixture);
    let images = station::station::load_unit_images(profile).unwrap();
    let mut hw = station::backend::open_saved(&bench, fixture)
        .unwrap()
        .unwrap();
    // The last run's teardown switched the unit off.
    station::station::dut::ensure_powered(&mut hw).unwrap();
    let sink = |_: station::station::events::Event| {};
    let mut run = station::station::unit::UnitRun {
        fixture,
        profile,
        images: &images,
        hw,
        unit: 0,
        sink: &sink,
        steps: Vec::new(),
        device: None,
        failure: None,
        abort: &ABORT,
        journal: None,
        typed_labels: typed,
        records_dir: &bench.records_dir,
        cancel: None,
        scanned_label: None,
        gates: None,
        attempt: None,
    };
    run.provision();
    run.hw.save().unwrap();
    run.steps
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect()
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps.iter().find(|s| s["name"] == name).unwrap()
}

#[test]
fn a_unit_keeps_its_otp_data_and_mac_and_other_data_there_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    // RDP 0, so the unit can be tested again over SWD.
    let station_file = bench_with(tmp.path(), 0);
    let label = label_of(1);
    let data = tmp.path().join("profiles/unit-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(format!("{label}.toml")), "gain = 1.5\n").unwrap();
    std::fs::write(data.join(format!("{label}.der")), b"cert").unwrap();
    let out = run(&station_file, Some(&label));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = record_of(&out);
    let written = step(first["steps"].as_array().unwrap(), "unit_data")["details"].clone();
    let before = saved_otp(&station_file);

    // Tested again, without typing anything: the data is already there, the MAC the same.
    let steps = retest(&station_file, &[]);
    let again = step(&steps, "unit_data");
    assert_eq!(again["outcome"], "PASS", "{again}");
    assert_eq!(again["details"]["written"], false);
    assert_eq!(again["details"]["mac_newly_allocated"], false);
    assert_eq!(again["details"]["mac"], written["mac"]);
    assert_eq!(saved_otp(&station_file), before);

    // Someone else's data in the OTP (one label byte differs): FAIL, and nothing changes.
    let edit = |otp: &mut Vec<u8>| otp[0] &= 0x0F;
    edit_saved_otp(&station_file, edit);
    let tampered = saved_otp(&station_file);
    let steps = retest(&station_file, std::slice::from_ref(&label));
    let refused = step(&steps, "unit_data");
    assert_eq!(refused["outcome"], "FAIL", "{refused}");
    let why = refused["error"].as_str().unwrap();
    assert!(
        why.contains("already holds other data (OTP cannot be rewritten)"),
        "{why}"
    );
    assert_eq!(saved_otp(&station_file), tampered);
}

fn edit_saved_otp(station_file: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let (mut loaded, path) = load_saved(station_file);
    edit(&mut loaded.mcu.otp.as_mut().unwrap().bytes);
    state::save(&loaded.mcu, loaded.unit, &path).unwrap();
}

#[test]
fn configuration_sector_data_is_written_read_back_and_recorded_with_a_mac_per_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path();
    let out = common::station()
        .args(["run", "--headless", "--units", "4", "--json", "--station"])
        .arg("stations/provisioning.toml")
        .arg("--records")
        .arg(records)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let finished: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "unit_finished")
        .collect();
    assert_eq!(finished.len(), 4);
    let mut macs = std::collections::BTreeSet::new();
    let mut last = std::collections::BTreeMap::new();
    for event in &finished {
        let path = PathBuf::from(event["record"].as_str().unwrap());
        let record: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let step = step(record["steps"].as_array().unwrap(), "unit_data").clone();
        let d = &step["details"];
        assert_eq!(
            (d["area"].as_str(), d["written"].as_bool()),
            (Some("flash"), Some(true))
        );
        let uid = record["uid"].as_str().unwrap();
        assert_eq!(
            d["fields"]["label"],
            &uid[uid.len() - 8..],
            "the UID's tail"
        );
        assert_eq!(d["mac_newly_allocated"], true);
        assert!(
            macs.insert(d["mac"].as_str().unwrap().to_string()),
            "{macs:?}"
        );
        let fixture = record["fixture"].as_str().unwrap().to_string();
        last.insert(fixture, (record["record_id"].clone(), d["sha256"].clone()));
    }
    let want: std::collections::BTreeSet<String> =
        (0..4).map(|i| format!("02:53:54:00:00:{i:02x}")).collect();
    assert_eq!(macs, want, "the pool hands out each address once, in order");
    // The configuration sector of each fixture's last unit holds what its record pins.
    let mut bench = load_station(Path::new("stations/provisioning.toml")).unwrap();
    bench.records_dir = records.to_path_buf();
    for (fixture, (_, sha)) in last {
        let f = bench.fixture(&fixture).unwrap();
        let usb = station::sim::UsbIdentities {
            application: f.usb_application,
            bootloader: f.usb_bootloader,
            rom: f.usb_rom,
            port_path: fixture.clone(),
        };
        let path = station::backend::state_path(&station::backend::state_dir(&bench), &fixture);
        let mcu = state::load(&path, usb).unwrap().unwrap().mcu;
        let bytes = mcu.flash.read(0x080E_0000, 64).unwrap();
        assert_eq!(
            station::image::sha256_hex(bytes),
            sha.as_str().unwrap(),
            "{fixture}"
        );
    }
}
