use std::path::PathBuf;

use super::Format;

/// Every variant names the file so an operator can act on the message alone.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },

    #[error("{}: not a valid {format} file: {message}", .path.display())]
    Format {
        path: PathBuf,
        format: Format,
        message: String,
    },

    #[error(
        "raw binary {} needs a load address (--address or `address` in the profile)",
        .path.display()
    )]
    BinNeedsAddress { path: PathBuf },

    #[error(
        "{}: data at 0x{second:08X} overlaps the data starting at 0x{first:08X}",
        .path.display()
    )]
    Overlap {
        path: PathBuf,
        first: u32,
        second: u32,
    },

    #[error("{}: the image contains no data to flash", .path.display())]
    Empty { path: PathBuf },

    #[error(
        "{}: cannot tell the image format; use an .elf, .hex, .bin or .dfu extension",
        .path.display()
    )]
    UnknownFormat { path: PathBuf },

    #[error("{}: file is larger than the {limit}-byte limit for an image", .path.display())]
    TooLarge { path: PathBuf, limit: u64 },

    #[error(
        "{}: data starting at 0x{address:08X} ends at 0x{end:X}, past the 32-bit address space",
        .path.display()
    )]
    AddressOverflow {
        path: PathBuf,
        address: u32,
        end: u64,
    },

    /// A fixture manifest problem; the message names the entry and key.
    #[error("manifest {}: {message}", .path.display())]
    Manifest { path: PathBuf, message: String },
}
