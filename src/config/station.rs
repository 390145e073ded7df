use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::profile::{Profile, load_profile};
pub use super::sim_fixture::{GeneratedBootloader, Initial, SimSpec};
use super::sim_fixture::{SimSpecRaw, default_dfu_command, generated_bootloader};
use super::{ConfigError, SourceFile, parse_vid_pid, resolve};
use crate::chip::Family;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StationMode {
    #[default]
    Production,
    Engineering,
    Rma,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorPolicy {
    /// Every run must name its operator (`--operator`).
    #[serde(default)]
    pub required: bool,
    /// Recorded when none is given and none is required.
    #[serde(default = "default_operator")]
    pub default: String,
}

fn default_operator() -> String {
    "unknown".into()
}

/// When a unit is routed to rework instead of being tested again.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReworkPolicy {
    /// Failed production attempts (FAIL: the unit's fault) before the unit is refused until a
    /// technician clears it (`station rework clear`).
    #[serde(default = "default_rework_after")]
    pub after_failures: Spanned<u32>,
}

fn default_rework_after() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

impl Default for ReworkPolicy {
    fn default() -> Self {
        Self {
            after_failures: default_rework_after(),
        }
    }
}

/// A known-good unit checked at the start of a shift: production is refused until it passes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenPolicy {
    /// The golden unit's UID, 24 hex digits as `station inspect` prints it.
    pub uid: Spanned<String>,
    /// How long a passed check lets production run (a shift).
    #[serde(default = "default_golden_hours")]
    pub every_hours: Spanned<f64>,
}

fn default_golden_hours() -> Spanned<f64> {
    Spanned::new(0..0, 12.0)
}

/// The longest watchdog a station file may set: a day of real time per unit.
const MAX_WATCHDOG_S: f64 = 86_400.0;
/// The longest a golden unit's check may hold: a year.
const MAX_GOLDEN_HOURS: f64 = 8_784.0;

/// Real-time seconds a unit may take before the watchdog closes it as TIMEOUT: catches a
/// fixture that hangs, which the virtual clock would never time out.
fn default_watchdog_s() -> Spanned<f64> {
    Spanned::new(0..0, 1800.0)
}

impl Default for OperatorPolicy {
    fn default() -> Self {
        Self {
            required: false,
            default: default_operator(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixtureBackend {
    /// Real hardware: probe-rs, rusb, serialport.
    Hw,
    /// The virtual bench.
    Sim,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbIdentitySpec {
    /// VID:PID the application enumerates with.
    pub application: Spanned<String>,
    /// VID:PID of the custom bootloader in DFU mode.
    pub bootloader: Spanned<String>,
    /// VID:PID of the ST system bootloader (0483:df11).
    #[serde(default = "default_rom")]
    pub rom: Spanned<String>,
    pub serial: Option<String>,
    /// USB port path ("1-3.2"); parallel fixtures need it since ROM serials can collide.
    pub port: Option<Spanned<String>>,
}

fn default_rom() -> Spanned<String> {
    Spanned::new(0..0, "0483:df11".to_string())
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase", tag = "kind")]
pub enum PowerSpec {
    /// The virtual bench's switch.
    Sim,
    /// No switch: the station resets through NRST and cannot power-cycle.
    None,
    /// A USB hub's per-port power (hub VID:PID, optional USB port path, the port number).
    Hub {
        hub: String,
        #[serde(default)]
        hub_port_path: Option<String>,
        port: u8,
    },
    /// A serial relay board: the bytes that switch it on and off, as hex ("A0 01 01 A2").
    Relay {
        serial_port: String,
        #[serde(default = "relay_baud")]
        baud: u32,
        on: String,
        off: String,
    },
    /// The operator plugs and unplugs the unit when asked.
    Manual,
}

fn relay_baud() -> u32 {
    9600
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesSpec {
    /// How BOOT0 is driven: "sim", or "none" when the fixture has no strap line.
    #[serde(default)]
    pub boot0: Option<String>,
    /// How NRST is driven: "probe" (the debug probe's reset line), "sim" or "none".
    #[serde(default)]
    pub nrst: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureRaw {
    id: Spanned<String>,
    backend: FixtureBackend,
    profile: Spanned<PathBuf>,
    probe: Spanned<String>,
    #[serde(default)]
    probe_speed_khz: Option<u32>,
    usb: UsbIdentitySpec,
    #[serde(default)]
    serial_port: Option<String>,
    /// The command the application's console enters DFU on.
    #[serde(default)]
    console_dfu_command: Option<String>,
    power: PowerSpec,
    #[serde(default)]
    lines: LinesSpec,
    #[serde(default)]
    sim: Option<SimSpecRaw>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StationRaw {
    id: String,
    #[serde(default)]
    records: Option<Spanned<PathBuf>>,
    #[serde(default)]
    mode: StationMode,
    #[serde(default)]
    operator: OperatorPolicy,
    #[serde(default)]
    rework: ReworkPolicy,
    #[serde(default)]
    golden: Option<GoldenPolicy>,
    #[serde(default = "default_watchdog_s")]
    watchdog_s: Spanned<f64>,
    fixtures: Vec<FixtureRaw>,
}

/// One fixture, resolved: its profile loaded, its identities parsed.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub id: String,
    pub backend: FixtureBackend,
    pub profile_path: PathBuf,
    /// probe-rs selector VID:PID[:serial].
    pub probe: String,
    pub probe_speed_khz: u32,
    pub usb_application: (u16, u16),
    pub usb_bootloader: (u16, u16),
    pub usb_rom: (u16, u16),
    pub usb_serial: Option<String>,
    pub usb_port: Option<String>,
    pub serial_port: Option<String>,
    /// The command the unit's application enters DFU on, through its console: the fixture's
    /// `console_dfu_command`, else what a simulated application takes, else `dfu`.
    pub console_dfu_command: String,
    pub power: PowerSpec,
    pub lines: LinesSpec,
    pub sim: Option<SimSpec>,
    pub spans: FixtureSpans,
}

/// Where a fixture's keys sit in the station file, for errors found after loading.
#[derive(Clone, Debug, Default)]
pub struct FixtureSpans {
    pub id: std::ops::Range<usize>,
    pub profile: std::ops::Range<usize>,
    pub probe: std::ops::Range<usize>,
    pub port: Option<std::ops::Range<usize>>,
}

#[derive(Clone, Debug)]
pub struct Station {
    pub source: SourceFile,
    pub id: String,
    pub records_dir: PathBuf,
    pub mode: StationMode,
    pub operator: OperatorPolicy,
    pub rework: ReworkPolicy,
    /// The golden unit, lowercase UID, and how long its check holds.
    pub golden: Option<(String, f64)>,
    /// Real-time seconds per unit before the watchdog closes it as TIMEOUT.
    pub watchdog: std::time::Duration,
    pub fixtures: Vec<Fixture>,
    /// Profiles by resolved path.
    pub profiles: BTreeMap<PathBuf, Profile>,
    /// How simulated fixtures keep time: a run option (`--time`), never read from the file.
    pub time: crate::hw::TimeMode,
}

impl Station {
    pub fn fixture(&self, id: &str) -> Option<&Fixture> {
        self.fixtures.iter().find(|f| f.id == id)
    }

    pub fn profile_of(&self, fixture: &Fixture) -> &Profile {
        // Every fixture's profile was loaded by load_station.
        &self.profiles[&fixture.profile_path]
    }
}

/// Load a station file and every profile its fixtures use. Reports the first error per file
/// in a form a person can act on; `check_station` then validates images and cross-references.
pub fn load_station(path: &Path) -> Result<Station, Vec<ConfigError>> {
    let source = SourceFile::read(path, None).map_err(|e| vec![e])?;
    let raw: StationRaw = source.parse().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut fixtures = Vec::new();
    let mut profiles = BTreeMap::new();
    // Profiles that failed to load: reported once, not once per fixture that uses them.
    let mut failed_profiles = std::collections::BTreeSet::new();
    if raw.fixtures.is_empty() {
        errors.push(source.error_at(
            0..0,
            "fixtures",
            "a station needs at least one [[fixtures]] entry",
        ));
    }
    for (i, f) in raw.fixtures.into_iter().enumerate() {
        let key = |k: &str| format!("fixtures[{i}].{k}");
        match resolve_fixture(&source, f, &key) {
            Ok(fixture) => {
                if failed_profiles.contains(&fixture.profile_path) {
                    continue;
                }
                if !profiles.contains_key(&fixture.profile_path) {
                    match load_profile(
                        &fixture.profile_path,
                        &source,
                        fixture.spans.profile.clone(),
                        &key("profile"),
                    ) {
                        Ok(p) => {
                            profiles.insert(fixture.profile_path.clone(), p);
                        }
                        Err(mut e) => {
                            errors.append(&mut e);
                            failed_profiles.insert(fixture.profile_path.clone());
                            continue;
                        }
                    }
                }
                fixtures.push(fixture);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    let golden = raw.golden.as_ref().and_then(|g| {
        let uid = g.uid.get_ref().to_ascii_lowercase();
        let hex = uid.len() == 24 && uid.chars().all(|c| c.is_ascii_hexdigit());
        if !hex {
            errors.push(source.error_at(
                g.uid.span(),
                "golden.uid",
                format!(
                    "expected the golden unit's UID as 24 hex digits, found {:?}",
                    g.uid.get_ref()
                ),
            ));
        }
        let hours = *g.every_hours.get_ref();
        if !(hours > 0.0 && hours <= MAX_GOLDEN_HOURS) {
            errors.push(source.error_at(
                g.every_hours.span(),
                "golden.every_hours",
                format!(
                    "expected a positive number of hours, at most {MAX_GOLDEN_HOURS} (a year), \
                     found {hours}"
                ),
            ));
        }
        hex.then_some((uid, hours))
    });
    let watchdog_s = *raw.watchdog_s.get_ref();
    if !(watchdog_s > 0.0 && watchdog_s <= MAX_WATCHDOG_S) {
        errors.push(source.error_at(
            raw.watchdog_s.span(),
            "watchdog_s",
            format!(
                "expected a positive number of seconds, at most {MAX_WATCHDOG_S} (a day), \
                 found {watchdog_s}"
            ),
        ));
    }
    if *raw.rework.after_failures.get_ref() == 0 {
        errors.push(source.error_at(
            raw.rework.after_failures.span(),
            "rework.after_failures",
            "expected at least 1 failed attempt before rework",
        ));
    }
    let records_dir = match &raw.records {
        Some(r) => resolve(path, r.get_ref()),
        None => resolve(path, Path::new("../logs")),
    };
    if let Some(r) = &raw.records {
        if r.get_ref().as_os_str().is_empty() {
            errors.push(source.error_at(
                r.span(),
                "records",
                "expected a records directory, found an empty path (records would be written \
                 among the station files)",
            ));
        } else if records_dir.is_file() {
            errors.push(source.error_at(
                r.span(),
                "records",
                format!(
                    "expected a directory, found a file: {}",
                    records_dir.display()
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Station {
        source,
        id: raw.id,
        records_dir,
        mode: raw.mode,
        operator: raw.operator,
        rework: raw.rework,
        golden,
        watchdog: std::time::Duration::from_secs_f64(watchdog_s),
        fixtures,
        profiles,
        time: crate::hw::TimeMode::Virtual,
    })
}

fn resolve_fixture(
    source: &SourceFile,
    f: FixtureRaw,
    key: &dyn Fn(&str) -> String,
) -> Result<Fixture, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let id = f.id.get_ref().clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        errors.push(source.error_at(
            f.id.span(),
            &key("id"),
            format!("expected a fixture id of letters, digits, '-', '_' or '.', found {id:?}"),
        ));
    }
    let probe = f.probe.get_ref().clone();
    if probe
        .parse::<probe_rs::probe::DebugProbeSelector>()
        .is_err()
    {
        errors.push(source.error_at(f.probe.span(), &key("probe"), format!(
            "expected a probe selector VID:PID[:serial] such as 0483:374b:066EFF575755, found {probe:?}"
        )));
    } else if f.backend == FixtureBackend::Sim
        && parse_vid_pid(&probe.splitn(3, ':').take(2).collect::<Vec<_>>().join(":"))
            != Some(crate::hw::bench::PROBE_VID_PID)
    {
        let (vid, pid) = crate::hw::bench::PROBE_VID_PID;
        errors.push(source.error_at(
            f.probe.span(),
            &key("probe"),
            format!(
                "a simulated fixture's probe is the virtual bench's: expected \
                 {vid:04x}:{pid:04x}:SERIAL, found {probe:?}"
            ),
        ));
    }
    let mut vid_pid = |spanned: &Spanned<String>, k: &str| match parse_vid_pid(spanned.get_ref()) {
        Some(v) => v,
        None => {
            errors.push(source.error_at(
                spanned.span(),
                &key(k),
                format!(
                    "expected VID:PID in hex such as 0483:df11, found {:?}",
                    spanned.get_ref()
                ),
            ));
            (0, 0)
        }
    };
    let usb_application = vid_pid(&f.usb.application, "usb.application");
    let usb_bootloader = vid_pid(&f.usb.bootloader, "usb.bootloader");
    let usb_rom = vid_pid(&f.usb.rom, "usb.rom");
    let sim = match (&f.backend, f.sim) {
        (FixtureBackend::Sim, None) => {
            errors.push(source.error_at(f.id.span(), &key("sim"), "a fixture with backend = \"sim\" needs a [fixtures.sim] table (family, part, seed)"));
            None
        }
        (FixtureBackend::Hw, Some(_)) => {
            errors.push(source.error_at(
                f.id.span(),
                &key("sim"),
                "[fixtures.sim] only applies to backend = \"sim\"",
            ));
            None
        }
        (_, Some(s)) => match Family::parse(s.family.get_ref()) {
            None => {
                errors.push(source.error_at(
                    s.family.span(),
                    &key("sim.family"),
                    format!(
                        "expected a simulated family (f4, f7, h7, l4, g0), found {:?}",
                        s.family.get_ref()
                    ),
                ));
                None
            }
            Some(family) => {
                if !family.knows_part(s.part.get_ref()) {
                    errors.push(source.error_at(
                        s.part.span(),
                        &key("sim.part"),
                        format!(
                            "expected one of {}, found {:?}",
                            family.parts().join(", "),
                            s.part.get_ref()
                        ),
                    ));
                }
                let mut faults = crate::hw::bench::Faults::default();
                for f in &s.faults {
                    if let Err(why) = faults.add(f.get_ref()) {
                        errors.push(source.error_at(f.span(), &key("sim.faults"), why));
                    }
                }
                let bootloader = generated_bootloader(&s, source, key, &mut errors);
                Some(SimSpec {
                    family,
                    part: s.part.get_ref().clone(),
                    seed: s.seed,
                    timing: s.timing,
                    dfu_command: s.dfu_command.clone(),
                    faults,
                    initial: s.initial,
                    bootloader,
                })
            }
        },
        (FixtureBackend::Hw, None) => None,
    };
    if f.backend == FixtureBackend::Sim && !matches!(f.power, PowerSpec::Sim) {
        errors.push(source.error_at(
            f.id.span(),
            &key("power.kind"),
            "a simulated fixture uses power.kind = \"sim\"",
        ));
    }
    if f.backend == FixtureBackend::Hw && matches!(f.power, PowerSpec::Sim) {
        errors.push(source.error_at(
            f.id.span(),
            &key("power.kind"),
            "power.kind = \"sim\" needs backend = \"sim\"",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let spans = FixtureSpans {
        id: f.id.span(),
        profile: f.profile.span(),
        probe: f.probe.span(),
        port: f.usb.port.as_ref().map(|p| p.span()),
    };
    Ok(Fixture {
        id,
        backend: f.backend,
        profile_path: resolve(&source.path, f.profile.get_ref()),
        probe,
        probe_speed_khz: f.probe_speed_khz.unwrap_or(4000),
        usb_application,
        usb_bootloader,
        usb_rom,
        usb_serial: f.usb.serial,
        usb_port: f.usb.port.map(|p| p.into_inner()),
        serial_port: f.serial_port,
        console_dfu_command: f
            .console_dfu_command
            .or_else(|| sim.as_ref().map(|s: &SimSpec| s.dfu_command.clone()))
            .unwrap_or_else(default_dfu_command),
        power: f.power,
        lines: f.lines,
        sim,
        spans,
    })
}
