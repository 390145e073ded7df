use std::path::Path;

use ihex::{ReaderError, Record};

use super::{Format, ImageError, Segment};

/// Data records placed by the most recent type 02 / 04 base; start-address
/// records (03, 05) only give an entry point, which flashing does not need.
pub(super) fn segments(path: &Path, bytes: &[u8]) -> Result<Vec<Segment>, ImageError> {
    let bad = |message: String| ImageError::Format {
        path: path.to_path_buf(),
        format: Format::Hex,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "not text: invalid UTF-8 at byte offset {}",
            e.valid_up_to()
        ))
    })?;
    let mut base: u64 = 0;
    let mut eof_line: Option<usize> = None;
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(eof) = eof_line {
            return Err(bad(format!(
                "line {line_no}: record after the end-of-file record on line {eof}"
            )));
        }
        let record: Record = line
            .parse()
            .map_err(|e| bad(format!("line {line_no}: {}", describe(e))))?;
        match record {
            Record::Data { offset, value } => {
                let address = base + u64::from(offset);
                let address = u32::try_from(address).map_err(|_| {
                    bad(format!(
                        "line {line_no}: address 0x{address:X} is past 4 GiB"
                    ))
                })?;
                out.push(Segment::new(address, value));
            }
            Record::EndOfFile => eof_line = Some(line_no),
            Record::ExtendedSegmentAddress(segment) => base = u64::from(segment) << 4,
            Record::ExtendedLinearAddress(upper) => base = u64::from(upper) << 16,
            Record::StartSegmentAddress { .. } | Record::StartLinearAddress(_) => {}
        }
    }
    if eof_line.is_none() {
        // A missing EOF record usually means a truncated copy.
        return Err(bad(
            "no end-of-file record (type 01); the file may be truncated".into(),
        ));
    }
    Ok(out)
}

/// Says what a record should look like; the crate's own text for a checksum
/// error puts the computed value where a reader expects the file's.
fn describe(error: ReaderError) -> String {
    match error {
        ReaderError::ChecksumMismatch(computed, stored) => {
            format!("record checksum is 0x{stored:02X}, but its bytes need 0x{computed:02X}")
        }
        ReaderError::MissingStartCode => "expected a record starting with ':'".into(),
        ReaderError::UnsupportedRecordType(kind) => {
            format!("record type 0x{kind:02X} is not one of 00-05")
        }
        other => format!("malformed record: {other}"),
    }
}
