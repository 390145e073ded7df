//! `station check`: everything that can be known about a station before touching hardware.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ConfigError;
use super::profile::{ImageRole, ImageSpec, Profile};
use super::station::Station;
use crate::image::{Image, sha256_hex};

/// What a clean check found, for the summary line.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub fixtures: usize,
    pub profiles: usize,
    pub images: usize,
    /// The images it loaded and held to their pins.
    pub loaded: CheckedImages,
}

/// Pinned images a check loaded, hashed and placed, by profile and image name: a run that
/// follows the check takes them from here instead of reading and hashing them again.
#[derive(Debug, Default)]
pub struct CheckedImages(BTreeMap<(PathBuf, String), Image>);

impl CheckedImages {
    /// `spec` of `profile` as the check loaded it, if it did (and the spec still pins it).
    pub fn get(&self, profile: &Profile, spec: &ImageSpec) -> Option<&Image> {
        self.0
            .get(&(profile.source.path.clone(), spec.name.clone()))
            .filter(|i| i.path == spec.path && i.sha256 == spec.sha256)
    }
}

/// Load an image of a profile and hold it to its pin and its place in the memory map.
pub fn load_pinned_image(profile: &Profile, spec: &ImageSpec) -> Result<Image, ConfigError> {
    let src = &profile.source;
    let key = |k: &str| format!("images.{}.{k}", spec.name);
    let bytes = super::read_bounded(&spec.path, super::MAX_IMAGE_BYTES).map_err(|e| {
        src.error_at(
            spec.path_span.clone(),
            &key("path"),
            format!("cannot read {}: {e}", spec.path.display()),
        )
    })?;
    let actual = sha256_hex(&bytes);
    if actual != spec.sha256 {
        return Err(src.error_at(spec.sha_span.clone(), &key("sha256"), format!(
            "{} has SHA-256 {actual}, but the profile pins {}; refusing an image that is not the one approved",
            spec.path.display(), spec.sha256
        )));
    }
    let format = crate::image::detect_format(&spec.path, &bytes).ok_or_else(|| {
        src.error_at(
            spec.path_span.clone(),
            &key("path"),
            format!(
                "cannot tell the format of {} (expected .elf, .hex, .bin or .dfu)",
                spec.path.display()
            ),
        )
    })?;
    let image = Image::from_bytes(&spec.path, &bytes, format, spec.address)
        .map_err(|e| src.error_at(spec.path_span.clone(), &key("path"), e.to_string()))?;
    check_placement(profile, spec, &image)?;
    Ok(image)
}

fn check_placement(profile: &Profile, spec: &ImageSpec, image: &Image) -> Result<(), ConfigError> {
    let src = &profile.source;
    let key = |k: &str| format!("images.{}.{k}", spec.name);
    let Some((start, end)) = image.span() else {
        return Err(src.error_at(
            spec.path_span.clone(),
            &key("path"),
            "the image holds no data",
        ));
    };
    let flash = &profile.memory.flash;
    let boot = profile.memory.bootloader.get_ref();
    let range = format!("{start:#010x}..{end:#010x}");
    if !flash.contains_range(start, end) {
        return Err(src.error_at(
            spec.path_span.clone(),
            &key("path"),
            format!(
                "{} spans {range}, outside the part's flash {:#010x}..{:#010x}",
                spec.path.display(),
                flash.start,
                flash.end()
            ),
        ));
    }
    match spec.role {
        ImageRole::Bootloader => {
            if !boot.contains_range(start, end) {
                return Err(src.error_at(
                    spec.path_span.clone(),
                    &key("path"),
                    format!(
                        "the bootloader spans {range}, larger than its region {:#010x}..{:#010x}",
                        boot.start,
                        boot.end()
                    ),
                ));
            }
        }
        ImageRole::Application => {
            for seg in &image.segments {
                if boot.overlaps(seg.address, seg.end()) {
                    return Err(src.error_at(spec.path_span.clone(), &key("path"), format!(
                        "the application overlaps the bootloader region {:#010x}..{:#010x} (segment at {:#010x}..{:#010x})",
                        boot.start, boot.end(), seg.address, seg.end()
                    )));
                }
            }
            let slot = spec.slot.as_deref().and_then(|s| profile.slot(s));
            if let Some(slot) = slot
                && !slot.region().contains_range(start, end)
            {
                let span = spec.slot_span.clone().unwrap_or(spec.path_span.clone());
                return Err(src.error_at(span, &key("slot"), format!(
                    "the image spans {range} ({} bytes), which does not fit slot {:?} {:#010x}..{:#010x} ({} bytes)",
                    end - start as u64, slot.name, slot.start, slot.region().end(), slot.size
                )));
            }
        }
    }
    Ok(())
}

fn check_memory_map(profile: &Profile) -> Vec<ConfigError> {
    let src = &profile.source;
    let boot = profile.memory.bootloader.get_ref();
    let mut errors = Vec::new();
    if !profile.memory.flash.contains_range(boot.start, boot.end()) {
        errors.push(src.error_at(
            profile.memory.bootloader.span(),
            "memory.bootloader",
            "the bootloader region lies outside memory.flash",
        ));
    }
    let flash = &profile.memory.flash;
    for (i, slot) in profile.memory.slots.iter().enumerate() {
        let span = profile
            .slot_spans
            .get(i)
            .cloned()
            .unwrap_or(profile.memory.bootloader.span());
        let key = format!("memory.slots[{i}]");
        let (start, end) = (slot.start, slot.region().end());
        let mut error = |message: String| errors.push(src.error_at(span.clone(), &key, message));
        if slot.size == 0 {
            error(format!(
                "slot {:?} has size 0: expected a size in bytes",
                slot.name
            ));
            continue;
        }
        if !flash.contains_range(start, end) {
            error(format!(
                "slot {:?} {start:#010x}..{end:#010x} lies outside memory.flash {:#010x}..{:#010x}",
                slot.name,
                flash.start,
                flash.end()
            ));
        }
        if boot.overlaps(start, end) {
            error(format!(
                "slot {:?} {start:#010x}..{end:#010x} overlaps the bootloader region {:#010x}..{:#010x}",
                slot.name,
                boot.start,
                boot.end()
            ));
        }
        for other in &profile.memory.slots[..i] {
            if other.name == slot.name {
                error(format!(
                    "slot name {:?} is used twice: expected unique names",
                    slot.name
                ));
            } else if other.size > 0 && other.region().overlaps(start, end) {
                error(format!(
                    "slot {:?} {start:#010x}..{end:#010x} overlaps slot {:?} {:#010x}..{:#010x}",
                    slot.name,
                    other.name,
                    other.start,
                    other.region().end()
                ));
            }
        }
    }
    errors
}

/// Validate a loaded station: images present and matching their pins, placed where the memory
/// map allows, and no two fixtures claiming the same probe or USB port.
pub fn check_station(station: &Station) -> Result<CheckReport, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut report = CheckReport {
        fixtures: station.fixtures.len(),
        ..Default::default()
    };
    for profile in station.profiles.values() {
        report.profiles += 1;
        errors.extend(check_memory_map(profile));
        for spec in &profile.images {
            match load_pinned_image(profile, spec) {
                Ok(image) => {
                    report.images += 1;
                    let key = (profile.source.path.clone(), spec.name.clone());
                    report.loaded.0.insert(key, image);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    let src = &station.source;
    let mut probes: BTreeMap<String, &str> = BTreeMap::new();
    let mut ports: BTreeMap<String, &str> = BTreeMap::new();
    for (i, f) in station.fixtures.iter().enumerate() {
        if let Some(other) = probes.insert(f.probe.to_ascii_lowercase(), &f.id) {
            errors.push(src.error_at(f.spans.probe.clone(), &format!("fixtures[{i}].probe"), format!(
                "probe {} is already claimed by fixture {other:?}; each fixture needs its own probe", f.probe
            )));
        }
        if let (Some(port), Some(span)) = (&f.usb_port, &f.spans.port)
            && let Some(other) = ports.insert(port.clone(), &f.id)
        {
            errors.push(src.error_at(span.clone(), &format!("fixtures[{i}].usb.port"), format!(
                "USB port {port} is already claimed by fixture {other:?}; each fixture needs its own port"
            )));
        }
    }
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, f) in station.fixtures.iter().enumerate() {
        if let Some(first) = ids.insert(&f.id, i) {
            errors.push(src.error_at(
                f.spans.id.clone(),
                &format!("fixtures[{i}].id"),
                format!("fixture id {:?} is already used by fixtures[{first}]", f.id),
            ));
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}
