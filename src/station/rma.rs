//! RMA: look at a returned unit (`inspect`), save its flash for failure analysis (`dump`), and
//! bring a bricked, locked or half-updated unit back (`recover`). Every family: option bytes
//! go through `stm32::options`.
//!
//! Shared here: who the unit is (its last production record and the label an operator types to
//! authorise destructive work), what answers on USB, attaching and power cycling.

pub mod analyse;
pub mod dump;
pub mod inspect;
pub mod recover;

use std::time::Duration;

use super::unit::StepError;
use crate::backend::FixtureHw;
use crate::config::{self, Fixture, ImageRole, Profile};
use crate::error::StationError;
use crate::hw::{AttachMode, HwError, ResetKind, UsbError, UsbSelector};
use crate::image::Image;
use crate::record::{Outcome, Record, RecordKind, RecordStore, serial_from_uid};
use crate::stm32::{self, Identity};

/// Who a unit is, from the records: its last production record and the label to type.
#[derive(Clone, Debug)]
pub struct UnitRef {
    pub uid: String,
    pub production: Option<Record>,
    /// What an operator types to authorise destructive work on this unit.
    pub label: String,
}

impl UnitRef {
    /// Look the unit up by UID in the records directory.
    pub fn find(store: &RecordStore, uid: &str) -> Result<UnitRef, StationError> {
        let history = store
            .history(uid)
            .map_err(|e| StationError::station(format!("reading the unit's history: {e}")))?;
        let production = history
            .records
            .into_iter()
            .map(|(_, r)| r)
            .find(|r| r.kind == RecordKind::Production);
        let label = label_of(uid, production.as_ref());
        Ok(UnitRef {
            uid: uid.to_string(),
            production,
            label,
        })
    }

    /// Whether `typed` is this unit's label (hex digits of a UID in either case).
    pub fn matches(&self, typed: &str) -> bool {
        // As the engine's gates: a person types it, in whatever case.
        typed.trim().eq_ignore_ascii_case(&self.label)
    }

    /// Where the label comes from, in plain words.
    pub fn label_source(&self) -> String {
        match &self.production {
            Some(p) if p.label.is_some() || p.serial != serial_from_uid(&self.uid) => {
                format!("the label of production record {}", p.record_id)
            }
            _ => format!("the last 8 hex digits of UID {}", self.uid),
        }
    }
}

/// The production record's scanned label or serial when it has one, else the last 8 hex digits
/// of the UID (a serial made from the UID is not a label anyone can read off the unit).
pub fn label_of(uid: &str, production: Option<&Record>) -> String {
    if let Some(p) = production {
        if let Some(label) = &p.label {
            return label.clone();
        }
        if p.serial != serial_from_uid(uid) {
            return p.serial.clone();
        }
    }
    let uid = uid.trim().to_ascii_uppercase();
    uid[uid.len().saturating_sub(8)..].to_string()
}

/// The profile's bootloader image, checked against its pin.
pub fn pinned_bootloader(profile: &Profile) -> Result<Image, StationError> {
    let spec = profile.image(ImageRole::Bootloader).ok_or_else(|| {
        StationError::usage(format!(
            "{}: the profile has no bootloader image",
            profile.source.path.display()
        ))
    })?;
    config::check::load_pinned_image(profile, spec)
        .map_err(|e| StationError::usage(format!("error: {e}")))
}

/// A hardware error as the exit status a person acts on: the unit's fault is 1, the station's 3.
pub fn hw_error(e: HwError) -> StationError {
    step_error(StepError::from(e))
}

pub fn step_error(e: StepError) -> StationError {
    match e.outcome {
        Outcome::Fail => StationError::fail(e.message),
        Outcome::Aborted => StationError::aborted(e.message),
        _ => StationError::station(e.message),
    }
}

/// Switch the unit on if the fixture has it off (a power cut left it so). True if it was off.
pub fn ensure_powered(hw: &mut FixtureHw) -> Result<bool, HwError> {
    match hw.power.as_mut() {
        Some(power) if !power.is_on() => {
            power.set_power(true)?;
            hw.clock.sleep(Duration::from_millis(50));
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Attach without disturbing the unit; under reset when that fails (firmware that turns the
/// debug pins off or sleeps deeply only lets a debugger in while NRST is held).
pub fn attach_any(hw: &mut FixtureHw) -> Result<(), HwError> {
    match hw.debug.attach(AttachMode::Normal) {
        Ok(()) => Ok(()),
        Err(HwError::NotFound(m)) => Err(HwError::NotFound(m)),
        Err(_) => attach_under_reset(hw),
    }
}

/// Attach holding NRST; a silent target may be a part locked at RDP level 2 (one that
/// answers but never stops under reset is not).
pub fn attach_under_reset(hw: &mut FixtureHw) -> Result<(), HwError> {
    hw.debug
        .attach(AttachMode::UnderReset)
        .map_err(|e| match e {
            HwError::NoResponse(m) if !m.contains("under reset") => HwError::NoResponse(format!(
                "{m} (even under reset; a part at RDP level 2 never answers again and cannot be recovered)"
            )),
            other => other,
        })
}

/// Read and check the part's identity registers.
pub fn identify(hw: &mut FixtureHw, profile: &Profile) -> Result<Identity, StepError> {
    stm32::read_identity(hw.debug.as_mut(), profile.family).map_err(|e| match e {
        stm32::IdentityError::Hw(h) => StepError::from(h),
        wrong => StepError::fail(wrong.to_string()),
    })
}

/// Power the unit off and on (a reset through the debugger where the fixture has no switch).
/// Ends the debug session, so RDP level 1 no longer holds the flash against a new one.
pub fn power_cycle(hw: &mut FixtureHw) -> Result<(), HwError> {
    match hw.power.as_mut() {
        Some(power) => {
            hw.debug.detach();
            power.set_power(false)?;
            hw.clock.sleep(Duration::from_millis(200));
            power.set_power(true)?;
            hw.clock.sleep(Duration::from_millis(50));
        }
        None => {
            hw.debug.reset(ResetKind::Run)?;
            hw.debug.detach();
        }
    }
    Ok(())
}

/// What answers on USB now, in plain words (application, bootloader, ST ROM or nothing).
pub fn usb_now(hw: &FixtureHw, fixture: &Fixture) -> String {
    let modes = [
        (fixture.usb_application, "application"),
        (fixture.usb_bootloader, "bootloader in DFU mode"),
        (fixture.usb_rom, "ST system bootloader (DFU)"),
    ];
    let mut problem = None;
    for ((vid, pid), what) in modes {
        let selector = UsbSelector {
            vid,
            pid,
            serial: None,
            port_path: fixture.usb_port.clone(),
        };
        match hw.usb.open(&selector) {
            Ok(mut pipe) => {
                let product = crate::dfu::host::read_device_descriptor(pipe.as_mut())
                    .ok()
                    .and_then(|d| {
                        crate::dfu::host::read_string(pipe.as_mut(), d.product_index).ok()
                    })
                    .flatten()
                    .map(|p| format!(" \"{p}\""))
                    .unwrap_or_default();
                return format!("{what} {vid:04x}:{pid:04x}{product}");
            }
            Err(UsbError::NotFound(_) | UsbError::NoDevice) => {}
            Err(e) => problem = Some(e),
        }
    }
    match problem {
        Some(e) => format!("unknown (USB: {e})"),
        None => "nothing (no application, bootloader or ST ROM enumerates)".into(),
    }
}

/// Write the record of an RMA or engineering run on a held unit, linked to the unit's last
/// production record, and tell the sink. Returns the serial and the record's path.
pub fn write_unit_record(
    station: &crate::config::Station,
    run: &super::unit::UnitRun,
    store: &crate::record::RecordStore,
    unit: &UnitRef,
    (kind, operator, images): (
        crate::record::RecordKind,
        &str,
        Vec<crate::record::ImageRef>,
    ),
    started_at: chrono::DateTime<chrono::Utc>,
    (outcome, failure): (crate::record::Outcome, Option<String>),
) -> Result<(String, std::path::PathBuf), crate::error::StationError> {
    use crate::record::{self, ProfileRef, Record};
    let profile = run.profile;
    let production = unit.production.as_ref();
    let serial =
        production.map_or_else(|| record::serial_from_uid(&unit.uid), |p| p.serial.clone());
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        record_id: record::new_record_id(started_at),
        kind,
        serial: serial.clone(),
        label: production.and_then(|p| p.label.clone()),
        uid: Some(unit.uid.clone()),
        station: station.id.clone(),
        fixture: run.fixture.id.clone(),
        operator: operator.to_string(),
        station_version: super::STATION_VERSION.into(),
        profile: ProfileRef {
            name: profile.name.clone(),
            revision: profile.revision.clone(),
            sha256: profile.sha256.clone(),
        },
        images,
        started_at,
        ended_at: chrono::Utc::now().max(started_at),
        outcome,
        failure: failure.clone(),
        steps: run.steps.clone(),
        device: run.device.clone(),
        parent_record: production.map(|p| p.record_id.clone()),
        mode: Some(super::mode_name(station)),
        attempt: None,
        hardware: Some(super::hardware_ref(run.fixture, None)),
    };
    let path = store
        .write(&record)
        .map_err(|e| crate::error::StationError::station(format!("writing the record: {e}")))?;
    run.sink.emit(super::Event::UnitFinished {
        fixture: run.fixture.id.clone(),
        unit: run.unit,
        serial: serial.clone(),
        outcome,
        record: path.display().to_string(),
        failure,
    });
    Ok((serial, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "5ACE47BC5AC5372E928A227E";

    fn production(serial: &str, label: Option<&str>) -> Record {
        let text = format!(
            r#"{{"schema_version":1,"record_id":"r1","kind":"production","serial":"{serial}",
            "station":"s","fixture":"f","operator":"o","station_version":"0","profile":
            {{"name":"p","revision":"A","sha256":"{}"}},"started_at":"2026-01-01T00:00:00.000Z",
            "ended_at":"2026-01-01T00:00:00.000Z","outcome":"PASS"{}}}"#,
            "a".repeat(64),
            label
                .map(|l| format!(r#","label":"{l}""#))
                .unwrap_or_default()
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_label_is_the_scanned_one_else_a_real_serial_else_the_uid_tail() {
        let labelled = production("SN-7", Some("LBL-1"));
        assert_eq!(label_of(UID, Some(&labelled)), "LBL-1");
        assert_eq!(label_of(UID, Some(&production("SN-7", None))), "SN-7");
        let uid_serial = production(&serial_from_uid(UID), None);
        assert_eq!(label_of(UID, Some(&uid_serial)), "928A227E");
        assert_eq!(label_of(UID, None), "928A227E");
    }

    #[test]
    fn labels_match_in_either_case() {
        let unit = |label: &str| UnitRef {
            uid: UID.into(),
            production: None,
            label: label.into(),
        };
        assert!(unit("928A227E").matches(" 928a227e\n"));
        assert!(!unit("928A227E").matches("928A227"));
        assert!(unit("LBL-1").matches("lbl-1"));
        assert!(!unit("LBL-1").matches("LBL-2"));
    }
}
