//! `station sim serve|cut|power|status`: the virtual bench on a virtual USB bus, and its
//! fixtures switched and cut while clients are attached. `station sim boot`: a held unit's
//! flashed code run on the emulated core.

use std::path::PathBuf;

use sim_wire::{CutAt, CutWhen, FixtureStatus, Reply, Request};

use crate::error::{ExitStatus, StationError};
use crate::serve::{self, CallError, Client};

fn station_error(e: CallError) -> StationError {
    match e {
        CallError::Invalid(m) => StationError::usage(m),
        CallError::Failed(m) => StationError::station(m),
    }
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[arg(long)]
    pub station: PathBuf,
    /// Use this records directory (and its simulator state) instead of the station's.
    #[arg(long)]
    pub records: Option<PathBuf>,
    #[command(flatten)]
    pub socket: SocketArg,
    /// Device time: realtime[:SCALE] (hosts such as dfu-util sleep in real time) or virtual.
    #[arg(long, default_value = "realtime")]
    pub time: crate::hw::TimeMode,
}

#[derive(clap::Args, Debug)]
pub struct SocketArg {
    /// The server's socket [default: $STATION_USB_SOCKET, else $XDG_RUNTIME_DIR/station-usb.sock, else /tmp/station-usb.sock]
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

impl SocketArg {
    fn path(&self) -> PathBuf {
        self.socket.clone().unwrap_or_else(sim_wire::socket_path)
    }

    fn client(&self) -> Result<Client, StationError> {
        Client::connect(&self.path()).map_err(station_error)
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Moment {
    Before,
    /// A flash operation is torn (for a request: as before).
    Inside,
    After,
}

#[derive(clap::Args, Debug)]
#[group(id = "where", required = true, multiple = false, args = ["at_request", "at_op", "now"])]
pub struct CutArgs {
    #[arg(long)]
    pub fixture: String,
    /// The Nth USB control request from now (1 = the next).
    #[arg(long, value_name = "N")]
    pub at_request: Option<u64>,
    /// The Nth flash operation from now (the device's own included).
    #[arg(long, value_name = "N")]
    pub at_op: Option<u64>,
    /// At once.
    #[arg(long)]
    pub now: bool,
    #[arg(long, value_enum, default_value = "inside")]
    pub when: Moment,
    #[command(flatten)]
    pub socket: SocketArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    On,
    Off,
    /// Off, then on.
    Cycle,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Level {
    High,
    Low,
}

#[derive(clap::Args, Debug)]
pub struct PowerArgs {
    #[arg(value_enum)]
    pub state: PowerState,
    #[arg(long)]
    pub fixture: String,
    /// Set the BOOT0 strap first (it is sampled at power-on: high starts the ST bootloader).
    #[arg(long, value_enum)]
    pub boot0: Option<Level>,
    #[command(flatten)]
    pub socket: SocketArg,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// One fixture (default: every served fixture).
    #[arg(long)]
    pub fixture: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArg,
}

pub fn serve(args: ServeArgs) -> Result<ExitStatus, StationError> {
    let mut station = crate::config::load_station(&args.station)
        .map_err(|e| StationError::usage(crate::config::ConfigErrors(e).to_string()))?;
    if let Some(dir) = args.records {
        station.records_dir = dir;
    }
    let socket = args.socket.path();
    let listener = serve::bind(&socket).map_err(StationError::station)?;
    let notes: serve::Notes = Box::new(|note| eprintln!("{note}"));
    let bench =
        serve::Bench::open(station, args.time, &socket, notes).map_err(StationError::station)?;
    println!("serving {} on {}", args.station.display(), socket.display());
    for slot in &bench.fixtures {
        println!("  {}", describe(&slot.lock().status()));
    }
    println!(
        "point a libusb tool at it: LD_LIBRARY_PATH=<dir holding libusb-sim as libusb-1.0.so.0> \
         STATION_USB_SOCKET={} dfu-util -l",
        socket.display()
    );
    // Ctrl-C asks the server to stop like any client would: units are saved, the socket goes.
    let stopper = socket.clone();
    let _ = ctrlc::set_handler(move || {
        if let Ok(mut c) = Client::connect(&stopper) {
            let _ = c.call(&Request::Shutdown);
        }
    });
    serve::run(bench, listener).map_err(StationError::station)?;
    println!("stopped; units saved");
    Ok(ExitStatus::Pass)
}

fn describe(s: &FixtureStatus) -> String {
    let usb = if s.on_usb { "on USB" } else { "not on USB" };
    let power = if s.powered { "powered" } else { "unpowered" };
    let cut = if s.cut.is_empty() {
        String::new()
    } else {
        format!(", cut armed: {}", s.cut)
    };
    format!(
        "{:<20} port {}  unit {}  {power}, BOOT0 {}, {usb}: {}; {} USB requests, {} flash operations{cut}",
        s.fixture,
        s.port,
        s.unit,
        if s.boot0 { "high" } else { "low" },
        s.firmware,
        s.usb_requests,
        s.flash_ops,
    )
}

pub fn cut(args: CutArgs) -> Result<ExitStatus, StationError> {
    let at = match (args.at_request, args.at_op) {
        (Some(n), _) => CutAt::Request(n),
        (_, Some(n)) => CutAt::Op(n),
        _ => CutAt::Now,
    };
    let when = match args.when {
        Moment::Before => CutWhen::Before,
        Moment::Inside => CutWhen::Inside,
        Moment::After => CutWhen::After,
    };
    let reply = args
        .socket
        .client()?
        .call(&Request::Cut {
            fixture: args.fixture,
            at,
            when,
        })
        .map_err(station_error)?;
    if let Reply::Armed { description } = reply {
        println!("{description}");
    }
    Ok(ExitStatus::Pass)
}

pub fn power(args: PowerArgs) -> Result<ExitStatus, StationError> {
    let mut client = args.socket.client()?;
    let boot0 = args.boot0.map(|l| matches!(l, Level::High));
    let mut switch = |on: bool, boot0: Option<bool>| {
        client
            .call(&Request::Power {
                fixture: args.fixture.clone(),
                on,
                boot0,
            })
            .map_err(station_error)
    };
    match args.state {
        PowerState::On => switch(true, boot0)?,
        PowerState::Off => switch(false, boot0)?,
        PowerState::Cycle => {
            switch(false, None)?;
            switch(true, boot0)?
        }
    };
    for s in client.status(&args.fixture).map_err(station_error)? {
        println!("{}", describe(&s));
    }
    Ok(ExitStatus::Pass)
}

pub fn status(args: StatusArgs) -> Result<ExitStatus, StationError> {
    let all = args
        .socket
        .client()?
        .status(args.fixture.as_deref().unwrap_or(""))
        .map_err(station_error)?;
    for s in &all {
        if args.json {
            let v = serde_json::json!({
                "fixture": s.fixture, "port": s.port, "unit": s.unit, "powered": s.powered,
                "boot0": s.boot0, "on_usb": s.on_usb, "firmware": s.firmware,
                "dfu_state": s.dfu_state, "usb_requests": s.usb_requests,
                "flash_ops": s.flash_ops, "cut": s.cut,
            });
            println!("{v}");
        } else {
            println!("{}", describe(s));
        }
    }
    Ok(ExitStatus::Pass)
}

#[derive(clap::Args, Debug)]
pub struct BenchUsbArgs {
    /// The station whose `ab-slots` and `st-rom-boot0` fixtures give the boards' profiles.
    #[arg(long, default_value = "stations/zoo.toml")]
    pub station: PathBuf,
    /// The application's size in KiB: at most 480, the A/B design's slot B on a 1 MiB F407
    /// (a 32 KiB bootloader and two 480 KiB slots; 512 KiB does not fit).
    #[arg(long, default_value_t = 480)]
    pub kib: usize,
    /// libusb-sim's shared library [default: libusb_sim.so beside this executable]
    #[arg(long)]
    pub libusb: Option<PathBuf>,
    /// [default: dfu-util from PATH]
    #[arg(long)]
    pub dfu_util: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

fn from_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

pub fn bench_usb(args: BenchUsbArgs) -> Result<ExitStatus, StationError> {
    let zoo = crate::config::load_station(&args.station)
        .map_err(|e| StationError::usage(crate::config::ConfigErrors(e).to_string()))?;
    if args.kib == 0 || args.kib > serve::usb_bench::MAX_KIB {
        return Err(StationError::usage(format!(
            "--kib {}: expected 1 to {} (slot B of the F407's A/B bootloader)",
            args.kib,
            serve::usb_bench::MAX_KIB
        )));
    }
    let station_exe = std::env::current_exe()
        .map_err(|e| StationError::station(format!("cannot find this executable: {e}")))?;
    let library = match args.libusb {
        Some(p) => p,
        None => station_exe.with_file_name("libusb_sim.so"),
    };
    if !library.is_file() {
        return Err(StationError::usage(format!(
            "no libusb-sim at {}: build it with `cargo build --release -p libusb-sim` (beside \
             the station binary) or give --libusb PATH",
            library.display()
        )));
    }
    let dfu_util = args
        .dfu_util
        .or_else(|| from_path("dfu-util"))
        .ok_or_else(|| {
            StationError::usage("dfu-util is not on PATH (Debian: apt-get install dfu-util)")
        })?;
    let options = serve::usb_bench::UsbBenchOptions {
        zoo,
        image_bytes: args.kib * 1024,
        library: std::fs::canonicalize(&library)
            .map_err(|e| StationError::station(format!("{}: {e}", library.display())))?,
        dfu_util,
        station_exe,
    };
    let runs = serve::usb_bench::usb_runs(&options).map_err(StationError::station)?;
    for r in &runs {
        if args.json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
            continue;
        }
        let goal = match r.goal {
            Some(g) if r.met() => format!("  goal >= {g}x: met"),
            Some(g) => format!("  goal >= {g}x: NOT MET"),
            None => String::new(),
        };
        println!(
            "{:<14} {:<15} {:>5} KiB  {:>8.3} s  {:>5.2}x dfu-util{goal}{}",
            r.device,
            r.host,
            r.image_bytes / 1024,
            r.seconds,
            r.speedup,
            r.note
                .as_ref()
                .filter(|_| r.host == "dfu-util")
                .map(|n| format!("  ({n})"))
                .unwrap_or_default()
        );
    }
    Ok(if runs.iter().all(|r| r.met()) {
        ExitStatus::Pass
    } else {
        ExitStatus::Fail
    })
}

#[derive(clap::Args, Debug)]
pub struct BootArgs {
    #[command(flatten)]
    pub at: super::fixture::FixtureArgs,
    /// Stop after this many instructions (a hang, or a main loop that never stops).
    #[arg(long, default_value_t = 50_000_000)]
    pub budget: u64,
    #[arg(long)]
    pub json: bool,
}

/// `station sim boot`: the unit as the last command left it, its flashed code run on the
/// emulated core from the flash base (`sim::exec`), the report printed. The unit is saved
/// only when the code erased or programmed flash.
pub fn boot(args: BootArgs) -> Result<ExitStatus, StationError> {
    use crate::sim::bench_unit::SimUnit;
    let station = args.at.load()?;
    let fixture = super::fixture::find_fixture(&station, &args.at.fixture)?;
    let hw = super::fixture::open(&station, fixture)?;
    let Some(unit) = hw
        .bench
        .as_ref()
        .and_then(|b| b.as_any().downcast_ref::<SimUnit>())
    else {
        return Err(StationError::usage(format!(
            "fixture {} is real hardware, not simulated: only a bench unit's code can run on \
             the emulated core",
            fixture.id
        )));
    };
    let report = {
        let mut mcu = unit.device.lock();
        let (arch, base) = (
            crate::sim::exec::arch_of(mcu.part.family),
            mcu.part.flash_base,
        );
        crate::sim::exec::run_code(&mut mcu, arch, base, args.budget)
    };
    let programmed = report.erases + report.mass_erases + report.programs > 0;
    if programmed {
        hw.save()
            .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)))?;
    }
    let mips = report.instructions as f64 / report.wall.as_secs_f64().max(1e-9) / 1e6;
    if args.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["fixture"] = fixture.id.clone().into();
        v["description"] = report.describe().into();
        v["saved"] = programmed.into();
        v["wall_s"] = report.wall.as_secs_f64().into();
        println!("{v}");
    } else {
        println!("{}: {}", fixture.id, report.describe());
        println!(
            "({:.1} million instructions a second here{})",
            mips,
            if programmed { "; unit saved" } else { "" }
        );
    }
    Ok(ExitStatus::Pass)
}
