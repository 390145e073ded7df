//! Byte offsets of the header fields and the helpers that read and write
//! them. Private to `header`: nothing else knows these offsets.

use super::{APP_HEADER_SIZE, APP_MAGIC, BOOT_DESCRIPTOR_SIZE, BOOT_MAGIC, CRC32};
use super::{HEADER_FORMAT_VERSION, Version};

/// What tells the two header kinds apart.
pub(super) struct Block {
    pub magic: u32,
    pub size: usize,
}

pub(super) const APP: Block = Block {
    magic: APP_MAGIC,
    size: APP_HEADER_SIZE,
};

pub(super) const BOOT: Block = Block {
    magic: BOOT_MAGIC,
    size: BOOT_DESCRIPTOR_SIZE,
};

/// A fixed-size text field, NUL-padded.
pub(super) struct Field {
    pub at: usize,
    pub len: usize,
}

/// Fields at the same place in both kinds.
pub(super) mod common {
    pub const MAGIC: usize = 0x00;
    pub const HEADER_VERSION: usize = 0x04;
    pub const HEADER_SIZE: usize = 0x06;
    pub const VERSION_MAJOR: usize = 0x08;
    pub const VERSION_MINOR: usize = 0x09;
    pub const VERSION_PATCH: usize = 0x0A;
    pub const LENGTH: usize = 0x0C;
    pub const IMAGE_CRC: usize = 0x10;
}

pub(super) mod app {
    use super::Field;
    pub const FLAGS: usize = 0x14;
    pub const NAME: Field = Field { at: 0x18, len: 24 };
    // 0x30..0x3C reserved (zero), 0x3C header CRC.
}

pub(super) mod boot {
    use super::Field;
    pub const DESIGN: Field = Field { at: 0x14, len: 16 };
    pub const KNOBS_LEN: usize = 0x24;
    // 0x26 reserved u16 (zero).
    pub const KNOBS: Field = Field {
        at: 0x28,
        len: 0x100 - 0x28 - 4,
    };
    // 0xFC header CRC.
}

/// Little-endian u32 at `at`; callers pass slices already checked to be
/// long enough, and a short one reads as zero rather than panicking.
pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

pub(super) fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut half = [0u8; 2];
    if let Some(src) = bytes.get(at..at + 2) {
        half.copy_from_slice(src);
    }
    u16::from_le_bytes(half)
}

fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = bytes.get_mut(at..at + value.len()) {
        dst.copy_from_slice(value);
    }
}

pub(super) fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    put(bytes, at, &value.to_le_bytes());
}

pub(super) fn put_u16(bytes: &mut [u8], at: usize, value: u16) {
    put(bytes, at, &value.to_le_bytes());
}

/// Writes text cut to the field; the rest of the field stays zero.
pub(super) fn put_text(bytes: &mut [u8], field: Field, text: &str) {
    let text = text.as_bytes();
    put(bytes, field.at, text.get(..field.len).unwrap_or(text));
}

/// Text up to the first NUL (or the whole field).
pub(super) fn text_at(bytes: &[u8], field: Field) -> Option<String> {
    let raw = bytes.get(field.at..field.at + field.len)?;
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    Some(String::from_utf8_lossy(raw.get(..end)?).into_owned())
}

pub(super) fn read_version(bytes: &[u8]) -> Version {
    let byte = |at: usize| bytes.get(at).copied().unwrap_or(0);
    Version {
        major: byte(common::VERSION_MAJOR),
        minor: byte(common::VERSION_MINOR),
        patch: u16_at(bytes, common::VERSION_PATCH),
    }
}

pub(super) fn write_common(
    bytes: &mut [u8],
    kind: &Block,
    version: Version,
    length: u32,
    image_crc: u32,
) {
    put_u32(bytes, common::MAGIC, kind.magic);
    put_u16(bytes, common::HEADER_VERSION, HEADER_FORMAT_VERSION);
    put_u16(bytes, common::HEADER_SIZE, kind.size as u16);
    put(
        bytes,
        common::VERSION_MAJOR,
        &[version.major, version.minor],
    );
    put_u16(bytes, common::VERSION_PATCH, version.patch);
    put_u32(bytes, common::LENGTH, length);
    put_u32(bytes, common::IMAGE_CRC, image_crc);
}

/// Magic, header version and size all say "this kind, format 1".
pub(super) fn identity_ok(bytes: &[u8], kind: &Block) -> bool {
    u32_at(bytes, common::MAGIC) == kind.magic
        && u16_at(bytes, common::HEADER_VERSION) == HEADER_FORMAT_VERSION
        && usize::from(u16_at(bytes, common::HEADER_SIZE)) == kind.size
}

/// Stores the header CRC (CRC-32/ISO-HDLC of all bytes before it) last.
pub(super) fn seal(bytes: &mut [u8]) {
    let crc_at = bytes.len().saturating_sub(4);
    let crc = CRC32.checksum(bytes.get(..crc_at).unwrap_or_default());
    put_u32(bytes, crc_at, crc);
}
