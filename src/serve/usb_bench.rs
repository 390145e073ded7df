//! `station bench usb`: dfu-util and `station dfu download` (fast and strict) side by side,
//! through the same virtual USB bus, the same served devices and the same image, at device
//! time = wall time. Each host is a separate process loading libusb-sim, timed from start to
//! exit, so every host pays for its own start, enumeration and polling.
//!
//! The application is 480 KiB by default: the largest the A/B design's slot B holds on a 1 MiB
//! F407 (512 KiB does not fit beside a bootloader and slot A).
//!
//! Devices: a simulated F407 whose `ab-slots` bootloader advertises the poll timeouts of ST's
//! USB device library (goals: the station's fast mode at least 3x faster than dfu-util, its
//! strict mode never slower), and the same part in the ST ROM, whose poll timeouts are not
//! documented (the ratio is reported, with no goal).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use sim_wire::Request;

use super::{Bench, Client};
use crate::config::Station;
use crate::hw::TimeMode;
use crate::image::generate::SplitMix64;

pub struct UsbBenchOptions {
    /// The station whose `ab-slots` and `st-rom-boot0` fixtures give the boards' profiles.
    pub zoo: Station,
    pub image_bytes: usize,
    /// libusb-sim's shared library.
    pub library: PathBuf,
    pub dfu_util: PathBuf,
    pub station_exe: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct UsbBenchRun {
    pub device: String,
    pub host: String,
    pub image_bytes: u64,
    pub seconds: f64,
    /// dfu-util's time over this host's (dfu-util itself: 1).
    pub speedup: f64,
    /// The speedup this host must reach, when there is a goal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl UsbBenchRun {
    pub fn met(&self) -> bool {
        self.goal.is_none_or(|g| self.speedup >= g)
    }
}

/// Where each design's image goes: slot B of the A/B bootloader, the same sectors on the ROM.
const ADDRESS: u32 = 0x0808_0000;

/// Slot B of the zoo's A/B design on a 1 MiB F407 (a 32 KiB bootloader, two 480 KiB slots).
pub const MAX_KIB: usize = 480;

struct Target {
    /// The fixture in the zoo station whose profile this board uses.
    zoo_fixture: &'static str,
    label: &'static str,
    boot0: bool,
    sim_tail: &'static str,
    goals: [Option<f64>; 2],
    note: Option<&'static str>,
}

const TARGETS: [Target; 2] = [
    Target {
        zoo_fixture: "ab-slots",
        label: "F407 ab-slots",
        boot0: false,
        sim_tail: r#", initial = "bootloader""#,
        goals: [Some(3.0), Some(1.0)],
        note: None,
    },
    Target {
        zoo_fixture: "st-rom-boot0",
        label: "F407 st-rom",
        boot0: true,
        sim_tail: "",
        goals: [None, None],
        note: Some("no goal: the ROM's poll timeouts are not documented"),
    },
];

/// A scratch directory, removed when the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bench_station(o: &UsbBenchOptions, dir: &Path) -> Result<PathBuf, String> {
    let mut text = format!(
        "id = \"usb-bench\"\nrecords = \"{}\"\n",
        dir.join("records").display()
    );
    for (i, t) in TARGETS.iter().enumerate() {
        let fixture = o.zoo.fixture(t.zoo_fixture).ok_or_else(|| {
            format!(
                "{} has no fixture {:?} (the bench uses the zoo's boards)",
                o.zoo.source.path.display(),
                t.zoo_fixture
            )
        })?;
        let profile = std::fs::canonicalize(&fixture.profile_path)
            .map_err(|e| format!("{}: {e}", fixture.profile_path.display()))?;
        let profile = profile.display();
        text += &format!(
            r#"
[[fixtures]]
id = "sim-{i}"
backend = "sim"
profile = "{profile}"
probe = "1209:5151:USB-BENCH-{i}"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11" }}
power = {{ kind = "sim" }}
sim = {{ family = "f4", part = "STM32F407VG", seed = {seed}{tail} }}

[[fixtures]]
id = "usb-{i}"
backend = "hw"
profile = "{profile}"
probe = "0483:374b:NONE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "1-{port}" }}
power = {{ kind = "none" }}
"#,
            seed = 71 + i,
            tail = t.sim_tail,
            // Sim fixtures sit at even places in the file: bus 1 port (2i + 1).
            port = 2 * i + 1,
        );
    }
    let path = dir.join("usb-bench.toml");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn image(dir: &Path, bytes: usize) -> Result<PathBuf, String> {
    let mut rng = SplitMix64::new(0x5553_4221);
    let data: Vec<u8> = (0..bytes).map(|_| rng.next_u64() as u8).collect();
    let path = dir.join("app.bin");
    std::fs::write(&path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Run `command` to completion: its wall-clock time, or its failure in its own words.
fn timed(mut command: Command, what: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

/// Each run starts from a freshly powered unit: the bootloader (or the ROM) in dfuIDLE.
fn power_up(client: &mut Client, fixture: &str, boot0: bool) -> Result<(), String> {
    for on in [false, true] {
        client
            .call(&Request::Power {
                fixture: fixture.into(),
                on,
                boot0: Some(boot0),
            })
            .map_err(|e| e.to_string())?;
    }
    match client.status(fixture).map_err(|e| e.to_string())?.first() {
        Some(s) if s.on_usb => Ok(()),
        other => Err(format!(
            "{fixture} is not in DFU mode after power-up: {other:?}"
        )),
    }
}

pub fn usb_runs(o: &UsbBenchOptions) -> Result<Vec<UsbBenchRun>, String> {
    let dir = std::env::temp_dir().join(format!("station-bench-usb-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lib")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = Scratch(dir);
    let dir = scratch.0.as_path();
    let lib = dir.join("lib/libusb-1.0.so.0");
    std::os::unix::fs::symlink(&o.library, &lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    let station_file = bench_station(o, dir)?;
    let app = image(dir, o.image_bytes)?;
    let station = crate::config::load_station(&station_file)
        .map_err(|e| crate::config::ConfigErrors(e).to_string())?;
    let socket = dir.join("usb.sock");
    let listener = super::bind(&socket)?;
    // The bench reports timings only; the server's notes (units taken in) are not results.
    let bench = Bench::open(
        station,
        TimeMode::Realtime { scale: 1.0 },
        &socket,
        Box::new(|_| {}),
    )?;
    let server = std::thread::spawn(move || super::run(bench, listener));
    let result = run_all(o, dir, &socket, &station_file, &app);
    if let Ok(mut c) = Client::connect(&socket) {
        let _ = c.call(&Request::Shutdown);
    }
    let served = server
        .join()
        .map_err(|_| "the bench's server panicked".to_string())?;
    let runs = result?;
    served?;
    Ok(runs)
}

fn run_all(
    o: &UsbBenchOptions,
    dir: &Path,
    socket: &Path,
    station_file: &Path,
    app: &Path,
) -> Result<Vec<UsbBenchRun>, String> {
    let mut client = Client::connect(socket).map_err(|e| e.to_string())?;
    let address = format!("{ADDRESS:#010x}");
    let on_bus = |program: &Path| {
        let mut c = Command::new(program);
        c.current_dir(dir)
            .env("LD_LIBRARY_PATH", dir.join("lib"))
            .env("STATION_USB_SOCKET", socket)
            .env("STATION_KEY_DIR", dir.join("keys"));
        c
    };
    let mut runs = Vec::new();
    for (i, t) in TARGETS.iter().enumerate() {
        let sim = format!("sim-{i}");
        let port = format!("1-{}", 2 * i + 1);
        power_up(&mut client, &sim, t.boot0)?;
        let mut dfu_util = on_bus(&o.dfu_util);
        dfu_util
            .args([
                "-p",
                &port,
                "-a",
                "0",
                "-s",
                &format!("{address}:leave"),
                "-D",
            ])
            .arg(app);
        let reference = timed(dfu_util, &format!("dfu-util on {}", t.label))?;
        let mut times = vec![("dfu-util", reference, None)];
        for (mode, goal) in ["fast", "strict"].into_iter().zip(t.goals) {
            power_up(&mut client, &sim, t.boot0)?;
            let mut station = on_bus(&o.station_exe);
            station
                .args(["dfu", "download", "--station"])
                .arg(station_file)
                .args([
                    "--fixture",
                    &format!("usb-{i}"),
                    "--mode",
                    mode,
                    "--address",
                    &address,
                ])
                .arg(app);
            let took = timed(station, &format!("station {mode} on {}", t.label))?;
            times.push((
                if mode == "fast" {
                    "station fast"
                } else {
                    "station strict"
                },
                took,
                goal,
            ));
        }
        for (host, took, goal) in times {
            runs.push(UsbBenchRun {
                device: t.label.into(),
                host: host.into(),
                image_bytes: o.image_bytes as u64,
                seconds: took.as_secs_f64(),
                speedup: reference.as_secs_f64() / took.as_secs_f64().max(1e-9),
                goal,
                note: t.note.map(str::to_string),
            });
        }
    }
    Ok(runs)
}
