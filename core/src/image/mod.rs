//! Firmware images: ELF, Intel HEX, raw binary and DfuSe files loaded into
//! address-sorted, merged, non-overlapping segments ready for flashing.

pub mod dfuse;
pub mod generate;
pub mod header;

mod detect;
mod error;
mod read_elf;
mod read_hex;
mod segments;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::hw::Segment;
pub use detect::detect_format;
pub use error::ImageError;

/// Largest image file `Image::load` will read. The biggest supported parts
/// have a few MiB of flash; anything far past that is the wrong file.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Largest span `Image::flatten` will materialise, so an ELF with a stray
/// RAM segment cannot make us allocate gigabytes of fill bytes.
pub const MAX_FLATTEN_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Elf,
    Hex,
    Bin,
    Dfu,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Elf => "elf",
            Format::Hex => "hex",
            Format::Bin => "bin",
            Format::Dfu => "dfu",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// File name only, for logs and reports.
    pub name: String,
    pub path: PathBuf,
    pub format: Format,
    /// Lowercase hex SHA-256 of the file bytes as read.
    pub sha256: String,
    /// Sorted by address, adjacent ones merged, never overlapping.
    pub segments: Vec<Segment>,
    /// The parsed container when the file was DfuSe (targets, ids).
    pub dfu: Option<dfuse::DfuseFile>,
}

impl Image {
    /// Reads and parses an image file. The format comes from the extension
    /// or, failing that, the content. `base_address` is required for raw
    /// binaries and ignored for the self-locating formats.
    pub fn load(path: &Path, base_address: Option<u32>) -> Result<Image, ImageError> {
        let bytes = read_limited(path)?;
        let format = detect_format(path, &bytes).ok_or_else(|| ImageError::UnknownFormat {
            path: path.to_path_buf(),
        })?;
        Image::from_bytes(path, &bytes, format, base_address)
    }

    /// Parses bytes already in memory; `path` is only used for names and errors.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        format: Format,
        base_address: Option<u32>,
    ) -> Result<Image, ImageError> {
        let (raw, dfu) = match format {
            Format::Elf => (read_elf::segments(path, bytes)?, None),
            Format::Hex => (read_hex::segments(path, bytes)?, None),
            Format::Bin => {
                let base = base_address.ok_or_else(|| ImageError::BinNeedsAddress {
                    path: path.to_path_buf(),
                })?;
                (vec![Segment::new(base, bytes.to_vec())], None)
            }
            Format::Dfu => {
                let file = dfuse::parse(bytes).map_err(|message| ImageError::Format {
                    path: path.to_path_buf(),
                    format,
                    message,
                })?;
                let elements = file
                    .targets
                    .iter()
                    .flat_map(|target| target.elements.iter().cloned())
                    .collect();
                (elements, Some(file))
            }
        };
        Ok(Image {
            name: file_name(path),
            path: path.to_path_buf(),
            format,
            sha256: sha256_hex(bytes),
            segments: segments::normalize(path, raw)?,
            dfu,
        })
    }

    /// Lowest address and one-past-the-highest byte, if there is any data.
    pub fn span(&self) -> Option<(u32, u64)> {
        let first = self.segments.first()?;
        let last = self.segments.last()?;
        Some((first.address, last.end()))
    }

    /// Bytes of real data, gaps not counted.
    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.data.len() as u64).sum()
    }

    /// One segment covering the whole span with gaps set to `fill`.
    /// None when there is no data or the span exceeds `MAX_FLATTEN_BYTES`.
    pub fn flatten(&self, fill: u8) -> Option<Segment> {
        let (start, end) = self.span()?;
        let len = end - start as u64;
        if len > MAX_FLATTEN_BYTES {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        Some(Segment::new(start, self.bytes_at(start, len, fill)))
    }

    /// The `len` bytes starting at `address`, `fill` wherever no segment has data.
    pub fn bytes_at(&self, address: u32, len: usize, fill: u8) -> Vec<u8> {
        segments::window(&self.segments, address, len, fill)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads the file but refuses (without reading it all) one past the limit.
fn read_limited(path: &Path) -> Result<Vec<u8>, ImageError> {
    let io_error = |verb: &str, e: std::io::Error| ImageError::Io {
        path: path.to_path_buf(),
        message: format!("cannot {verb}: {e}"),
    };
    let file = std::fs::File::open(path).map_err(|e| io_error("open", e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}
