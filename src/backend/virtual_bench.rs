//! The virtual bench as a backend: a simulated unit behind the same seams as a real fixture,
//! its probe-rs probe registered under the fixture's probe serial, its console a pty, and its
//! state kept between processes under the records directory.

use std::path::PathBuf;
use std::sync::Arc;

use super::probe_rs::ProbeRsTarget;
use super::serial::SerialConsole;
use crate::config::{Fixture, Station};
use crate::hw::{FixtureHw, HwError, VirtualClock};
use crate::sim::bench_unit::SimUnit;
use crate::sim::{DeviceSpec, SimDevice, UsbIdentities};

/// Where the virtual bench keeps each fixture's unit between processes.
pub fn state_dir(station: &Station) -> PathBuf {
    station.records_dir.join(".station").join("sim")
}

/// Where a fixture's simulated unit is kept, in the bench's state directory.
pub fn state_path(state_dir: &std::path::Path, fixture: &str) -> PathBuf {
    state_dir.join(format!(
        "{}.state",
        crate::record::paths::safe_component(fixture)
    ))
}

fn fixture_state(station: &Station, fixture: &Fixture) -> PathBuf {
    state_path(&state_dir(station), &fixture.id)
}

/// A fresh simulated unit number `unit`, with the fixture's faults.
pub fn new_unit(
    station: &Station,
    fixture: &Fixture,
    unit: u64,
    debug: Box<ProbeRsTarget>,
) -> Result<FixtureHw, HwError> {
    let spec = sim_spec(fixture, unit)?;
    let clock = Arc::new(VirtualClock::with_mode(station.time));
    let device = SimDevice::new(&spec, clock).map_err(HwError::Backend)?;
    if let Some(sim) = &fixture.sim {
        let mut mcu = device.lock();
        mcu.faults = sim.faults.clone();
        if sim.faults.delivered_rdp1 {
            mcu.deliver_at_rdp1();
        }
    }
    wire(
        debug,
        device,
        unit,
        fixture_state(station, fixture),
        fixture,
    )
}

/// The unit the last command saved on this fixture, if any.
pub fn saved_unit(
    station: &Station,
    fixture: &Fixture,
    debug: Box<ProbeRsTarget>,
) -> Result<Option<FixtureHw>, HwError> {
    let path = fixture_state(station, fixture);
    match crate::sim::state::load(&path, usb_identities(fixture)).map_err(HwError::Backend)? {
        Some(loaded) => {
            let spec = sim_spec(fixture, loaded.unit)?;
            let device = SimDevice::attach(loaded.mcu, &spec.probe_serial);
            wire(debug, device, loaded.unit, path, fixture).map(Some)
        }
        None => Ok(None),
    }
}

fn sim_spec(fixture: &Fixture, unit: u64) -> Result<DeviceSpec, HwError> {
    let sim = fixture
        .sim
        .as_ref()
        .ok_or_else(|| HwError::Backend("simulated fixture without [fixtures.sim]".into()))?;
    let serial = super::probe_serial(&fixture.probe).ok_or_else(|| {
        HwError::Backend(format!(
            "simulated fixture {} needs a probe serial (1209:5151:SERIAL)",
            fixture.id
        ))
    })?;
    Ok(DeviceSpec {
        family: sim.family,
        part: sim.part.clone(),
        seed: sim.seed,
        fixture: fixture.id.clone(),
        unit,
        timing: sim.timing,
        usb: usb_identities(fixture),
        probe_serial: serial.to_string(),
    })
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

/// The unit's seams, and its application's console: a pty linked at `<state dir>/<fixture>.tty`.
fn wire(
    debug: Box<ProbeRsTarget>,
    mut device: SimDevice,
    unit: u64,
    state: PathBuf,
    fixture: &Fixture,
) -> Result<FixtureHw, HwError> {
    let command = fixture.console_dfu_command.clone();
    let path = device
        .start_console(&command, Some(&state.with_extension("tty")))
        .map_err(|e| {
            HwError::Backend(format!("cannot open a pty for the simulated console: {e}"))
        })?;
    Ok(FixtureHw {
        console: Some(Box::new(SerialConsole {
            path,
            dfu_command: command,
        })),
        debug,
        usb: device.usb_bus(),
        power: Some(device.power()),
        lines: Some(device.lines()),
        clock: device.clock.clone(),
        bench: Some(Box::new(SimUnit {
            device,
            saved_as: Some((unit, state)),
        })),
        hold: None,
    })
}
