use std::path::Path;

use super::{ImageError, Segment};

const ADDRESS_SPACE_END: u64 = 1 << 32;

/// Drops empty pieces, sorts by address, merges touching pieces and refuses
/// overlaps: two bytes for one address means the file is ambiguous.
pub(super) fn normalize(path: &Path, pieces: Vec<Segment>) -> Result<Vec<Segment>, ImageError> {
    let mut pieces: Vec<Segment> = pieces.into_iter().filter(|s| !s.data.is_empty()).collect();
    if let Some(bad) = pieces.iter().find(|s| s.end() > ADDRESS_SPACE_END) {
        return Err(ImageError::AddressOverflow {
            path: path.to_path_buf(),
            address: bad.address,
            end: bad.end(),
        });
    }
    if pieces.is_empty() {
        return Err(ImageError::Empty {
            path: path.to_path_buf(),
        });
    }
    pieces.sort_by_key(|s| s.address);
    let mut merged: Vec<Segment> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match merged.last_mut() {
            Some(last) if u64::from(piece.address) < last.end() => {
                return Err(ImageError::Overlap {
                    path: path.to_path_buf(),
                    first: last.address,
                    second: piece.address,
                });
            }
            Some(last) if u64::from(piece.address) == last.end() => {
                last.data.extend_from_slice(&piece.data);
            }
            _ => merged.push(piece),
        }
    }
    Ok(merged)
}

/// Copies whatever parts of `segments` fall inside the window.
pub(super) fn window(segments: &[Segment], address: u32, len: usize, fill: u8) -> Vec<u8> {
    let mut out = vec![fill; len];
    let start = u64::from(address);
    let end = start + len as u64;
    for segment in segments {
        let seg_start = u64::from(segment.address);
        let lo = seg_start.max(start);
        let hi = segment.end().min(end);
        if lo >= hi {
            continue;
        }
        let dst = out.get_mut(to_usize(lo - start)..to_usize(hi - start));
        let src = segment
            .data
            .get(to_usize(lo - seg_start)..to_usize(hi - seg_start));
        if let (Some(dst), Some(src)) = (dst, src) {
            dst.copy_from_slice(src);
        }
    }
    out
}

/// Offsets here are bounded by a slice length, so they always fit.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
