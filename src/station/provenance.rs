//! What every record says of where it was made: the station's version and mode, and the
//! fixture and probe its unit ran on.

use crate::config::{self, Fixture, Station};
use crate::record;

/// The station software's version, as records carry it.
pub const STATION_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The fixture and probe a record's unit ran on; `unit` is the fixture's counter (its cycles).
pub fn hardware_ref(fixture: &Fixture, unit: Option<u64>) -> record::HardwareRef {
    record::HardwareRef {
        backend: match fixture.backend {
            config::FixtureBackend::Sim => "sim".into(),
            config::FixtureBackend::Hw => "hw".into(),
        },
        probe: fixture.probe.clone(),
        usb_port: fixture.usb_port.clone(),
        fixture_cycles: unit.filter(|u| *u > 0),
    }
}

/// The station's mode as records write it.
pub fn mode_name(station: &Station) -> String {
    match station.mode {
        config::StationMode::Production => "production",
        config::StationMode::Engineering => "engineering",
        config::StationMode::Rma => "rma",
    }
    .into()
}
