//! A simulated fixture's `[fixtures.sim]` table: the part the virtual bench builds, its seed,
//! timings and faults, the state its units arrive in, and a generated bootloader design, as
//! written and as resolved. Configuration only: the bench reads it through `backend`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, SourceFile};
use crate::chip::{Family, Timing};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSpecRaw {
    pub(super) family: Spanned<String>,
    pub(super) part: Spanned<String>,
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) timing: Timing,
    /// What the simulated application's console takes to enter DFU.
    #[serde(default = "default_dfu_command")]
    pub(super) dfu_command: String,
    /// Faults the simulated units are built with (docs/sim.md).
    #[serde(default)]
    pub(super) faults: Vec<Spanned<String>>,
    /// The state each new unit arrives in.
    #[serde(default)]
    pub(super) initial: Initial,
    /// A bootloader design to generate for units that arrive with one, instead of the
    /// profile's bootloader image.
    #[serde(default)]
    pub(super) bootloader: Option<Spanned<String>>,
    /// The generated bootloader's knobs (docs/sim.md); app_base, app_size and slot_b default
    /// to the profile's slots a and b.
    #[serde(default)]
    pub(super) knobs: Option<Spanned<BTreeMap<String, String>>>,
}

/// The state a new simulated unit arrives in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Initial {
    /// From the silicon factory: erased flash, factory option bytes.
    #[default]
    Blank,
    /// A bootloader in its region (the profile's, or the generated `bootloader` design),
    /// factory option bytes.
    Bootloader,
    /// As a unit that passed this station: bootloader, application and the profile's option
    /// bytes (an RMA return, or a dry run of DFU work without SWD).
    Provisioned,
    /// Blank but read-protected at level 1 (a part from a bad reel).
    Rdp1,
}

/// A bootloader the virtual bench generates for its units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedBootloader {
    pub design: String,
    pub knobs: BTreeMap<String, String>,
}

pub(super) fn default_dfu_command() -> String {
    "dfu".into()
}

#[derive(Clone, Debug)]
pub struct SimSpec {
    pub family: Family,
    pub part: String,
    pub seed: u64,
    pub timing: Timing,
    pub dfu_command: String,
    pub faults: crate::hw::bench::Faults,
    pub initial: Initial,
    pub bootloader: Option<GeneratedBootloader>,
}

/// `sim.bootloader` and `sim.knobs`, checked as the simulated boot ROM will read them.
pub(super) fn generated_bootloader(
    s: &SimSpecRaw,
    source: &SourceFile,
    key: &dyn Fn(&str) -> String,
    errors: &mut Vec<ConfigError>,
) -> Option<GeneratedBootloader> {
    let Some(design) = &s.bootloader else {
        if let Some(knobs) = &s.knobs {
            errors.push(source.error_at(
                knobs.span(),
                &key("sim.knobs"),
                "knobs describe a generated bootloader: set sim.bootloader too",
            ));
        }
        return None;
    };
    if s.initial == Initial::Blank || s.initial == Initial::Rdp1 {
        errors.push(source.error_at(
            design.span(),
            &key("sim.bootloader"),
            "units arrive blank, so nothing runs this bootloader: set sim.initial = \"bootloader\" or \"provisioned\"",
        ));
    }
    let knobs = s
        .knobs
        .as_ref()
        .map(|k| k.get_ref().clone())
        .unwrap_or_default();
    // Check design and knob values with a placeholder slot where the profile will fill it in.
    let mut probe = knobs.clone();
    probe
        .entry("app_base".into())
        .or_insert_with(|| "0x08008000".into());
    let checked = crate::image::header::design::design_from(design.get_ref(), &probe, 0x0810_0000)
        .map(|_| ())
        .and_then(|()| crate::image::header::check_descriptor(design.get_ref(), &knobs));
    if let Err(why) = checked {
        let span = match (&s.knobs, why.contains("design")) {
            (Some(k), false) => k.span(),
            _ => design.span(),
        };
        errors.push(source.error_at(
            span,
            &key("sim.bootloader"),
            format!("{why} (designs: crc-single, ab-slots, naive, st-rom)"),
        ));
        return None;
    }
    Some(GeneratedBootloader {
        design: design.get_ref().clone(),
        knobs,
    })
}
