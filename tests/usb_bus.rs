//! Real USB software on the virtual bench: unmodified dfu-util, and the station's own rusb
//! backend, reach the simulated devices through libusb-sim and `station sim serve`. What
//! they do is checked through the station's other paths (the saved unit, SWD).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::bench_server::{BenchServer, command_ok, status};
use common::libusb_sim::{dfu_util, on_bus};
use station::image::header::{Version, build_app};

/// The ST ROM's alternate settings on an F407, as dfu-util must list them.
const ROM_ALTS: [&str; 4] = [
    "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
    "@Option Bytes  /0x1FFFC000/01*016 g",
    "@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
    "@Device Feature/0xFFFF0000/01*004 g",
];

const APP_BASE: u32 = 0x0802_0000;

fn app(dir: &Path, name: &str, minor: u8, seed: u8) -> PathBuf {
    let body: Vec<u8> = (0..5000u32)
        .map(|i| (i as u8).wrapping_mul(seed) ^ minor)
        .collect();
    let version = Version {
        major: 2,
        minor,
        patch: 0,
    };
    let path = dir.join(name);
    std::fs::write(&path, build_app(APP_BASE, version, "usb-bus-test", &body)).unwrap();
    path
}

/// A board whose slot A sits where the tests program (0x08020000), pinned to `app`.
fn profile(dir: &Path, app: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sha = station::image::sha256_hex(&std::fs::read(app).unwrap());
    let text = format!(
        r#"name = "usb-bus-test"
revision = "A"
chip = "STM32F407VGTx"
family = "f4"

[memory]
flash = {{ start = 0x08000000, size = 0x100000 }}
bootloader = {{ start = 0x08000000, size = 0x8000 }}
slots = [{{ name = "a", start = 0x08020000, size = 0x20000 }}]

[images.bootloader]
role = "bootloader"
path = "{}"
address = 0x08000000
sha256 = "16b768d6585684309c3313bb8e11ae9f1ef3538c5457f1491ca199e8ee5f0c43"

[images.application]
role = "application"
path = "{}"
address = 0x08020000
slot = "a"
sha256 = "{sha}"

[option_bytes]
rdp = 0
write_protect = []
bor_level = "3"

[dfu]
alt = 0
mode = "fast"
erase = "progressive"
"#,
        repo.join("fixtures/f407/bootloader-st-rom-boot0.bin")
            .display(),
        app.display()
    );
    let path = dir.join("usb-bus-test.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Served: `rom` (blank, reached through the BOOT0 strap), `boot` (an A/B bootloader with a
/// QSPI alt, waiting in DFU), `off` (blank, never on USB); and `rom-usb`, real hardware as the
/// station sees it: the device on bus 1 port 1, which is `rom`.
fn bench(dir: &Path, app: &Path) -> PathBuf {
    let profile = profile(dir, app);
    let sim = |seed: u32, tail: &str| {
        format!(r#"family = "f4", part = "STM32F407VG", seed = {seed}{tail}"#)
    };
    let rom = common::sim_fixture(
        "rom",
        profile.to_str().unwrap(),
        "BUS-1",
        "b1",
        &sim(41, ""),
    );
    let boot = common::sim_fixture(
        "boot",
        "profiles/f407-demo.toml",
        "BUS-2",
        "b2",
        &sim(
            42,
            r#", initial = "bootloader", bootloader = "ab-slots", knobs = { qspi = "true" }"#,
        ),
    );
    let off = common::sim_fixture(
        "off",
        profile.to_str().unwrap(),
        "BUS-3",
        "b3",
        &sim(43, ""),
    );
    let hw = format!(
        r#"
[[fixtures]]
id = "rom-usb"
backend = "hw"
profile = "{}"
probe = "0483:374b:NONE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "1-1" }}
power = {{ kind = "none" }}
"#,
        profile.display()
    );
    common::write_station(dir, "bus.toml", &[rom, boot, off, hw])
}

fn start(dir: &Path) -> (BenchServer, PathBuf) {
    let first = app(dir, "app.bin", 0, 7);
    let station = bench(dir, &first);
    let server = BenchServer::start(&station, dir, "realtime");
    command_ok(&server.sim(&["power", "cycle", "--fixture", "rom", "--boot0", "high"]));
    (server, station)
}

/// dfu-util on the bus; every command but a listing names `rom` by its path (bus 1 port 1),
/// and waits 1 s (not 5) for a device to come back after a detach.
fn dfu(dfu_util: &Path, server: &BenchServer, args: &[&str]) -> Output {
    let mut c = on_bus(dfu_util, &server.socket);
    if args != ["-l"] {
        c.args(["-p", "1-1", "-E", "1"]);
    }
    c.args(args).output().unwrap()
}

/// `station ARGS --station S`, in-process bench (the unit the server last saved).
fn station_cmd(station: &Path, args: &[&str]) -> Output {
    common::station()
        .args(args)
        .arg("--station")
        .arg(station)
        .output()
        .unwrap()
}

/// The station binary on the bus: its rusb backend loads libusb-sim.
fn station_on_bus(server: &BenchServer, args: &[&str]) -> Output {
    let mut c: Command = common::station();
    c.env("LD_LIBRARY_PATH", common::libusb_sim::lib_dir())
        .env("STATION_USB_SOCKET", &server.socket)
        .args(args);
    c.output().unwrap()
}

fn found_lines(listing: &str, path: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter(|l| l.starts_with("Found DFU") && l.contains(&format!("path=\"{path}\"")))
        .map(|l| {
            let alt = l.split("alt=").nth(1).unwrap();
            let alt: u32 = alt[..alt.find(',').unwrap()].parse().unwrap();
            let name = l.split("name=\"").nth(1).unwrap();
            (alt, name[..name.find('"').unwrap()].to_string())
        })
        .collect()
}

#[test]
fn dfu_util_lists_every_served_dfu_device_with_its_alt_settings() {
    let Some(dfu_util) = dfu_util() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (server, _) = start(tmp.path());
    let listing = command_ok(&dfu(&dfu_util, &server, &["-l"]));
    let mut rom = found_lines(&listing, "1-1");
    rom.sort();
    let expected: Vec<(u32, String)> = (0..4).map(|i| (i, ROM_ALTS[i as usize].into())).collect();
    assert_eq!(rom, expected, "{listing}");
    assert!(listing.contains("[0483:df11] ver=2200"), "{listing}");
    let mut boot = found_lines(&listing, "1-2");
    boot.sort();
    assert_eq!(boot.len(), 2, "{listing}");
    assert!(
        boot[0].1.starts_with("@Internal Flash   /0x08000000/"),
        "{listing}"
    );
    assert!(
        boot[1].1.starts_with("@QSPI Flash") && boot[1].1.ends_with("/0x90000000/128*064Kg"),
        "{listing}"
    );
    assert!(listing.contains("[1209:df00]"), "{listing}");
    assert!(
        found_lines(&listing, "1-3").is_empty(),
        "a blank unit is not on USB"
    );
    let serial = status(&server, "rom");
    assert_eq!(serial["on_usb"], true);
}

#[test]
fn dfu_util_programs_an_st_rom_device_reads_back_and_recovers_from_a_cut() {
    let Some(dfu_util) = dfu_util() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (server, station) = start(tmp.path());
    let first = tmp.path().join("app.bin");
    let at = format!("{APP_BASE:#010x}");

    let before = status(&server, "rom")["usb_requests"].as_u64().unwrap();
    command_ok(&dfu(
        &dfu_util,
        &server,
        &[
            "-a",
            "0",
            "-s",
            &format!("{at}:leave"),
            "-D",
            first.to_str().unwrap(),
        ],
    ));
    let download_requests = status(&server, "rom")["usb_requests"].as_u64().unwrap() - before;
    let verified = command_ok(&station_cmd(
        &station,
        &[
            "dfu",
            "verify",
            "--fixture",
            "rom",
            "--address",
            &at,
            first.to_str().unwrap(),
        ],
    ));
    assert!(verified.contains("bytes match app.bin"), "{verified}");
    let inspection: serde_json::Value = serde_json::from_str(&command_ok(&station_cmd(
        &station,
        &["inspect", "--fixture", "rom", "--json"],
    )))
    .unwrap();
    let slot = &inspection["slots"][0];
    assert_eq!(
        (&slot["check"], &slot["application"], &slot["version"]),
        (&"valid".into(), &"usb-bus-test".into(), &"2.0.0".into()),
        "{inspection}"
    );

    // What the station writes, dfu-util reads back.
    let second = app(tmp.path(), "app-2.1.bin", 1, 13);
    command_ok(&station_cmd(
        &station,
        &[
            "dfu",
            "download",
            "--fixture",
            "rom",
            "--address",
            &at,
            second.to_str().unwrap(),
        ],
    ));
    let len = std::fs::metadata(&second).unwrap().len();
    let read_back = tmp.path().join("read-back.bin");
    command_ok(&dfu(
        &dfu_util,
        &server,
        &[
            "-a",
            "0",
            "-s",
            &format!("{at}:{len}"),
            "-U",
            read_back.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read(&read_back).unwrap(),
        std::fs::read(&second).unwrap()
    );

    // A download cut halfway: the ROM product comes back (strapped) in the ROM with a half
    // written image, and the next dfu-util run recovers it.
    let third = app(tmp.path(), "app-2.2.bin", 2, 29);
    let cut_at = (download_requests / 2).to_string();
    command_ok(&server.sim(&["cut", "--fixture", "rom", "--at-request", &cut_at]));
    let cut = dfu(
        &dfu_util,
        &server,
        &[
            "-a",
            "0",
            "-s",
            &format!("{at}:leave"),
            "-D",
            third.to_str().unwrap(),
        ],
    );
    assert!(!cut.status.success(), "dfu-util saw the device go");
    let s = status(&server, "rom");
    assert_eq!(
        (&s["powered"], &s["on_usb"], &s["cut"]),
        (&false.into(), &false.into(), &"".into()),
        "{s}"
    );
    command_ok(&server.sim(&["power", "on", "--fixture", "rom"]));
    let s = status(&server, "rom");
    assert_eq!(
        (&s["on_usb"], &s["dfu_state"]),
        (&true.into(), &2.into()),
        "back in the ROM, dfuIDLE: {s}"
    );
    let half = station_cmd(
        &station,
        &[
            "dfu",
            "verify",
            "--fixture",
            "rom",
            "--address",
            &at,
            third.to_str().unwrap(),
        ],
    );
    assert_eq!(
        half.status.code(),
        Some(1),
        "half written: {}",
        String::from_utf8_lossy(&half.stderr)
    );
    // The power cut restarted the DFU function; a read past the end of flash leaves the ROM
    // in dfuERROR, so the recovery below goes through dfu-util's CLRSTATUS path as well.
    let past_end = tmp.path().join("past-end.bin");
    let refused = dfu(
        &dfu_util,
        &server,
        &[
            "-a",
            "0",
            "-s",
            "0x080FF000:0x2000",
            "-U",
            past_end.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert_eq!(status(&server, "rom")["dfu_state"], 10, "dfuERROR");
    let recovered = command_ok(&dfu(
        &dfu_util,
        &server,
        &[
            "-a",
            "0",
            "-s",
            &format!("{at}:leave"),
            "-D",
            third.to_str().unwrap(),
        ],
    ));
    assert!(recovered.contains("Clearing status"), "{recovered}");
    command_ok(&station_cmd(
        &station,
        &[
            "dfu",
            "verify",
            "--fixture",
            "rom",
            "--address",
            &at,
            third.to_str().unwrap(),
        ],
    ));
}

#[test]
fn the_stations_rusb_backend_runs_on_the_bus() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, station) = start(tmp.path());
    let listing = command_ok(&station_on_bus(&server, &["dfu", "list"]));
    assert!(listing.contains("0483:df11 port 1-1"), "{listing}");
    assert!(listing.contains("1209:df00 port 1-2"), "{listing}");
    assert!(listing.contains(ROM_ALTS[0]), "{listing}");
    assert!(!listing.contains("port 1-3"), "{listing}");

    let image = tmp.path().join("app.bin");
    let at = format!("{APP_BASE:#010x}");
    let station = station.to_str().unwrap();
    let image = image.to_str().unwrap();
    let args = ["--station", station, "--fixture", "rom-usb"];
    let download = command_ok(&station_on_bus(
        &server,
        &[
            &["dfu", "download"][..],
            &args,
            &["--address", &at, "--verify", image],
        ]
        .concat(),
    ));
    assert!(
        download.contains("ST system bootloader), verified"),
        "{download}"
    );
    // The application now runs: the station detaches it into the ROM again to check.
    let verified = command_ok(&station_on_bus(
        &server,
        &[&["dfu", "verify"][..], &args, &["--address", &at, image]].concat(),
    ));
    assert!(verified.contains("bytes match app.bin"), "{verified}");
    let read_back = tmp.path().join("read-back.bin");
    command_ok(&station_on_bus(
        &server,
        &[
            &["dfu", "upload"][..],
            &args,
            &[
                "--address",
                &at,
                "--length",
                "4096",
                read_back.to_str().unwrap(),
            ],
        ]
        .concat(),
    ));
    assert_eq!(
        std::fs::read(&read_back).unwrap(),
        std::fs::read(image).unwrap()[..4096]
    );
    // And the simulated unit holds it, read over SWD.
    let inspection = command_ok(&station_cmd(
        Path::new(station),
        &["inspect", "--fixture", "rom", "--json"],
    ));
    assert!(inspection.contains("\"usb-bus-test\""), "{inspection}");
}

#[test]
fn the_usb_bench_times_every_host_on_both_devices() {
    // A smoke run with a small image: the speed goals are judged by the full benchmark
    // (`station bench usb`), never here.
    let Some(dfu_util) = dfu_util() else { return };
    let out = common::station()
        .args(["bench", "usb", "--kib", "8", "--json", "--libusb"])
        .arg(common::libusb_sim::library())
        .arg("--dfu-util")
        .arg(&dfu_util)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["device"].as_str().unwrap().into(),
                r["host"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for device in ["F407 ab-slots", "F407 st-rom"] {
        for host in ["dfu-util", "station fast", "station strict"] {
            expected.push((device.to_string(), host.to_string()));
        }
    }
    assert_eq!(seen, expected);
    for r in &runs {
        assert_eq!(r["image_bytes"], 8192, "{r}");
        assert!(r["seconds"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(runs[0]["speedup"], 1.0);
    assert_eq!(
        (&runs[1]["goal"], &runs[2]["goal"]),
        (&3.0.into(), &1.0.into())
    );
    assert!(runs[4].get("goal").is_none(), "no goal on the ROM");
}
