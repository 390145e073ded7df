//! File-name components built from untrusted labels, serials and UIDs.

use sha2::{Digest, Sha256};

const MAX_LEN: usize = 64;
const HASH_LEN: usize = 8;

/// A single, plain path component for any input.
///
/// Safe input is kept as is. Anything else gets unsafe chars replaced by
/// '_', is cut to fit, and gets "-" + 8 hex of sha256(original) appended.
/// Kept names never end in "-" + 8 hex, so kept and hashed names cannot
/// collide with each other.
pub fn safe_component(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if is_safe_char(c) { c } else { '_' })
        .collect();
    // A leading '.' hides or escapes; a leading '-' reads as a shell option.
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    if out == s && !out.is_empty() && out.len() <= MAX_LEN && !ends_like_hash(&out) {
        return out;
    }
    // `out` is ASCII here, so byte truncation cannot split a char.
    out.truncate(MAX_LEN - HASH_LEN - 1);
    if out.is_empty() {
        out.push('_');
    }
    let digest = Sha256::digest(s.as_bytes());
    let hash: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{out}-{}", &hash[..HASH_LEN])
}

fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn ends_like_hash(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(dash) = bytes.len().checked_sub(HASH_LEN + 1) else {
        return false;
    };
    bytes[dash] == b'-'
        && bytes[dash + 1..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Record ids are used verbatim as file names, so they must be plain.
pub(crate) fn is_plain_file_stem(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && !s.starts_with(['.', '-']) && s.chars().all(is_safe_char)
}
