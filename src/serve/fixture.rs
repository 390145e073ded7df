//! One served fixture: its simulated unit (restored from the saved state, or arriving fresh),
//! the clock that follows the wall clock, the device's sessions on the bus, and saving and
//! reloading its state file.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{Fixture, Station};
use crate::hw::FixtureHw;
use crate::hw::{Clock, TimeMode, VirtualClock};
use crate::record::RecordStore;
use crate::sim::Mcu;
use crate::sim::usb::{Enumerated, SimUsbBus};

/// Sessions are unique across the server and its restarts (they start from the wall clock),
/// so a stale handle never matches a new device.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(0);

fn next_session() -> u64 {
    if NEXT_SESSION.load(Ordering::Relaxed) == 0 {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        let _ = NEXT_SESSION.compare_exchange(0, micros, Ordering::Relaxed, Ordering::Relaxed);
    }
    NEXT_SESSION.fetch_add(1, Ordering::Relaxed)
}
/// Device addresses as a host hands them out: the next free number, 2 to 127, wrapping.
static NEXT_ADDRESS: AtomicU8 = AtomicU8::new(2);

fn next_address() -> u8 {
    let a = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed);
    if a >= 127 {
        NEXT_ADDRESS.store(2, Ordering::Relaxed);
    }
    a.clamp(2, 127)
}

/// What identifies the state file as written: another process rewrote it when this changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    inode: u64,
    modified_ns: i128,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: m.len(),
        inode: m.ino(),
        modified_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
    })
}

/// The device as the host sees it now: one session per enumeration.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: u64,
    pub address: u8,
    pub seen: Enumerated,
}

/// How device time follows the wall clock for one unit.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    time: TimeMode,
    /// Wall-clock time and device time at the last (re)load.
    base: (Instant, Duration),
}

impl Pace {
    /// Device time now: in realtime mode it follows the wall clock, scaled.
    pub fn catch_up(&self, mcu: &Mcu) {
        if let TimeMode::Realtime { scale } = self.time {
            let wall = self.base.0.elapsed().mul_f64(scale);
            mcu.clock.catch_up(self.base.1 + wall);
        }
    }

    /// The wall-clock time until device time reaches `t` (zero in virtual mode, where the
    /// device's own wait costs nothing).
    pub fn wall_until(&self, mcu: &Mcu, t: Duration) -> Duration {
        match self.time {
            TimeMode::Realtime { scale } => t.saturating_sub(mcu.clock.now()).div_f64(scale),
            TimeMode::Virtual => Duration::ZERO,
        }
    }
}

pub struct Served {
    pub id: String,
    /// Position in the station file; the device sits on bus 1, port `index + 1`.
    pub index: u32,
    fixture: Fixture,
    hw: Option<FixtureHw>,
    /// Bumped when the unit is replaced (reloaded), so that open handles go stale.
    pub generation: u64,
    time: TimeMode,
    /// Wall-clock time and device time at the last (re)load: device time follows from them.
    base: (Instant, Duration),
    pub session: Option<Session>,
    dirty: bool,
    last_change: Instant,
    state_path: PathBuf,
    written: Option<Stamp>,
}

fn open_unit(station: &Station, fixture: &Fixture) -> Result<FixtureHw, String> {
    let store = RecordStore::open(&station.records_dir).map_err(|e| e.to_string())?;
    let mut counter = Ok(0);
    let next_unit = || {
        store.next_unit_number(&fixture.id).unwrap_or_else(|e| {
            counter = Err(e.to_string());
            0
        })
    };
    let mut hw = crate::station::open_unit::open_current(station, fixture, next_unit, None)
        .map_err(|e| format!("fixture {}: {e}", fixture.id))?;
    // Opening waits for no other process, but the server shares its units with station
    // commands through their saved state (reloaded when another process rewrote it), so it
    // does not keep the fixture: holding it only while a client is on the bus is still to do.
    hw.hold = None;
    counter.map(|_| hw)
}

impl Served {
    /// The fixture's unit as the last command left it (or arriving fresh), saved at once so
    /// that other processes and a later server see the same unit.
    pub fn open(
        station: &Station,
        fixture: &Fixture,
        index: u32,
        time: TimeMode,
    ) -> Result<Self, String> {
        let state_path =
            crate::backend::state_path(&crate::backend::state_dir(station), &fixture.id);
        let mut served = Self {
            id: fixture.id.clone(),
            index,
            fixture: fixture.clone(),
            hw: None,
            generation: 0,
            time,
            base: (Instant::now(), Duration::ZERO),
            session: None,
            dirty: false,
            last_change: Instant::now(),
            state_path,
            written: None,
        };
        served.load(station)?;
        Ok(served)
    }

    fn load(&mut self, station: &Station) -> Result<(), String> {
        // Drop the old unit first: it unplugs its probe serial, which the new one plugs.
        self.hw = None;
        self.generation += 1;
        self.session = None;
        let mut virtual_station = station.clone();
        virtual_station.time = TimeMode::Virtual;
        let hw = open_unit(&virtual_station, &self.fixture)?;
        if let Some(device) = sim_device(&hw) {
            // Arrival ran on virtual time; from here the unit keeps the server's pace.
            let mut mcu = device.lock();
            let now = mcu.clock.now();
            mcu.clock = Arc::new(VirtualClock::with_mode_at(self.time, now));
            self.base = (Instant::now(), now);
        }
        self.hw = Some(hw);
        self.dirty = true;
        self.save()
    }

    pub fn mcu(&self) -> Option<Arc<Mutex<Mcu>>> {
        sim_device(self.hw.as_ref()?).map(|d| d.mcu.clone())
    }

    pub fn unit(&self) -> u64 {
        self.hw
            .as_ref()
            .and_then(|h| h.bench.as_ref())
            .map_or(0, |b| b.number())
    }

    pub fn pace(&self) -> Pace {
        Pace {
            time: self.time,
            base: self.base,
        }
    }

    /// The device on the bus now, with a new session when it enumerated again.
    pub fn refresh(&mut self) -> Option<Session> {
        let mcu = self.mcu()?;
        self.pace().catch_up(&super::lock(&mcu));
        let bus = SimUsbBus { mcu };
        match bus.enumerate() {
            None => {
                self.session = None;
                None
            }
            Some(seen) => {
                let same = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.seen.epoch == seen.epoch);
                if !same {
                    self.session = Some(Session {
                        id: next_session(),
                        address: next_address(),
                        seen,
                    });
                }
                self.session.clone()
            }
        }
    }

    /// After a bus reset through a handle: the device keeps its session when it came back
    /// with the same descriptors (as Linux keeps the device), else it is a new device.
    pub fn after_reset(&mut self) -> bool {
        let Some(mcu) = self.mcu() else {
            return false;
        };
        let now = SimUsbBus { mcu }.enumerate();
        match (&mut self.session, now) {
            (Some(s), Some(seen))
                if s.seen.device == seen.device && s.seen.config == seen.config =>
            {
                s.seen.epoch = seen.epoch;
                true
            }
            _ => false,
        }
    }

    pub fn changed(&mut self) {
        self.dirty = true;
        self.last_change = Instant::now();
    }

    pub fn idle_for(&self) -> Duration {
        self.last_change.elapsed()
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn save(&mut self) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(hw) = &self.hw {
            hw.save().map_err(|e| e.to_string())?;
            self.written = stamp(&self.state_path);
        }
        self.dirty = false;
        Ok(())
    }

    /// Another process (`station dfu verify`, `inspect`, `sim reset`) rewrote or removed the
    /// state file since this server wrote it: take its unit, unless this one has unsaved
    /// changes, which win (what happened is returned, for the server's notes).
    pub fn reload_if_changed(&mut self, station: &Station) -> Result<Option<String>, String> {
        let on_disk = stamp(&self.state_path);
        if on_disk == self.written && self.hw.is_some() {
            return Ok(None);
        }
        if self.dirty && self.hw.is_some() {
            // Written again at the next save, so this is said once.
            self.written = on_disk;
            return Ok(Some(format!(
                "{}: {} changed on disk while this server had unsaved changes; keeping the \
                 server's unit",
                self.id,
                self.state_path.display()
            )));
        }
        self.load(station)?;
        Ok(Some(format!(
            "{}: took in unit {} from {}",
            self.id,
            self.unit(),
            self.state_path.display()
        )))
    }

    pub fn status(&mut self) -> sim_wire::FixtureStatus {
        let on_usb = self.refresh().is_some();
        let port = format!("1-{}", self.index + 1);
        let unit = self.unit();
        let Some(mcu) = self.mcu() else {
            return sim_wire::FixtureStatus {
                fixture: self.id.clone(),
                port,
                unit,
                powered: false,
                boot0: false,
                on_usb,
                firmware: "no unit (it could not be loaded)".into(),
                dfu_state: None,
                usb_requests: 0,
                flash_ops: 0,
                cut: String::new(),
            };
        };
        let mcu = super::lock(&mcu);
        sim_wire::FixtureStatus {
            fixture: self.id.clone(),
            port,
            unit,
            powered: mcu.powered,
            boot0: mcu.boot0,
            on_usb,
            firmware: mcu.firmware.describe(),
            dfu_state: mcu.dfu_state(),
            usb_requests: mcu.usb_requests,
            flash_ops: mcu.flash_ops,
            cut: mcu.cut.map(describe_cut).unwrap_or_default(),
        }
    }
}

fn describe_cut(cut: crate::sim::fault::Cut) -> String {
    use crate::sim::fault::{CutPoint, CutWhen};
    let when = match cut.when {
        CutWhen::Before => "before",
        CutWhen::Inside => "inside",
        CutWhen::After => "after",
    };
    match cut.point {
        CutPoint::UsbRequest(n) => format!("{when} USB request {n}"),
        CutPoint::FlashOp(n) => format!("{when} flash operation {n}"),
        CutPoint::At(t) => format!("at device time {t:?}"),
    }
}

/// The simulated device behind a served fixture's unit.
fn sim_device(hw: &FixtureHw) -> Option<&crate::sim::SimDevice> {
    let unit = hw.bench.as_ref()?.as_any();
    unit.downcast_ref::<crate::sim::bench_unit::SimUnit>()
        .map(|u| &u.device)
}
