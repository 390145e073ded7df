use crate::hw::Segment;

const DATA_PER_RECORD: usize = 16;
const TYPE_DATA: u8 = 0x00;
const TYPE_EOF: u8 = 0x01;
const TYPE_EXTENDED_LINEAR: u8 = 0x04;

/// Intel HEX (I32HEX): a type 04 record whenever the upper 16 address bits
/// change, 16-byte data records that never cross a 64 KiB boundary, then EOF.
/// Bytes beyond the 32-bit address space cannot be expressed and are dropped.
pub fn write_hex(segments: &[Segment]) -> String {
    let mut out = String::new();
    let mut upper: Option<u16> = None;
    for segment in segments {
        let mut pos = 0;
        while pos < segment.data.len() {
            let Ok(address) = u32::try_from(u64::from(segment.address) + pos as u64) else {
                break;
            };
            let high = (address >> 16) as u16;
            if upper != Some(high) {
                push_record(&mut out, TYPE_EXTENDED_LINEAR, 0, &high.to_be_bytes());
                upper = Some(high);
            }
            let low = (address & 0xFFFF) as u16;
            let room_in_bank = 0x1_0000 - usize::from(low);
            let len = DATA_PER_RECORD
                .min(segment.data.len() - pos)
                .min(room_in_bank);
            let data = segment.data.get(pos..pos + len).unwrap_or_default();
            push_record(&mut out, TYPE_DATA, low, data);
            pos += len;
        }
    }
    push_record(&mut out, TYPE_EOF, 0, &[]);
    out
}

/// `:LLAAAATT<data>CC` where CC makes the byte sum zero.
fn push_record(out: &mut String, record_type: u8, offset: u16, data: &[u8]) {
    let [offset_hi, offset_lo] = offset.to_be_bytes();
    let mut bytes = vec![data.len() as u8, offset_hi, offset_lo, record_type];
    bytes.extend_from_slice(data);
    let sum = bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b));
    bytes.push(sum.wrapping_neg());
    out.push(':');
    for byte in bytes {
        out.push_str(&format!("{byte:02X}"));
    }
    out.push('\n');
}
