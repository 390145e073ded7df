use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, SourceFile, resolve};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub start: u32,
    pub size: u32,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.start as u64 + self.size as u64
    }
    pub fn overlaps(&self, start: u32, end: u64) -> bool {
        (start as u64) < self.end() && end > self.start as u64
    }
    pub fn contains_range(&self, start: u32, end: u64) -> bool {
        start >= self.start && end <= self.end()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub name: String,
    pub start: u32,
    pub size: u32,
}

impl Slot {
    pub fn region(&self) -> Region {
        Region {
            start: self.start,
            size: self.size,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryMap {
    /// The whole internal flash.
    pub flash: Region,
    /// Where the bootloader lives; nothing else may be written there.
    pub bootloader: Spanned<Region>,
    /// Application slots.
    pub slots: Vec<Slot>,
}

/// `MemoryMap` as written, with where each slot sits for errors found after loading.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryMapRaw {
    flash: Region,
    bootloader: Spanned<Region>,
    slots: Vec<Spanned<Slot>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageRole {
    Bootloader,
    Application,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageRaw {
    role: ImageRole,
    path: Spanned<PathBuf>,
    sha256: Spanned<String>,
    /// Load address, for raw binaries.
    #[serde(default)]
    address: Option<u32>,
    /// The application slot it is built for.
    #[serde(default)]
    slot: Option<Spanned<String>>,
    /// Which core runs it, on dual-core parts: "cm7" (the default) or "cm4".
    #[serde(default)]
    core: Option<Spanned<String>>,
}

/// Which core an application image is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Core {
    /// The only core, or the Cortex-M7 of a dual-core H7.
    #[default]
    Main,
    /// The Cortex-M4 of an H745/H747/H755/H757.
    Cm4,
}

/// Parts with a second (Cortex-M4) core.
fn dual_core(chip: &str) -> bool {
    ["STM32H745", "STM32H747", "STM32H755", "STM32H757"]
        .iter()
        .any(|p| chip.to_ascii_uppercase().starts_with(p))
}

#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub name: String,
    pub role: ImageRole,
    pub path: PathBuf,
    pub sha256: String,
    pub address: Option<u32>,
    pub slot: Option<String>,
    pub core: Core,
    pub path_span: Range<usize>,
    pub sha_span: Range<usize>,
    pub slot_span: Option<Range<usize>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum BorLevel {
    #[default]
    #[serde(rename = "off")]
    Off,
    #[serde(rename = "1")]
    Level1,
    #[serde(rename = "2")]
    Level2,
    #[serde(rename = "3")]
    Level3,
}

fn no_sectors() -> Spanned<Vec<u32>> {
    Spanned::new(0..0, Vec::new())
}

fn yes() -> bool {
    true
}

/// The option bytes a profile wants, typed. Each family encodes them (`crate::stm32`).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptionBytesSpec {
    /// Read protection level: 0, 1 or 2 (2 is permanent and needs allow_permanent_lock).
    pub rdp: Spanned<u8>,
    /// Sectors to write-protect.
    #[serde(default = "no_sectors")]
    pub write_protect: Spanned<Vec<u32>>,
    #[serde(default)]
    pub bor_level: BorLevel,
    /// Software watchdog (true) or hardware watchdog always on (false).
    #[serde(default = "yes")]
    pub iwdg_sw: bool,
    /// No reset when entering Stop.
    #[serde(default = "yes")]
    pub nrst_stop: bool,
    /// No reset when entering Standby.
    #[serde(default = "yes")]
    pub nrst_stdby: bool,
    #[serde(default)]
    pub allow_permanent_lock: bool,
    /// Where the (first) core boots from with BOOT0 low: F7 BOOT_ADD0, H7 BOOT_CM7_ADD0.
    #[serde(default)]
    pub boot_address: Option<u32>,
    /// L4/G0 boot configuration through nBOOT0/nBOOT_SEL/nBOOT1 (None: leave as found).
    #[serde(default)]
    pub boot_from: Option<BootFrom>,
}

/// What an L4 or G0 starts after reset, set in its option bytes: the field practice is to
/// boot the ST bootloader while updating and the application afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BootFrom {
    /// The BOOT0 pin decides; high starts system memory (nBOOT1 = 1).
    Pin,
    /// Main flash whatever the pin (G0: nBOOT_SEL = 1, nBOOT0 = 1).
    Flash,
    /// System memory, the ST bootloader, whatever the pin (G0: nBOOT_SEL = 1, nBOOT0 = 0).
    System,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DfuMode {
    /// Wait the bwPollTimeout the device asks for, as the spec says.
    #[default]
    Strict,
    /// Poll again at once; the device NAKs while busy.
    Fast,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EraseStrategy {
    /// Erase every touched sector before writing.
    Upfront,
    /// Erase each sector as the writing reaches it.
    #[default]
    Progressive,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DfuSettings {
    #[serde(default)]
    pub alt: u8,
    #[serde(default)]
    pub mode: DfuMode,
    #[serde(default)]
    pub erase: EraseStrategy,
    /// The slot DFU writes to, when it is not the image's own (an A/B design's slot B).
    #[serde(default)]
    pub target_slot: Option<String>,
    /// Read back what the download wrote, before leaving DFU: a cell that does not keep its
    /// value (a weak sector) fails the unit at dfu_download, naming the address.
    #[serde(default)]
    pub verify: bool,
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    #[serde(default)]
    pub low: Option<f64>,
    #[serde(default)]
    pub high: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TortureSpec {
    /// `exhaustive`, `every:N` or `random:N[:seed]`.
    pub plan: Spanned<String>,
    #[serde(default)]
    pub modes: Vec<String>,
    #[serde(default)]
    pub from_image: Option<String>,
    #[serde(default)]
    pub to_image: Option<String>,
}

/// A functional test through the application's console: send a command, check the reply
/// against a regular expression, or a number it captures against limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleTest {
    pub name: String,
    pub command: String,
    /// The reply must match this regular expression.
    #[serde(default)]
    pub expect: Option<String>,
    /// Or: the first capture group of `number` is a number within `low`..`high`.
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub low: Option<f64>,
    #[serde(default)]
    pub high: Option<f64>,
    #[serde(default)]
    pub unit: Option<String>,
    /// How long to wait for the reply.
    #[serde(default = "default_console_timeout")]
    pub timeout_ms: u64,
}

fn default_console_timeout() -> u64 {
    1000
}

/// How the engine runs one step: how long it may take on the fixture's clock, and how often
/// it is tried again when the station or fixture (not the unit) failed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepPolicy {
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// Extra tries after an ERROR or TIMEOUT.
    #[serde(default)]
    pub retries: u32,
    /// Also try again after a FAIL (a flaky contact rather than a bad unit).
    #[serde(default)]
    pub retry_fail: bool,
}

/// The engine's steps, in the order it runs them, with their default timeouts (seconds on
/// the fixture's clock). Console tests are `console_<name>`, all of them `console`.
pub const STEPS: &[(&str, f64)] = &[
    ("attach", 10.0),
    ("identify", 5.0),
    ("traceability", 30.0),
    ("flash_bootloader", 120.0),
    ("unit_data", 30.0),
    ("option_bytes", 60.0),
    ("dfu_download", 300.0),
    ("confirm_application", 30.0),
    ("console", 30.0),
    // The golden-unit check's own steps.
    ("golden_identity", 5.0),
    ("option_bytes_check", 30.0),
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRaw {
    name: String,
    revision: String,
    /// probe-rs chip name, e.g. STM32F407VGTx.
    chip: Spanned<String>,
    family: Spanned<String>,
    memory: MemoryMapRaw,
    images: BTreeMap<String, ImageRaw>,
    option_bytes: OptionBytesSpec,
    #[serde(default)]
    dfu: DfuSettings,
    #[serde(default)]
    torture: Option<TortureSpec>,
    #[serde(default)]
    limits: BTreeMap<Spanned<String>, Limit>,
    #[serde(default)]
    console_test: Vec<ConsoleTest>,
    #[serde(default)]
    unit_data: Option<super::unit_data::UnitDataRaw>,
    #[serde(default)]
    steps: BTreeMap<Spanned<String>, StepPolicy>,
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub source: SourceFile,
    pub sha256: String,
    pub name: String,
    pub revision: String,
    pub chip: String,
    pub family: crate::chip::Family,
    pub memory: MemoryMap,
    /// Where each of `memory.slots` sits in the profile, in the same order.
    pub slot_spans: Vec<Range<usize>>,
    pub images: Vec<ImageSpec>,
    pub option_bytes: OptionBytesSpec,
    pub dfu: DfuSettings,
    pub torture: Option<TortureSpec>,
    pub limits: BTreeMap<String, Limit>,
    pub console_tests: Vec<ConsoleTest>,
    /// Per-unit data written into OTP or a configuration sector (`[unit_data]`).
    pub unit_data: Option<super::unit_data::UnitDataSpec>,
    /// `[steps.NAME]`: timeouts and retries that differ from the defaults.
    pub steps: BTreeMap<String, StepPolicy>,
}

impl Profile {
    /// The bootloader, or the main core's application.
    pub fn image(&self, role: ImageRole) -> Option<&ImageSpec> {
        self.images
            .iter()
            .find(|i| i.role == role && i.core == Core::Main)
    }

    /// The second core's application, on a dual-core part.
    pub fn cm4_image(&self) -> Option<&ImageSpec> {
        self.images
            .iter()
            .find(|i| i.role == ImageRole::Application && i.core == Core::Cm4)
    }

    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.memory.slots.iter().find(|s| s.name == name)
    }

    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.limits.get(name)
    }

    /// The policy for step `name`: the profile's, or the default timeout and no retries. A
    /// console test takes its own entry, else the `console` one.
    pub fn step_policy(&self, name: &str) -> StepPolicy {
        let family = if name.starts_with("console_") {
            "console"
        } else {
            name
        };
        let mut policy = self
            .steps
            .get(name)
            .or_else(|| self.steps.get(family))
            .cloned()
            .unwrap_or(StepPolicy {
                timeout_s: None,
                retries: 0,
                retry_fail: false,
            });
        if policy.timeout_s.is_none() {
            policy.timeout_s = STEPS.iter().find(|(s, _)| *s == family).map(|(_, t)| *t);
        }
        policy
    }
}

fn valid_plan(plan: &str) -> bool {
    let num = |s: &str| s.parse::<u64>().is_ok_and(|n| n > 0);
    match plan.split(':').collect::<Vec<_>>().as_slice() {
        ["exhaustive"] => true,
        ["every", n] => num(n),
        ["random", n] => num(n),
        ["random", n, seed] => num(n) && seed.parse::<u64>().is_ok(),
        _ => false,
    }
}

pub(super) fn load_profile(
    path: &Path,
    station: &SourceFile,
    span: Range<usize>,
    key: &str,
) -> Result<Profile, Vec<ConfigError>> {
    let source = SourceFile::read(path, Some((station, span, key))).map_err(|e| vec![e])?;
    let raw: ProfileRaw = source.parse().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    use crate::chip::Family;
    let family = match Family::parse(raw.family.get_ref()) {
        Some(f) => f,
        None => {
            errors.push(source.error_at(
                raw.family.span(),
                "family",
                format!(
                    "expected a supported family ({}), found {:?}",
                    crate::chip::Family::ALL.map(|f| f.name()).join(", "),
                    raw.family.get_ref()
                ),
            ));
            crate::chip::Family::F4
        }
    };
    let line = format!("STM32{}", family.name().to_ascii_uppercase());
    if Family::parse(raw.family.get_ref()).is_some()
        && !raw.chip.get_ref().to_ascii_uppercase().starts_with(&line)
    {
        errors.push(source.error_at(
            raw.chip.span(),
            "chip",
            format!(
                "family {} expects an {line}... part, found chip {:?}",
                family.name(),
                raw.chip.get_ref()
            ),
        ));
    }
    let rdp = *raw.option_bytes.rdp.get_ref();
    if rdp > 2 {
        errors.push(source.error_at(
            raw.option_bytes.rdp.span(),
            "option_bytes.rdp",
            format!("expected 0, 1 or 2, found {rdp}"),
        ));
    }
    if rdp == 2 && !raw.option_bytes.allow_permanent_lock {
        errors.push(source.error_at(
            raw.option_bytes.rdp.span(),
            "option_bytes.rdp",
            "RDP level 2 is permanent: it needs allow_permanent_lock = true in [option_bytes]",
        ));
    }
    for (i, t) in raw.console_test.iter().enumerate() {
        let key = format!("console_test[{i}]");
        match (&t.expect, &t.number) {
            (Some(_), Some(_)) | (None, None) => errors.push(source.error_at(0..0, &key, "expected exactly one of `expect` (a regex) or `number` (a regex with one capture group)")),
            (Some(r), None) | (None, Some(r)) => {
                if let Err(e) = regex::Regex::new(r) {
                    errors.push(source.error_at(0..0, &key, format!("not a valid regular expression: {e}")));
                }
            }
        }
    }
    if let Some(target) = &raw.dfu.target_slot
        && !raw.memory.slots.iter().any(|s| &s.get_ref().name == target)
    {
        errors.push(source.error_at(
            0..0,
            "dfu.target_slot",
            format!("expected one of the memory.slots names, found {target:?}"),
        ));
    }
    if let Some(t) = &raw.torture
        && !valid_plan(t.plan.get_ref())
    {
        errors.push(source.error_at(
            t.plan.span(),
            "torture.plan",
            format!(
                "expected exhaustive, every:N or random:N[:seed], found {:?}",
                t.plan.get_ref()
            ),
        ));
    }
    let console_tests: Vec<&str> = raw.console_test.iter().map(|t| t.name.as_str()).collect();
    super::policy::check_steps(&source, &raw.steps, &console_tests, &mut errors);
    super::policy::check_limits(&source, &raw.limits, &console_tests, &mut errors);
    let mut images = Vec::new();
    for (name, img) in raw.images {
        let key = |k: &str| format!("images.{name}.{k}");
        let sha = img.sha256.get_ref().to_ascii_lowercase();
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            errors.push(source.error_at(
                img.sha256.span(),
                &key("sha256"),
                format!(
                    "expected 64 hex digits of SHA-256, found {:?}",
                    img.sha256.get_ref()
                ),
            ));
        }
        if let Some(slot) = &img.slot
            && !raw
                .memory
                .slots
                .iter()
                .any(|s| &s.get_ref().name == slot.get_ref())
        {
            let names: Vec<&str> = raw
                .memory
                .slots
                .iter()
                .map(|s| s.get_ref().name.as_str())
                .collect();
            errors.push(source.error_at(
                slot.span(),
                &key("slot"),
                format!(
                    "expected one of the memory.slots names ({}), found {:?}",
                    names.join(", "),
                    slot.get_ref()
                ),
            ));
        }
        let core = match img.core.as_ref().map(|c| (c.get_ref().as_str(), c.span())) {
            None | Some(("cm7", _)) => Core::Main,
            Some(("cm4", _))
                if img.role == ImageRole::Application && dual_core(raw.chip.get_ref()) =>
            {
                Core::Cm4
            }
            Some(("cm4", span)) => {
                errors.push(source.error_at(
                    span,
                    &key("core"),
                    format!(
                        "core = \"cm4\" needs an application image on a dual-core part \
                         (STM32H745/H747/H755/H757), this is {} for {}",
                        raw.chip.get_ref(),
                        if img.role == ImageRole::Application {
                            "an application"
                        } else {
                            "a bootloader"
                        },
                    ),
                ));
                Core::Main
            }
            Some((other, span)) => {
                errors.push(source.error_at(
                    span,
                    &key("core"),
                    format!("expected \"cm7\" or \"cm4\", found {other:?}"),
                ));
                Core::Main
            }
        };
        if img.role == ImageRole::Application && img.slot.is_none() {
            errors.push(source.error_at(
                img.path.span(),
                &format!("images.{name}"),
                "an application image needs `slot`",
            ));
        }
        images.push(ImageSpec {
            name: name.clone(),
            role: img.role,
            path: resolve(path, img.path.get_ref()),
            sha256: sha,
            address: img.address,
            slot: img.slot.as_ref().map(|s| s.get_ref().clone()),
            core,
            path_span: img.path.span(),
            sha_span: img.sha256.span(),
            slot_span: img.slot.as_ref().map(|s| s.span()),
        });
    }
    if images
        .iter()
        .filter(|i| i.role == ImageRole::Bootloader)
        .count()
        != 1
    {
        errors.push(source.error_at(
            0..0,
            "images",
            "expected exactly one image with role = \"bootloader\"",
        ));
    }
    let unit_data = raw.unit_data.clone().and_then(|u| {
        let boot = raw.memory.bootloader.get_ref();
        let mut taken = vec![(
            "the bootloader region".to_string(),
            boot.start as u64..boot.end(),
        )];
        for slot in &raw.memory.slots {
            let s = slot.get_ref();
            taken.push((
                format!("slot {:?}", s.name),
                s.start as u64..s.start as u64 + s.size as u64,
            ));
        }
        let flash = raw.memory.flash.start as u64..raw.memory.flash.end();
        let base = resolve(path, Path::new("unit-data"));
        let dir_base = base.parent().unwrap_or(Path::new("."));
        super::unit_data::check(u, family, flash, &taken, &source, dir_base, &mut errors)
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let sha256 = source.sha256();
    let slot_spans = raw.memory.slots.iter().map(|s| s.span()).collect();
    let memory = MemoryMap {
        flash: raw.memory.flash,
        bootloader: raw.memory.bootloader,
        slots: raw
            .memory
            .slots
            .into_iter()
            .map(|s| s.into_inner())
            .collect(),
    };
    Ok(Profile {
        sha256,
        name: raw.name,
        revision: raw.revision,
        chip: raw.chip.into_inner(),
        family,
        memory,
        slot_spans,
        images,
        option_bytes: raw.option_bytes,
        dfu: raw.dfu,
        torture: raw.torture,
        limits: raw
            .limits
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v))
            .collect(),
        console_tests: raw.console_test,
        unit_data,
        steps: raw
            .steps
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v))
            .collect(),
        source,
    })
}
