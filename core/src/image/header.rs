//! The station's image header: the only code that reads or writes the
//! application header and bootloader descriptor layout (see
//! docs/image-format.md). Everything else goes through these functions.

use std::collections::BTreeMap;

use crc::{CRC_32_ISO_HDLC, Crc};

pub mod design;
mod layout;
#[cfg(test)]
mod tests;

pub use crate::chip::{ParseVersionError, Version};

use layout::{Block, boot, common};

/// Room for the largest vector table of the supported parts (H7: 166 vectors).
pub const HEADER_OFFSET: usize = 0x400;
pub const APP_HEADER_SIZE: usize = 0x40;
pub const BOOT_DESCRIPTOR_SIZE: usize = 0x100;
pub const APP_MAGIC: u32 = u32::from_le_bytes(*b"STAP");
pub const BOOT_MAGIC: u32 = u32::from_le_bytes(*b"STBL");
pub const HEADER_FORMAT_VERSION: u16 = 1;
/// Images are padded to this: the H7 programs 32-byte flash words.
pub const FLASH_WORD: usize = 32;
/// Initial stack pointer the builders put in the vector table.
pub const BUILD_STACK_POINTER: u32 = 0x2002_0000;
/// SRAM, CCM, DTCM and AXI SRAM of the supported parts all sit here.
const STACK_RANGE: std::ops::Range<u32> = 0x1000_0000..0x3000_0000;

/// CRC-32/ISO-HDLC, the zlib CRC-32.
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppHeader {
    pub version: Version,
    pub length: u32,
    pub image_crc: u32,
    pub flags: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDescriptor {
    pub version: Version,
    pub length: u32,
    pub image_crc: u32,
    pub design: String,
    pub knobs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotCheck {
    /// First 8 bytes all 0xFF: erased flash.
    Blank,
    NoVectorTable,
    /// Wrong magic, header version or header size.
    NoHeader,
    BadHeaderCrc,
    /// Length past the slot or smaller than the header end.
    BadLength,
    BadImageCrc(AppHeader),
    Valid(AppHeader),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootCheck {
    Blank,
    NoVectorTable,
    /// Wrong magic, header version or size, or undecodable design/knobs.
    NoDescriptor,
    BadDescriptorCrc,
    BadLength,
    BadImageCrc(BootDescriptor),
    Valid(BootDescriptor),
}

/// Checks an application slot; `slot` holds the slot's bytes from `base`.
pub fn check_app(base: u32, slot: &[u8]) -> SlotCheck {
    match check_region(base, slot, &layout::APP, decode_app) {
        Verdict::Blank => SlotCheck::Blank,
        Verdict::NoVectorTable => SlotCheck::NoVectorTable,
        Verdict::NoHeader => SlotCheck::NoHeader,
        Verdict::BadHeaderCrc => SlotCheck::BadHeaderCrc,
        Verdict::BadLength => SlotCheck::BadLength,
        Verdict::BadImageCrc(h) => SlotCheck::BadImageCrc(h),
        Verdict::Valid(h) => SlotCheck::Valid(h),
    }
}

/// Checks a bootloader region; `region` holds its bytes from `base`.
pub fn check_bootloader(base: u32, region: &[u8]) -> BootCheck {
    match check_region(base, region, &layout::BOOT, decode_boot) {
        Verdict::Blank => BootCheck::Blank,
        Verdict::NoVectorTable => BootCheck::NoVectorTable,
        Verdict::NoHeader => BootCheck::NoDescriptor,
        Verdict::BadHeaderCrc => BootCheck::BadDescriptorCrc,
        Verdict::BadLength => BootCheck::BadLength,
        Verdict::BadImageCrc(h) => BootCheck::BadImageCrc(h),
        Verdict::Valid(h) => BootCheck::Valid(h),
    }
}

/// Reset handler address from an image's vector table (word 1), if present.
pub fn reset_handler(image: &[u8]) -> Option<u32> {
    image.get(4..8).map(|w| layout::u32_at(w, 0))
}

/// Builds a complete application image: vector table, header, body, padding.
/// Names are cut to 24 bytes and non-ASCII characters become '?'.
pub fn build_app(base: u32, version: Version, name: &str, body: &[u8]) -> Vec<u8> {
    build_image(base, APP_HEADER_SIZE, body, |header, length, image_crc| {
        layout::write_common(header, &layout::APP, version, length, image_crc);
        layout::put_u32(header, layout::app::FLAGS, 0);
        layout::put_text(header, layout::app::NAME, &ascii_only(name));
    })
}

/// Builds a bootloader image with its descriptor. Fails when the design or
/// knobs cannot be stored faithfully.
pub fn build_bootloader(
    base: u32,
    version: Version,
    design: &str,
    knobs: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    validate_design(design)?;
    let knob_text = encode_knobs(knobs)?;
    Ok(build_image(
        base,
        BOOT_DESCRIPTOR_SIZE,
        body,
        |header, length, image_crc| {
            layout::write_common(header, &layout::BOOT, version, length, image_crc);
            layout::put_text(header, boot::DESIGN, design);
            layout::put_u16(header, boot::KNOBS_LEN, knob_text.len() as u16);
            layout::put_text(header, boot::KNOBS, &knob_text);
        },
    ))
}

enum Verdict<H> {
    Blank,
    NoVectorTable,
    NoHeader,
    BadHeaderCrc,
    BadLength,
    BadImageCrc(H),
    Valid(H),
}

/// The check order shared by both kinds: blank, vector table, magic,
/// header CRC, length, image CRC.
fn check_region<H>(
    base: u32,
    region: &[u8],
    kind: &Block,
    decode: fn(&[u8]) -> Option<H>,
) -> Verdict<H> {
    let Some(first_words) = region.get(..8) else {
        return Verdict::NoVectorTable;
    };
    if first_words.iter().all(|b| *b == 0xFF) {
        return Verdict::Blank;
    }
    let header_end = HEADER_OFFSET + kind.size;
    // Loose bound until the header kind and length are known, so an image
    // of the other kind reads as "no header" rather than "no vector table".
    if !vector_table_ok(base, region, HEADER_OFFSET, region.len()) {
        return Verdict::NoVectorTable;
    }
    let Some(header) = region.get(HEADER_OFFSET..header_end) else {
        return Verdict::NoHeader;
    };
    if !layout::identity_ok(header, kind) {
        return Verdict::NoHeader;
    }
    let crc_at = kind.size - 4;
    if CRC32.checksum(header.get(..crc_at).unwrap_or_default()) != layout::u32_at(header, crc_at) {
        return Verdict::BadHeaderCrc;
    }
    let Some(parsed) = decode(header) else {
        return Verdict::NoHeader;
    };
    let length = layout::u32_at(header, common::LENGTH) as usize;
    if length < header_end || length > region.len() {
        return Verdict::BadLength;
    }
    // Now that the length is trusted, the handler must point inside the image.
    if !vector_table_ok(base, region, header_end, length) {
        return Verdict::NoVectorTable;
    }
    if image_crc(region, header_end, length) != layout::u32_at(header, common::IMAGE_CRC) {
        return Verdict::BadImageCrc(parsed);
    }
    Verdict::Valid(parsed)
}

/// SP plausible, handler odd and inside `[base + code_start, base + limit)`.
fn vector_table_ok(base: u32, image: &[u8], code_start: usize, limit: usize) -> bool {
    let sp = layout::u32_at(image, 0);
    let handler = layout::u32_at(image, 4);
    let target = u64::from(handler & !1);
    let base = u64::from(base);
    sp.is_multiple_of(4)
        && STACK_RANGE.contains(&sp)
        && handler & 1 == 1
        && base + code_start as u64 <= target
        && target < base + limit as u64
}

/// CRC over the image with the header left out, so the header can hold it.
/// The same CRC-32 (ISO-HDLC) as `CRC32`, computed with crc32fast's SIMD: every simulated boot
/// checks the whole application, and a torture sweep boots thousands of times.
fn image_crc(image: &[u8], header_end: usize, length: usize) -> u32 {
    let mut digest = crc32fast::Hasher::new();
    digest.update(image.get(..HEADER_OFFSET).unwrap_or_default());
    digest.update(image.get(header_end..length).unwrap_or_default());
    digest.finalize()
}

/// Lays out vector table, header, body and 0xFF padding, then lets
/// `fill_header` write the kind-specific fields before sealing the CRC.
fn build_image(
    base: u32,
    header_size: usize,
    body: &[u8],
    fill_header: impl FnOnce(&mut [u8], u32, u32),
) -> Vec<u8> {
    let header_end = HEADER_OFFSET + header_size;
    // At least one flash word after the header so the reset handler has
    // somewhere to point even for an empty body.
    let length = (header_end + body.len().max(1)).next_multiple_of(FLASH_WORD);
    let handler = base.wrapping_add(header_end as u32) | 1;
    let mut image = Vec::with_capacity(length);
    image.extend_from_slice(&BUILD_STACK_POINTER.to_le_bytes());
    while image.len() < HEADER_OFFSET {
        image.extend_from_slice(&handler.to_le_bytes());
    }
    image.resize(header_end, 0);
    image.extend_from_slice(body);
    image.resize(length, 0xFF);
    let crc = image_crc(&image, header_end, length);
    let mut header = vec![0u8; header_size];
    fill_header(&mut header, u32::try_from(length).unwrap_or(u32::MAX), crc);
    layout::seal(&mut header);
    if let Some(slot) = image.get_mut(HEADER_OFFSET..header_end) {
        slot.copy_from_slice(&header);
    }
    image
}

fn decode_app(header: &[u8]) -> Option<AppHeader> {
    Some(AppHeader {
        version: layout::read_version(header),
        length: layout::u32_at(header, common::LENGTH),
        image_crc: layout::u32_at(header, common::IMAGE_CRC),
        flags: layout::u32_at(header, layout::app::FLAGS),
        name: layout::text_at(header, layout::app::NAME)?,
    })
}

fn decode_boot(header: &[u8]) -> Option<BootDescriptor> {
    let knobs_len = usize::from(layout::u16_at(header, boot::KNOBS_LEN));
    if knobs_len > boot::KNOBS.len {
        return None;
    }
    let knob_bytes = header.get(boot::KNOBS.at..boot::KNOBS.at + knobs_len)?;
    Some(BootDescriptor {
        version: layout::read_version(header),
        length: layout::u32_at(header, common::LENGTH),
        image_crc: layout::u32_at(header, common::IMAGE_CRC),
        design: layout::text_at(header, boot::DESIGN)?,
        knobs: decode_knobs(std::str::from_utf8(knob_bytes).ok()?)?,
    })
}

fn ascii_only(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii() && c != '\0' { c } else { '?' })
        .collect()
}

/// Whether a design name and knobs fit a bootloader descriptor.
pub fn check_descriptor(design: &str, knobs: &BTreeMap<String, String>) -> Result<(), String> {
    validate_design(design)?;
    encode_knobs(knobs).map(|_| ())
}

fn validate_design(design: &str) -> Result<(), String> {
    if design.is_empty() || design.len() > boot::DESIGN.len {
        return Err(format!(
            "bootloader design {design:?} must be 1 to {} bytes",
            boot::DESIGN.len
        ));
    }
    if !design.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "bootloader design {design:?} must be printable ASCII without spaces"
        ));
    }
    Ok(())
}

/// "key=value\n" lines in key order (the map keeps them sorted).
fn encode_knobs(knobs: &BTreeMap<String, String>) -> Result<String, String> {
    let mut text = String::new();
    for (key, value) in knobs {
        if key.is_empty() || key.contains(['=', '\n', '\0']) {
            return Err(format!(
                "knob key {key:?} must be non-empty without '=', newline or NUL"
            ));
        }
        if value.contains(['\n', '\0']) {
            return Err(format!(
                "knob {key:?} value {value:?} must not contain a newline or NUL"
            ));
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    if text.len() > boot::KNOBS.len {
        return Err(format!(
            "knobs take {} bytes as text, the descriptor holds at most {}",
            text.len(),
            boot::KNOBS.len
        ));
    }
    Ok(text)
}

fn decode_knobs(text: &str) -> Option<BTreeMap<String, String>> {
    let mut knobs = BTreeMap::new();
    if text.is_empty() {
        return Some(knobs);
    }
    let lines = text.strip_suffix('\n')?;
    for line in lines.split('\n') {
        let (key, value) = line.split_once('=')?;
        if key.is_empty() || knobs.insert(key.to_string(), value.to_string()).is_some() {
            return None;
        }
    }
    Some(knobs)
}
