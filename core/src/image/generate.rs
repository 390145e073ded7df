//! Deterministic fixture generator: every image under fixtures/ is built
//! from a manifest by this code, never by hand, so it can be rebuilt
//! byte-for-byte and reviewed as text.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::dfuse::{self, DfuseFile, DfuseTarget};
use super::header::{self, build_app, build_bootloader};
use super::{Format, ImageError, Segment, sha256_hex};

mod elf_writer;
mod hex_writer;
mod manifest;
mod splitmix;
#[cfg(test)]
mod tests;

pub use elf_writer::write_elf;
pub use hex_writer::write_hex;
pub use splitmix::SplitMix64;

use manifest::{Entry, Kind, Manifest};

/// Fixtures are test images; anything bigger than this is a typo.
pub const MAX_BODY_SIZE: usize = 16 * 1024 * 1024;
/// ST's DFU bootloader ids, as DfuSe tools expect in fixtures.
const ST_VENDOR_ID: u16 = 0x0483;
const ST_DFU_PRODUCT_ID: u16 = 0xDF11;

/// Builds every manifest entry, then writes them all (creating parent
/// directories). Nothing is written unless every entry is valid.
pub fn generate(
    manifest_path: &Path,
    out_dir: &Path,
) -> Result<Vec<(PathBuf, String)>, ImageError> {
    let manifest_error = |message: String| ImageError::Manifest {
        path: manifest_path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(manifest_path).map_err(|e| ImageError::Io {
        path: manifest_path.to_path_buf(),
        message: format!("cannot read manifest: {e}"),
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| manifest_error(e.to_string()))?;
    if manifest.image.is_empty() {
        return Err(manifest_error("no [[image]] entries".into()));
    }
    let mut seen = BTreeSet::new();
    let mut outputs = Vec::with_capacity(manifest.image.len());
    for (index, entry) in manifest.image.iter().enumerate() {
        let context = |message: String| {
            manifest_error(format!("image[{index}] (file {:?}): {message}", entry.file))
        };
        let relative = safe_relative_path(&entry.file).map_err(context)?;
        if !seen.insert(relative.clone()) {
            return Err(context("`file` is used by an earlier entry too".into()));
        }
        let bytes = render(entry).map_err(context)?;
        outputs.push((out_dir.join(relative), bytes));
    }
    outputs
        .into_iter()
        .map(|(path, bytes)| write_file(&path, &bytes).map(|()| (path, sha256_hex(&bytes))))
        .collect()
}

/// The image bytes for one entry in its output format.
fn render(entry: &Entry) -> Result<Vec<u8>, String> {
    if entry.body_size > MAX_BODY_SIZE {
        return Err(format!(
            "`body_size` {} is over the {MAX_BODY_SIZE}-byte limit for fixtures",
            entry.body_size
        ));
    }
    if entry.format != Format::Dfu && (entry.alt.is_some() || entry.target_name.is_some()) {
        return Err("`alt` and `target_name` only apply to format = \"dfu\"".into());
    }
    let body = SplitMix64::new(entry.seed).bytes(entry.body_size);
    let image = build_image(entry, &body)?;
    if u64::from(entry.base) + image.len() as u64 > 1 << 32 {
        return Err(format!(
            "a {}-byte image at `base` 0x{:08X} runs past the 32-bit address space",
            image.len(),
            entry.base
        ));
    }
    let entry_point = header::reset_handler(&image).unwrap_or(entry.base);
    let segments = vec![Segment::new(entry.base, image)];
    Ok(match entry.format {
        Format::Bin => segments.into_iter().flat_map(|s| s.data).collect(),
        Format::Hex => write_hex(&segments).into_bytes(),
        Format::Elf => write_elf(&segments, entry_point),
        Format::Dfu => dfuse::pack(&DfuseFile {
            targets: vec![DfuseTarget {
                alt: entry.alt.unwrap_or(0),
                name: entry.target_name.clone(),
                elements: segments,
            }],
            vendor_id: ST_VENDOR_ID,
            product_id: ST_DFU_PRODUCT_ID,
            bcd_device: dfuse::WILDCARD_ID,
        }),
    })
}

fn build_image(entry: &Entry, body: &[u8]) -> Result<Vec<u8>, String> {
    match entry.kind {
        Kind::App => {
            if entry.design.is_some() || entry.knobs.is_some() {
                return Err("`design` and `knobs` only apply to kind = \"bootloader\"".into());
            }
            let name = entry
                .name
                .as_deref()
                .ok_or("`name` is required for kind = \"app\"")?;
            Ok(build_app(entry.base, entry.version, name, body))
        }
        Kind::Bootloader => {
            if entry.name.is_some() {
                return Err("`name` only applies to kind = \"app\"; use `design`".into());
            }
            let design = entry
                .design
                .as_deref()
                .ok_or("`design` is required for kind = \"bootloader\"")?;
            let knobs = entry.knobs.clone().unwrap_or_default();
            build_bootloader(entry.base, entry.version, design, &knobs, body)
                .map_err(|e| format!("`design`/`knobs`: {e}"))
        }
    }
}

/// Keeps every output inside the output directory.
fn safe_relative_path(file: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(file);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    if file.is_empty() || !plain {
        return Err("`file` must be a relative path without `..`".into());
    }
    Ok(path)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let io_error = |verb: &str, e: std::io::Error| ImageError::Io {
        path: path.to_path_buf(),
        message: format!("cannot {verb}: {e}"),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("create its directory", e))?;
    }
    std::fs::write(path, bytes).map_err(|e| io_error("write", e))
}
