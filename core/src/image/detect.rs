use std::path::Path;

use super::Format;

const ELF_MAGIC: &[u8] = b"\x7fELF";
const DFUSE_MAGIC: &[u8] = b"DfuSe";

/// The extension wins (it is what the operator chose); content sniffing is
/// only a fallback for files without a known extension.
pub fn detect_format(path: &Path, bytes: &[u8]) -> Option<Format> {
    by_extension(path).or_else(|| by_content(bytes))
}

fn by_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "elf" | "axf" | "out" => Some(Format::Elf),
        "hex" | "ihex" => Some(Format::Hex),
        "dfu" => Some(Format::Dfu),
        "bin" => Some(Format::Bin),
        _ => None,
    }
}

fn by_content(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(ELF_MAGIC) {
        Some(Format::Elf)
    } else if bytes.starts_with(DFUSE_MAGIC) {
        Some(Format::Dfu)
    } else if starts_with_hex_record(bytes) {
        Some(Format::Hex)
    } else {
        None
    }
}

/// A raw binary may start with 0x3A (':') by chance, so require the whole
/// first line to look like a record: ':' then hex digits only.
fn starts_with_hex_record(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    let Some(line) = start.and_then(|s| text.get(s..)) else {
        return false;
    };
    let line_end = line
        .iter()
        .position(|b| *b == b'\n' || *b == b'\r')
        .unwrap_or(line.len());
    match line.get(..line_end) {
        Some([b':', digits @ ..]) => {
            !digits.is_empty() && digits.iter().all(|b| b.is_ascii_hexdigit())
        }
        _ => false,
    }
}
