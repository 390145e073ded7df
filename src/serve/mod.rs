//! The virtual bench served to other processes (`station sim serve`): a station's simulated
//! fixtures on a virtual USB bus, reached over a Unix socket with the `sim_wire` protocol.
//! `libusb-sim` turns that bus into libusb-1.0's C ABI, so unmodified tools (dfu-util, the
//! station's own rusb backend) drive the simulated devices; `station sim cut|power|status`
//! control the fixtures while clients are attached.
//!
//! Each unit is loaded from the state the last command saved (or arrives fresh), saved again
//! when clients leave, after a second without changes and at shutdown, and reloaded when
//! another process rewrote its state file. Device time follows the wall clock (realtime
//! scale 1 by default): a host such as dfu-util sleeps the advertised poll timeouts in real
//! time, so the device's busy time must pass in real time too.

mod client;
mod fixture;
mod session;
pub mod usb_bench;

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use client::{CallError, Client};
pub use fixture::Served;

use crate::config::{FixtureBackend, Station};
use crate::hw::TimeMode;
use crate::sim::Mcu;

fn lock(mcu: &Mutex<Mcu>) -> MutexGuard<'_, Mcu> {
    mcu.lock().unwrap_or_else(|e| e.into_inner())
}

/// One served fixture, found by name or by its place on the bus without locking it.
pub struct Slot {
    pub id: String,
    pub index: u32,
    pub served: Mutex<Served>,
}

impl Slot {
    pub fn lock(&self) -> MutexGuard<'_, Served> {
        self.served.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the server's notes go (a client failing, a unit taken in from disk): the CLI
/// prints them; the library never does.
pub type Notes = Box<dyn Fn(&str) + Send + Sync>;

/// The served fixtures.
pub struct Bench {
    station: Station,
    notes: Notes,
    pub fixtures: Vec<Slot>,
    stop: AtomicBool,
    socket: PathBuf,
}

/// How long a unit must sit unchanged before the background saver writes it.
const SAVE_AFTER_IDLE: Duration = Duration::from_secs(1);

impl Bench {
    /// Load every simulated fixture of `station`. Real-hardware fixtures are not served.
    pub fn open(
        station: Station,
        time: TimeMode,
        socket: &Path,
        notes: Notes,
    ) -> Result<Self, String> {
        let mut fixtures = Vec::new();
        for (index, fixture) in station.fixtures.iter().enumerate() {
            if fixture.backend != FixtureBackend::Sim {
                continue;
            }
            fixtures.push(Slot {
                id: fixture.id.clone(),
                index: index as u32,
                served: Mutex::new(Served::open(&station, fixture, index as u32, time)?),
            });
        }
        if fixtures.is_empty() {
            return Err(format!(
                "{} has no simulated fixtures to serve",
                station.source.path.display()
            ));
        }
        Ok(Self {
            station,
            notes,
            fixtures,
            stop: AtomicBool::new(false),
            socket: socket.to_path_buf(),
        })
    }

    pub fn fixture(&self, id: &str) -> Result<&Slot, String> {
        self.fixtures.iter().find(|s| s.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.fixtures.iter().map(|s| s.id.as_str()).collect();
            format!(
                "no simulated fixture {id:?} is served; serving {}",
                known.join(", ")
            )
        })
    }

    pub fn by_index(&self, index: u32) -> Option<&Slot> {
        self.fixtures.iter().find(|s| s.index == index)
    }

    pub fn station(&self) -> &Station {
        &self.station
    }

    pub fn note(&self, note: &str) {
        (self.notes)(note)
    }

    /// A fixture's unit, taken in again if another process rewrote it.
    pub fn reload_if_changed(&self, served: &mut Served) -> Result<(), String> {
        if let Some(note) = served.reload_if_changed(&self.station)? {
            self.note(&note);
        }
        Ok(())
    }

    /// Save every unit with changes; the first error is returned, the rest still saved.
    pub fn save_all(&self) -> Result<(), String> {
        let mut first = Ok(());
        for f in &self.fixtures {
            let result = f.lock().save();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    fn save_idle(&self) {
        for f in &self.fixtures {
            let mut served = f.lock();
            if served.is_dirty()
                && served.idle_for() >= SAVE_AFTER_IDLE
                && let Err(e) = served.save()
            {
                self.note(&format!("{}: {e}", served.id));
            }
        }
    }

    /// Ask the accept loop to stop (it is woken by a connection of its own).
    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.socket);
    }
}

/// Bind the socket: a live server there is an error, a stale socket file is replaced.
pub fn bind(socket: &Path) -> Result<UnixListener, String> {
    if UnixStream::connect(socket).is_ok() {
        return Err(format!(
            "a server already listens at {}; stop it first (Ctrl-C), or pass --socket PATH",
            socket.display()
        ));
    }
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", socket.display())),
    }
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    UnixListener::bind(socket).map_err(|e| format!("cannot listen at {}: {e}", socket.display()))
}

/// Serve until a client sends `Shutdown`; then save every unit and remove the socket.
pub fn run(bench: Bench, listener: UnixListener) -> Result<(), String> {
    let bench = Arc::new(bench);
    let saver = {
        let bench = bench.clone();
        std::thread::spawn(move || {
            while !bench.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                bench.save_idle();
            }
        })
    };
    for stream in listener.incoming() {
        if bench.stop.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(stream) => {
                let bench = bench.clone();
                std::thread::spawn(move || session::serve_connection(&bench, stream));
            }
            Err(e) => bench.note(&format!("accepting a client: {e}")),
        }
    }
    let _ = saver.join();
    let saved = bench.save_all();
    let _ = std::fs::remove_file(&bench.socket);
    saved
}
