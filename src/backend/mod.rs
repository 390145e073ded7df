//! Backends behind the `hw` seams, one module each: probe-rs (debug target), rusb (USB control),
//! serialport (console), the fixture's power switch, and the virtual bench (`virtual_bench`: a
//! simulated unit wired to the same seams). `open_fixture` wires a configured fixture to them.

pub mod power;
pub mod probe_rs;
pub mod serial;
pub mod usb;
mod virtual_bench;

use std::sync::Arc;

use crate::config::{Fixture, FixtureBackend, PowerSpec, Station};
use crate::hw::{
    Console, FixtureHw, HwError, PowerSwitch, SystemClock, UsbBus, UsbControl, UsbDeviceInfo,
    UsbError, UsbSelector,
};

pub use virtual_bench::{state_dir, state_path};

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
    let debug = probe(station, fixture);
    match fixture.backend {
        FixtureBackend::Hw => {
            let usb: Arc<dyn UsbBus> = match usb::RusbBus::new() {
                Ok(bus) => Arc::new(bus),
                Err(e) => Arc::new(UnavailableBus(e)),
            };
            let power = power_switch(fixture, usb.as_ref())?;
            let console = fixture.serial_port.as_ref().map(|path| {
                Box::new(serial::SerialConsole {
                    path: path.into(),
                    dfu_command: fixture.console_dfu_command.clone(),
                }) as Box<dyn Console>
            });
            Ok(FixtureHw {
                console,
                debug,
                usb,
                power,
                lines: None,
                clock: Arc::new(SystemClock::new()),
                bench: None,
                hold: None,
            })
        }
        FixtureBackend::Sim => virtual_bench::new_unit(station, fixture, unit, debug),
    }
}

fn probe(station: &Station, fixture: &Fixture) -> Box<probe_rs::ProbeRsTarget> {
    let profile = station.profile_of(fixture);
    Box::new(probe_rs::ProbeRsTarget::new(
        &fixture.probe,
        &profile.chip,
        fixture.probe_speed_khz,
    ))
}

/// The unit a previous command left on the fixture: on the virtual bench, the one it saved
/// (`None` when there is none); on real hardware, whatever is plugged in.
pub fn open_saved(station: &Station, fixture: &Fixture) -> Result<Option<FixtureHw>, HwError> {
    match fixture.backend {
        FixtureBackend::Hw => open_fixture(station, fixture, 0).map(Some),
        FixtureBackend::Sim => virtual_bench::saved_unit(station, fixture, probe(station, fixture)),
    }
}
