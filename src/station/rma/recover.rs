//! `station recover`: bring back a bricked, locked or half-updated returned unit over SWD.
//! Attach under reset, identify, have the operator type the unit's label, lift RDP and write
//! protection (RDP 1 → 0 mass-erases the flash), flash the profile's bootloader, verify it,
//! restore the profile's option bytes, restart, and write an `rma` record linked to the unit's
//! last production record.

use std::time::Duration;

use super::analyse::{self, Match};
use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::hw::FixtureHw;
use crate::hw::{FlashOptions, UsbSelector};
use crate::record::{self, ImageRef, RecordKind, RecordStore};
use crate::station::dut::{self, power_cycle};
use crate::station::events::{Event, EventSink};
use crate::station::held_unit::{self, Gate, UnitRef, WorkDone, WorkOptions};
use crate::station::images::load_unit_images;
use crate::station::step::{StepError, StepOutput};
use crate::station::unit::UnitRun;
use crate::stm32::options::{self, OptionWords};

/// Recover the unit `hw` holds. `authorise` is shown the gate and returns what the operator
/// typed (None: nothing). The unit is saved for the next command whatever happens.
pub fn recover(
    station: &Station,
    fixture: &Fixture,
    hw: FixtureHw,
    options: &WorkOptions,
    authorise: &mut dyn FnMut(&Gate) -> Option<String>,
    sink: &dyn EventSink,
) -> Result<WorkDone, StationError> {
    let profile = station.profile_of(fixture);
    if *profile.option_bytes.rdp.get_ref() == 2 {
        return Err(StationError::usage(format!(
            "{}: the profile asks for RDP level 2; recover never sets a permanent lock",
            profile.source.path.display()
        )));
    }
    let images = load_unit_images(profile)?;
    let (mut run, store, started_at) =
        held_unit::begin(station, fixture, &images, hw, sink, options)?;
    let known = run.step("attach", |u| held_unit::attach(u, dut::attach_under_reset))
        && run.step("identify", identify);
    let gate = match (known, run.device.clone()) {
        (true, Some(device)) => gate(&mut run, &store, &device.uid, authorise),
        _ => Err(held_unit::not_ready(&mut run, "recover")),
    };
    let unit = gate.map_err(|e| held_unit::refuse(&mut run, e))?;
    let _ = run.step("unprotect", unprotect)
        && run.step("flash_bootloader", flash_bootloader)
        && run.step("verify_bootloader", verify_bootloader)
        && run.step("option_bytes", restore_options)
        && run.step("restart", restart);
    let boot = &run.images.bootloader;
    let images = vec![ImageRef {
        name: boot.name.clone(),
        role: "bootloader".into(),
        sha256: boot.sha256.clone(),
    }];
    let record = (RecordKind::Rma, options.operator.as_str(), images);
    held_unit::finish(station, &mut run, &store, &unit, record, started_at)
}

fn gate(
    run: &mut UnitRun,
    store: &RecordStore,
    uid: &str,
    authorise: &mut dyn FnMut(&Gate) -> Option<String>,
) -> Result<UnitRef, StationError> {
    let family = run.profile.family;
    let words = options::read(family, run.hw.debug.as_mut()).map_err(dut::hw_error)?;
    let unit = UnitRef::find(store, uid)?;
    let erase = if options::summary(family, &words).rdp_level >= 1 {
        "regresses RDP 1 -> 0, which ERASES THE WHOLE FLASH, then "
    } else {
        ""
    };
    let action = format!(
        "recover {erase}rewrites the bootloader and option bytes of UID {}",
        unit.uid
    );
    Gate { unit, action }.pass(&run.fixture.id, authorise)
}

fn identify(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    let id = dut::identify(&mut u.hw, u.profile)?;
    let expected_kib = u.profile.memory.flash.size / 1024;
    if id.flash_kib != expected_kib {
        return Err(StepError::fail(format!(
            "the part reports {} KiB of flash, the profile expects {expected_kib} KiB:              it is not this product's part",
            id.flash_kib
        )));
    }
    u.device = Some(record::DeviceInfo {
        uid: id.uid_hex(),
        idcode: id.idcode,
        flash_size_kib: id.flash_kib,
    });
    let words = options::read(u.profile.family, u.hw.debug.as_mut())?;
    let mut out = StepOutput::default();
    out.details.insert("uid".into(), id.uid_hex().into());
    out.details
        .insert("idcode".into(), format!("{:#010x}", id.idcode).into());
    out.details.insert(
        "option_bytes".into(),
        options::decode(u.profile.family, &words),
    );
    Ok(out)
}

/// Program `wanted`, power cycle so it governs the part (whatever the family's activation:
/// the power cycle also ends the debug session RDP 1 holds against the flash), attach again
/// and read it back.
fn program_options(
    u: &mut UnitRun,
    wanted: &OptionWords,
    out: &mut StepOutput,
) -> Result<(), StepError> {
    let family = u.profile.family;
    u.program_options(wanted)?;
    u.hw.debug.detach();
    power_cycle(&mut u.hw)?;
    dut::attach_under_reset(&mut u.hw)?;
    let after = options::read(family, u.hw.debug.as_mut())?;
    out.details
        .insert("after".into(), options::decode(family, &after));
    if &after != wanted {
        return Err(StepError::fail(format!(
            "option bytes read back {:?}, expected {:?}",
            after.0, wanted.0
        )));
    }
    Ok(())
}

/// Lift read and write protection so the bootloader sectors can be written again.
fn unprotect(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    let family = u.profile.family;
    let before = options::read(family, u.hw.debug.as_mut())?;
    let current = options::summary(family, &before);
    let mut out = StepOutput::default();
    out.details
        .insert("before".into(), options::decode(family, &before));
    if current.rdp_level == 2 {
        return Err(StepError::fail(
            "the unit is at RDP level 2, which is permanent: it cannot be recovered",
        ));
    }
    let mass_erase = current.rdp_level == 1;
    out.details.insert("mass_erase".into(), mass_erase.into());
    if !mass_erase && current.write_protected.is_empty() {
        out.details.insert("needed".into(), false.into());
        return Ok(out);
    }
    let wanted = options::opened(family, &before).map_err(StepError::error)?;
    out.details
        .insert("requested".into(), options::decode(family, &wanted));
    program_options(u, &wanted, &mut out)?;
    Ok(out)
}

fn flash_bootloader(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    let segments = u.images.bootloader.segments.clone();
    let options = FlashOptions {
        verify: true,
        preverify: false,
    };
    let (sink, fixture, unit) = (u.sink, u.fixture.id.clone(), u.unit);
    let report = u.hw.debug.flash(&segments, &options, &mut |p| {
        sink.emit(Event::Progress {
            fixture: fixture.clone(),
            unit,
            step: "flash_bootloader".into(),
            phase: format!("{:?}", p.phase).to_lowercase(),
            done: p.done,
            total: p.total,
        });
    })?;
    let mut out = StepOutput::default();
    out.details
        .insert("image".into(), u.images.bootloader.name.clone().into());
    out.details
        .insert("bytes".into(), report.bytes_programmed.into());
    Ok(out)
}

/// Read the bootloader region back and judge it as inspect does.
fn verify_bootloader(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    let debug = &mut u.hw.debug;
    let mut read = |address: u32, len: u32| {
        let mut buf = vec![0u8; len as usize];
        debug
            .read_bytes(address, &mut buf)
            .map(|()| buf)
            .map_err(|e| e.to_string())
    };
    let (view, _) = analyse::compare_bootloader(u.profile, &u.images.bootloader, &mut read);
    let mut out = StepOutput::default();
    out.details.insert(
        "bootloader".into(),
        serde_json::to_value(&view).unwrap_or_default(),
    );
    let valid = view.check.as_deref() == Some("valid");
    if view.status != Match::Match || !valid {
        return Err(StepError::fail(format!(
            "the bootloader region does not verify: {}",
            view.detail
        )));
    }
    Ok(out)
}

fn restore_options(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    let family = u.profile.family;
    let before = options::read(family, u.hw.debug.as_mut())?;
    // Recovery never locks for good: RDP level 2 is the production run's step, with its own
    // typed confirmation. Here it stays at level 1.
    let mut spec = u.profile.option_bytes.clone();
    let deferred = *spec.rdp.get_ref() == 2;
    if deferred {
        spec.rdp = toml::Spanned::new(0..0, 1);
    }
    let wanted = options::encode(family, &spec, &before).map_err(StepError::error)?;
    let mut out = StepOutput::default();
    out.details.insert("rdp2_deferred".into(), deferred.into());
    out.details
        .insert("before".into(), options::decode(family, &before));
    out.details
        .insert("requested".into(), options::decode(family, &wanted));
    let changed = before != wanted;
    out.details.insert("programmed".into(), changed.into());
    if changed {
        program_options(u, &wanted, &mut out)?;
    } else {
        out.details
            .insert("after".into(), options::decode(family, &before));
    }
    Ok(out)
}

/// Power cycle with no debugger attached and check the unit comes up on USB.
fn restart(u: &mut UnitRun) -> Result<StepOutput, StepError> {
    u.hw.debug.detach();
    power_cycle(&mut u.hw)?;
    let f = u.fixture;
    let clock = u.hw.clock.clone();
    let modes = [
        (f.usb_bootloader, "bootloader in DFU mode"),
        (f.usb_application, "application"),
    ];
    let start = clock.now();
    let deadline = crate::station::update::ENUMERATION_DEADLINE;
    loop {
        for ((vid, pid), what) in modes {
            let selector = UsbSelector {
                vid,
                pid,
                serial: None,
                port_path: f.usb_port.clone(),
            };
            if u.hw.usb.open(&selector).is_ok() {
                let mut out = StepOutput::default();
                let found = format!("{what} {vid:04x}:{pid:04x}");
                out.details.insert("usb".into(), found.into());
                return Ok(out);
            }
        }
        if clock.now().saturating_sub(start) >= deadline {
            return Err(StepError::fail(format!(
                "after recovery the unit did not come up on USB within {deadline:?} \
                 (neither its bootloader nor an application): check the USB cable, then inspect it"
            )));
        }
        clock.sleep(Duration::from_millis(100));
    }
}
