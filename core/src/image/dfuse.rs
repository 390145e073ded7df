//! DfuSe (.dfu) container as described in ST UM0391: an 11-byte prefix,
//! targets (one per alternate setting) holding address/data elements, and
//! the 16-byte DFU suffix whose CRC covers everything before it.

use crc::{CRC_32_JAMCRC, Crc};

use crate::hw::Segment;

mod cursor;
#[cfg(test)]
mod tests;

use cursor::Cursor;

/// idVendor / idProduct / bcdDevice value meaning "any device".
pub const WILDCARD_ID: u16 = 0xFFFF;

const SIGNATURE: &[u8] = b"DfuSe";
const FORMAT_VERSION: u8 = 0x01;
const PREFIX_LEN: usize = 11;
const TARGET_SIGNATURE: &[u8] = b"Target";
const TARGET_NAME_LEN: usize = 255;
const ELEMENT_HEADER_LEN: usize = 8;
const SUFFIX_LEN: usize = 16;
const SUFFIX_SIGNATURE: &[u8] = b"UFD";
const BCD_DFU_DFUSE: u16 = 0x011A;

/// The DFU suffix CRC: reflected CRC-32 without the final inversion.
const DFU_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_JAMCRC);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfuseFile {
    pub targets: Vec<DfuseTarget>,
    pub vendor_id: u16,
    pub product_id: u16,
    pub bcd_device: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfuseTarget {
    /// USB alternate setting (0 = internal flash on most ST parts).
    pub alt: u8,
    pub name: Option<String>,
    pub elements: Vec<Segment>,
}

pub fn dfu_crc(bytes: &[u8]) -> u32 {
    DFU_CRC.checksum(bytes)
}

/// True when the last 16 bytes are a DFU suffix whose CRC matches.
pub fn suffix_ok(bytes: &[u8]) -> bool {
    let Some(at) = bytes.len().checked_sub(SUFFIX_LEN) else {
        return false;
    };
    let mut suffix = Cursor::new(bytes, at);
    let signature_ok = suffix.skip(8).is_ok()
        && suffix.take(3, "") == Ok(SUFFIX_SIGNATURE)
        && suffix.u8("") == Ok(SUFFIX_LEN as u8);
    signature_ok
        && suffix
            .u32("")
            .is_ok_and(|stored| stored == crc_before_last_word(bytes))
}

pub fn parse(bytes: &[u8]) -> Result<DfuseFile, String> {
    if !bytes.starts_with(SIGNATURE) {
        return Err("missing \"DfuSe\" signature at offset 0".into());
    }
    let suffix_at = bytes
        .len()
        .checked_sub(SUFFIX_LEN)
        .filter(|at| *at >= PREFIX_LEN)
        .ok_or_else(|| {
            format!(
                "file is {} bytes, shorter than a DfuSe prefix and suffix ({} bytes)",
                bytes.len(),
                PREFIX_LEN + SUFFIX_LEN
            )
        })?;
    let mut suffix = Cursor::new(bytes, suffix_at);
    let bcd_device = suffix.u16("bcdDevice")?;
    let product_id = suffix.u16("idProduct")?;
    let vendor_id = suffix.u16("idVendor")?;
    let bcd_dfu = suffix.u16("bcdDFU")?;
    suffix.expect(SUFFIX_SIGNATURE, "\"UFD\" suffix signature")?;
    let length_at = suffix.pos;
    let suffix_len = suffix.u8("bLength")?;
    if usize::from(suffix_len) != SUFFIX_LEN {
        return Err(format!(
            "suffix bLength at offset {length_at} is {suffix_len}, expected {SUFFIX_LEN}"
        ));
    }
    let stored = suffix.u32("dwCRC")?;
    let computed = crc_before_last_word(bytes);
    if stored != computed {
        return Err(format!(
            "DfuSe suffix CRC mismatch: file says 0x{stored:08X}, computed 0x{computed:08X}"
        ));
    }
    if bcd_dfu != BCD_DFU_DFUSE {
        return Err(format!(
            "bcdDFU at offset {} is 0x{bcd_dfu:04X}, expected 0x{BCD_DFU_DFUSE:04X} (DfuSe)",
            suffix_at + 6
        ));
    }
    let body = bytes.get(..suffix_at).unwrap_or_default();
    let targets = parse_body(body, bytes.len())?;
    Ok(DfuseFile {
        targets,
        vendor_id,
        product_id,
        bcd_device,
    })
}

/// Everything between the prefix and the suffix must be exactly the targets.
fn parse_body(body: &[u8], file_len: usize) -> Result<Vec<DfuseTarget>, String> {
    let mut cur = Cursor::new(body, 0);
    cur.expect(SIGNATURE, "\"DfuSe\" signature")?;
    let version = cur.u8("bVersion")?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported DfuSe bVersion {version} at offset 5, expected {FORMAT_VERSION}"
        ));
    }
    let image_size = cur.u32("DFUImageSize")?;
    let image_size_ok = [body.len(), file_len]
        .iter()
        .any(|len| u32::try_from(*len) == Ok(image_size));
    if !image_size_ok {
        return Err(format!(
            "DFUImageSize at offset 6 is {image_size}, expected {} (file length without the suffix)",
            body.len()
        ));
    }
    let count = cur.u8("bTargets")?;
    let mut targets = Vec::with_capacity(usize::from(count));
    for index in 0..count {
        targets.push(parse_target(&mut cur, index)?);
    }
    if cur.remaining() != 0 {
        return Err(format!(
            "{} unexpected bytes at offset {} after the last of {count} targets",
            cur.remaining(),
            cur.pos
        ));
    }
    Ok(targets)
}

fn parse_target(cur: &mut Cursor<'_>, index: u8) -> Result<DfuseTarget, String> {
    let at = cur.pos;
    cur.expect(
        TARGET_SIGNATURE,
        &format!("target {index} \"Target\" signature"),
    )?;
    let alt = cur.u8("bAlternateSetting")?;
    let named = cur.u32("bTargetNamed")?;
    let raw_name = cur.take(TARGET_NAME_LEN, "szTargetName")?;
    let size_at = cur.pos;
    let size = cur.u32("dwTargetSize")?;
    let element_count = cur.u32("dwNbElements")?;
    let mut inner = cur.sub(to_usize(size)).map_err(|_| {
        format!(
            "target {index} at offset {at}: dwTargetSize {size} (offset {size_at}) runs past \
             the end of the data, only {} bytes remain",
            cur.remaining()
        )
    })?;
    let mut elements = Vec::new();
    for element in 0..element_count {
        if inner.remaining() == 0 {
            return Err(format!(
                "target {index} at offset {at}: dwNbElements is {element_count} but \
                 dwTargetSize {size} is used up after {element} elements"
            ));
        }
        let address = inner.u32("dwElementAddress")?;
        let len = inner.u32("dwElementSize")?;
        let data = inner.take(to_usize(len), "element data")?;
        elements.push(Segment::new(address, data.to_vec()));
    }
    if inner.remaining() != 0 {
        return Err(format!(
            "target {index} at offset {at}: dwTargetSize is {size} but its {element_count} \
             elements use only {} bytes",
            size as usize - inner.remaining()
        ));
    }
    let name = (named != 0).then(|| decode_name(raw_name));
    Ok(DfuseTarget {
        alt,
        name,
        elements,
    })
}

fn decode_name(raw: &[u8]) -> String {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

/// Serialises a file. The format counts targets in one byte, so at most 255
/// targets are written; names are cut to 254 bytes to keep a terminating NUL.
pub fn pack(file: &DfuseFile) -> Vec<u8> {
    let targets: Vec<&DfuseTarget> = file.targets.iter().take(usize::from(u8::MAX)).collect();
    let mut out = Vec::new();
    out.extend_from_slice(SIGNATURE);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&[0; 4]); // DFUImageSize, patched below
    out.push(targets.len() as u8);
    for target in targets {
        pack_target(&mut out, target);
    }
    let image_size = len_u32(out.len()).to_le_bytes();
    if let Some(field) = out.get_mut(6..10) {
        field.copy_from_slice(&image_size);
    }
    for value in [
        file.bcd_device,
        file.product_id,
        file.vendor_id,
        BCD_DFU_DFUSE,
    ] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(SUFFIX_SIGNATURE);
    out.push(SUFFIX_LEN as u8);
    let crc = dfu_crc(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn pack_target(out: &mut Vec<u8>, target: &DfuseTarget) {
    out.extend_from_slice(TARGET_SIGNATURE);
    out.push(target.alt);
    out.extend_from_slice(&u32::from(target.name.is_some()).to_le_bytes());
    let mut name = [0u8; TARGET_NAME_LEN];
    let text = target.name.as_deref().unwrap_or_default().as_bytes();
    for (dst, src) in name.iter_mut().zip(text.iter().take(TARGET_NAME_LEN - 1)) {
        *dst = *src;
    }
    out.extend_from_slice(&name);
    let size: usize = target
        .elements
        .iter()
        .map(|e| ELEMENT_HEADER_LEN + e.data.len())
        .sum();
    out.extend_from_slice(&len_u32(size).to_le_bytes());
    out.extend_from_slice(&len_u32(target.elements.len()).to_le_bytes());
    for element in &target.elements {
        out.extend_from_slice(&element.address.to_le_bytes());
        out.extend_from_slice(&len_u32(element.data.len()).to_le_bytes());
        out.extend_from_slice(&element.data);
    }
}

fn crc_before_last_word(bytes: &[u8]) -> u32 {
    dfu_crc(
        bytes
            .get(..bytes.len().saturating_sub(4))
            .unwrap_or_default(),
    )
}

/// DfuSe lengths are u32; real files are far smaller than 4 GiB.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
