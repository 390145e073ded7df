//! Which restore a torture campaign uses and which cut modes it can run on a fixture: a
//! snapshot only on the virtual bench, power cuts only with a power switch.

use std::sync::atomic::AtomicBool;

use super::{CutMode, Plan, Restore};
use crate::config::{Fixture, FixtureBackend, PowerSpec, Station};
use crate::error::StationError;

pub struct TortureOptions {
    pub plan: Option<Plan>,
    pub modes: Vec<CutMode>,
    /// How each point gets back to the pre-update state (default: a snapshot on the virtual
    /// bench, a reflash over SWD on real fixtures).
    pub restore: Option<Restore>,
    pub operator: String,
    /// Set to stop after the current cut point; the journal keeps what was done, so the same
    /// campaign run again resumes there.
    pub abort: Option<&'static AtomicBool>,
}

/// On a real bench the device's own flash operations cannot be listed.
pub const REFLASH_NOTE: &str = "restored by reflash over SWD: power cuts index the host's \
     operations, as the device's own flash operations after it reboots (an A/B bootloader's \
     copy) cannot be listed on real hardware; a cut after the leave lands in whatever the \
     device does as it starts";

/// The restore a campaign uses, and the modes it can run on this fixture.
pub(super) fn restore_and_modes(
    station: &Station,
    fixture: &Fixture,
    options: &TortureOptions,
    modes: Vec<CutMode>,
) -> Result<(Restore, Vec<CutMode>, Vec<String>), StationError> {
    let sim = fixture.backend == FixtureBackend::Sim;
    let restore = options.restore.unwrap_or(if sim {
        Restore::Snapshot
    } else {
        Restore::Reflash
    });
    if restore == Restore::Snapshot && !sim {
        return Err(StationError::usage(format!(
            "fixture {}: snapshot restore needs the virtual bench; a real fixture restores by \
             reflashing over SWD (--restore reflash)",
            fixture.id
        )));
    }
    let mut notes = Vec::new();
    if restore == Restore::Reflash {
        notes.push(REFLASH_NOTE.to_string());
    }
    let (power, other): (Vec<CutMode>, Vec<CutMode>) = modes.iter().partition(|m| m.is_power());
    if matches!(fixture.power, PowerSpec::None) && !power.is_empty() {
        let why = format!(
            "{}: fixture {} has no power switch (power.kind = \"none\"), so the power-cut modes \
             ({}) cannot run; give it a hub port, relay or manual power switch",
            station.source.path.display(),
            fixture.id,
            power
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if other.is_empty() {
            return Err(StationError::usage(why));
        }
        notes.push(format!("{why}; the campaign runs the other modes"));
        return Ok((restore, other, notes));
    }
    Ok((restore, modes, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn real_station(dir: &std::path::Path, power: &str) -> Station {
        let profile =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/zoo/naive.toml");
        let text = format!(
            r#"id = "real-bench"
records = "records"

[[fixtures]]
id = "board-1"
backend = "hw"
profile = "{}"
probe = "0483:374b:NONE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "1-4" }}
power = {power}
"#,
            profile.display()
        );
        let path = dir.join("real.toml");
        std::fs::write(&path, text).unwrap();
        config::load_station(&path).unwrap()
    }

    fn options(restore: Option<Restore>) -> TortureOptions {
        TortureOptions {
            plan: None,
            modes: Vec::new(),
            restore,
            operator: "test".into(),
            abort: None,
        }
    }

    #[test]
    fn a_real_fixture_without_a_power_switch_runs_only_the_other_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let station = real_station(tmp.path(), r#"{ kind = "none" }"#);
        let fixture = &station.fixtures[0];
        let (restore, modes, notes) =
            restore_and_modes(&station, fixture, &options(None), CutMode::ALL.to_vec()).unwrap();
        assert_eq!(
            restore,
            Restore::Reflash,
            "a real fixture restores by reflash"
        );
        assert_eq!(
            modes,
            [CutMode::HostAbort, CutMode::DfuAbort, CutMode::UsbReset]
        );
        let refused = notes
            .iter()
            .find(|n| n.contains("no power switch"))
            .unwrap();
        assert!(
            refused.contains("real.toml") && refused.contains("board-1"),
            "{refused}"
        );
        assert!(
            notes.iter().any(|n| n.contains("cannot be listed")),
            "{notes:?}"
        );
        // Asked for power cuts only: nothing could run.
        let only_power = vec![CutMode::PowerBefore, CutMode::PowerInside];
        let err = restore_and_modes(&station, fixture, &options(None), only_power).unwrap_err();
        assert_eq!(err.status, crate::error::ExitStatus::Usage);
        assert!(err.message.contains("real.toml") && err.message.contains("board-1"));
        assert!(
            err.message.contains("power-before, power-inside"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_real_fixture_with_a_switch_runs_every_mode_and_cannot_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let station = real_station(tmp.path(), r#"{ kind = "manual" }"#);
        let fixture = &station.fixtures[0];
        let (_, modes, _) =
            restore_and_modes(&station, fixture, &options(None), CutMode::ALL.to_vec()).unwrap();
        assert_eq!(modes, CutMode::ALL);
        let err = restore_and_modes(
            &station,
            fixture,
            &options(Some(Restore::Snapshot)),
            CutMode::ALL.to_vec(),
        )
        .unwrap_err();
        assert!(err.message.contains("--restore reflash"), "{}", err.message);
    }
}
