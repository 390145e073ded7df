//! Backends behind the `hw` seams, one module each: probe-rs (debug target), rusb (USB control),
//! serialport (console). `open_fixture` wires a configured fixture to its backends, or to a
//! fresh simulated unit of the virtual bench.

pub mod power;
pub mod probe_rs;
pub mod serial;
pub mod usb;

use std::sync::Arc;

use crate::config::{Fixture, FixtureBackend, PowerSpec, Station};
use crate::hw::{
    Clock, DebugTarget, FixtureLines, HwError, PowerSwitch, SystemClock, UsbBus, UsbControl,
    UsbDeviceInfo, UsbError, UsbSelector, VirtualClock,
};
use crate::sim::{DeviceSpec, SimDevice, UsbIdentities};

/// The hardware one unit run talks to.
pub struct FixtureHw {
    /// The DUT's console port (a serial device, or the virtual bench's pty), if it has one.
    pub console: Option<std::path::PathBuf>,
    /// The simulated unit's number and state file (virtual bench only).
    pub sim_state: Option<(u64, std::path::PathBuf)>,
    pub debug: Box<dyn DebugTarget>,
    pub usb: Arc<dyn UsbBus>,
    pub power: Option<Box<dyn PowerSwitch>>,
    pub lines: Option<Box<dyn FixtureLines>>,
    pub clock: Arc<dyn Clock>,
    /// The simulated unit, kept alive for the run (virtual bench only).
    pub sim: Option<SimDevice>,
}

/// The fixture's power switch on a real bench.
fn power_switch(
    fixture: &Fixture,
    usb: &dyn UsbBus,
) -> Result<Option<Box<dyn PowerSwitch>>, HwError> {
    Ok(match &fixture.power {
        PowerSpec::None | PowerSpec::Sim => None,
        PowerSpec::Manual => Some(Box::new(power::ManualPower::new(&fixture.id))),
        PowerSpec::Relay {
            serial_port,
            baud,
            on,
            off,
        } => {
            let bytes = |t: &str| {
                power::parse_hex_bytes(t)
                    .map_err(|e| HwError::Backend(format!("fixture {}: power: {e}", fixture.id)))
            };
            let port = serial::SerialportPort::open(serial_port, *baud)?;
            Some(Box::new(power::RelayPower::new(
                Box::new(port),
                bytes(on)?,
                bytes(off)?,
            )))
        }
        PowerSpec::Hub {
            hub,
            hub_port_path,
            port,
        } => {
            let id = |i: usize| {
                hub.split(':')
                    .nth(i)
                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        HwError::Backend(format!(
                            "fixture {}: power.hub = {hub:?} is not VID:PID in hex",
                            fixture.id
                        ))
                    })
            };
            let selector = crate::hw::UsbSelector {
                vid: id(0)?,
                pid: id(1)?,
                serial: None,
                port_path: hub_port_path.clone(),
            };
            let pipe = usb.open(&selector).map_err(|e| {
                HwError::Backend(format!("fixture {}: the power hub {hub}: {e}", fixture.id))
            })?;
            Some(Box::new(power::HubPortPower::new(pipe, *port)))
        }
    })
}

/// A bus that is not there: every call says why, nothing panics.
struct UnavailableBus(UsbError);

impl UsbBus for UnavailableBus {
    fn list(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        Err(self.0.clone())
    }
    fn open(&self, _: &UsbSelector) -> Result<Box<dyn UsbControl>, UsbError> {
        Err(self.0.clone())
    }
}

/// The probe serial in a `VID:PID:serial` selector.
pub fn probe_serial(selector: &str) -> Option<&str> {
    selector.splitn(3, ':').nth(2).filter(|s| !s.is_empty())
}

/// Wire `fixture` for unit number `unit`. On the virtual bench this builds a fresh simulated
/// device whose UID follows from (seed, fixture, unit).
pub fn open_fixture(station: &Station, fixture: &Fixture, unit: u64) -> Result<FixtureHw, HwError> {
    let profile = station.profile_of(fixture);
    let debug = Box::new(probe_rs::ProbeRsTarget::new(
        &fixture.probe,
        &profile.chip,
        fixture.probe_speed_khz,
    ));
    match fixture.backend {
        FixtureBackend::Hw => {
            let usb: Arc<dyn UsbBus> = match usb::RusbBus::new() {
                Ok(bus) => Arc::new(bus),
                Err(e) => Arc::new(UnavailableBus(e)),
            };
            let power = power_switch(fixture, usb.as_ref())?;
            Ok(FixtureHw {
                console: fixture.serial_port.as_ref().map(std::path::PathBuf::from),
                sim_state: None,
                debug,
                usb,
                power,
                lines: None,
                clock: Arc::new(SystemClock::new()),
                sim: None,
            })
        }
        FixtureBackend::Sim => {
            let spec = sim_spec(fixture, unit)?;
            let clock = Arc::new(VirtualClock::with_mode(station.time));
            let device = SimDevice::new(&spec, clock).map_err(HwError::Backend)?;
            if let Some(sim) = &fixture.sim {
                apply_faults(&device, &sim.faults);
            }
            with_console(
                sim_hw(debug, device, unit, state_path(station, fixture)),
                fixture,
            )
        }
    }
}

/// Where the virtual bench keeps each fixture's unit between processes.
pub fn state_dir(station: &Station) -> std::path::PathBuf {
    station.records_dir.join(".station").join("sim")
}

fn state_path(station: &Station, fixture: &Fixture) -> std::path::PathBuf {
    crate::sim::state::state_path(&state_dir(station), &fixture.id)
}

fn sim_spec(fixture: &Fixture, unit: u64) -> Result<DeviceSpec, HwError> {
    let sim = fixture
        .sim
        .as_ref()
        .ok_or_else(|| HwError::Backend("simulated fixture without [fixtures.sim]".into()))?;
    let serial = probe_serial(&fixture.probe).ok_or_else(|| {
        HwError::Backend(format!(
            "simulated fixture {} needs a probe serial (1209:5151:SERIAL)",
            fixture.id
        ))
    })?;
    let spec = DeviceSpec {
        family: sim.family,
        part: sim.part.clone(),
        seed: sim.seed,
        fixture: fixture.id.clone(),
        unit,
        timing: sim.timing,
        usb: usb_identities(fixture),
        probe_serial: serial.to_string(),
    };
    Ok(spec)
}

fn usb_identities(fixture: &Fixture) -> UsbIdentities {
    UsbIdentities {
        application: fixture.usb_application,
        bootloader: fixture.usb_bootloader,
        rom: fixture.usb_rom,
        port_path: fixture
            .usb_port
            .clone()
            .unwrap_or_else(|| format!("sim-{}", fixture.id)),
    }
}

fn sim_hw(
    debug: Box<dyn DebugTarget>,
    device: SimDevice,
    unit: u64,
    state: std::path::PathBuf,
) -> FixtureHw {
    FixtureHw {
        console: None,
        sim_state: Some((unit, state)),
        debug,
        usb: device.usb_bus(),
        power: Some(device.power()),
        lines: Some(device.lines()),
        clock: device.clock.clone(),
        sim: Some(device),
    }
}

/// A simulated unit with no probe: USB, power and lines only (a torture campaign's restored
/// snapshot).
pub fn detached_hw(device: SimDevice) -> FixtureHw {
    let debug = Box::new(probe_rs::ProbeRsTarget::new(
        "1209:5151:DETACHED",
        "STM32F407VGTx",
        4000,
    ));
    let mut hw = sim_hw(debug, device, 0, std::path::PathBuf::new());
    hw.sim_state = None;
    hw
}

/// The unit a previous command left on the fixture: on the virtual bench, the one it saved
/// (`None` when there is none); on real hardware, whatever is plugged in.
pub fn open_saved(station: &Station, fixture: &Fixture) -> Result<Option<FixtureHw>, HwError> {
    if fixture.backend == FixtureBackend::Hw {
        return open_fixture(station, fixture, 0).map(Some);
    }
    let path = state_path(station, fixture);
    let profile = station.profile_of(fixture);
    let debug = Box::new(probe_rs::ProbeRsTarget::new(
        &fixture.probe,
        &profile.chip,
        fixture.probe_speed_khz,
    ));
    match crate::sim::state::load(&path, usb_identities(fixture)).map_err(HwError::Backend)? {
        Some(loaded) => {
            let spec = sim_spec(fixture, loaded.unit)?;
            let device = SimDevice::attach(loaded.mcu, &spec.probe_serial);
            with_console(sim_hw(debug, device, loaded.unit, path), fixture).map(Some)
        }
        None => Ok(None),
    }
}

impl FixtureHw {
    /// Keep the simulated unit for the next command (a no-op on real hardware).
    pub fn save(&self) -> Result<(), HwError> {
        match (&self.sim, &self.sim_state) {
            (Some(device), Some((unit, path))) => {
                crate::sim::state::save(&device.lock(), *unit, path).map_err(HwError::Backend)
            }
            _ => Ok(()),
        }
    }
}

/// Start the simulated application's console, linked at `<state dir>/<fixture>.tty`.
fn with_console(mut hw: FixtureHw, fixture: &Fixture) -> Result<FixtureHw, HwError> {
    let link = hw
        .sim_state
        .as_ref()
        .map(|(_, state)| state.with_extension("tty"));
    let command = fixture
        .sim
        .as_ref()
        .map_or("dfu", |s| s.dfu_command.as_str())
        .to_string();
    if let Some(device) = hw.sim.as_mut() {
        let path = device
            .start_console(&command, link.as_deref())
            .map_err(|e| {
                HwError::Backend(format!("cannot open a pty for the simulated console: {e}"))
            })?;
        hw.console = Some(path);
    }
    Ok(hw)
}

/// Build a fresh simulated unit with the fixture's faults.
fn apply_faults(device: &SimDevice, faults: &crate::sim::fault::Faults) {
    let mut mcu = device.lock();
    mcu.faults = faults.clone();
    if faults.delivered_rdp1 {
        mcu.deliver_at_rdp1();
    }
}
