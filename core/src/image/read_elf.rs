use std::path::Path;

use object::elf::{EM_ARM, FileHeader32, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{LittleEndian, pod};

use super::{Format, ImageError, Segment};

const ELF32_HEADER_LEN: usize = 52;

/// PT_LOAD contents at their physical (load) address: for code linked to run
/// from RAM the physical address is where the flash copy lives.
pub(super) fn segments(path: &Path, bytes: &[u8]) -> Result<Vec<Segment>, ImageError> {
    let bad = |message: String| ImageError::Format {
        path: path.to_path_buf(),
        format: Format::Elf,
        message,
    };
    check_ident(bytes).map_err(bad)?;
    // `object` needs its structs aligned; a caller's slice may not be.
    let mut words = vec![0u32; bytes.len().div_ceil(4)];
    let aligned = pod::bytes_of_slice_mut(&mut words);
    let data: &[u8] = match aligned.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            dst
        }
        None => return Err(bad("internal buffer size mismatch".into())),
    };
    let header =
        FileHeader32::<LittleEndian>::parse(data).map_err(|e| bad(format!("ELF header: {e}")))?;
    let endian = LittleEndian;
    let headers = header.program_headers(endian, data).map_err(|e| {
        bad(format!(
            "program headers at offset 0x{:X}: {e}",
            header.e_phoff(endian)
        ))
    })?;
    let mut out = Vec::new();
    for (index, ph) in headers.iter().enumerate() {
        if ph.p_type(endian) != PT_LOAD || ph.p_filesz(endian) == 0 {
            continue;
        }
        let contents = ph.data(endian, data).map_err(|()| {
            bad(format!(
                "PT_LOAD program header {index} points past the end of the file \
                 (offset 0x{:X}, size 0x{:X}, file is 0x{:X} bytes)",
                ph.p_offset(endian),
                ph.p_filesz(endian),
                bytes.len()
            ))
        })?;
        out.push(Segment::new(ph.p_paddr(endian), contents.to_vec()));
    }
    Ok(out)
}

/// Names the exact reason a file is not a 32-bit little-endian ARM ELF.
fn check_ident(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(b"\x7fELF") {
        return Err("missing ELF magic 7F 45 4C 46 at offset 0".into());
    }
    match bytes.get(4) {
        Some(1) => {}
        Some(2) => {
            return Err("64-bit ELF (class 2 at offset 4); expected a 32-bit ARM ELF".into());
        }
        Some(other) => {
            return Err(format!(
                "unknown ELF class {other} at offset 4; expected 1 (32-bit)"
            ));
        }
        None => return Err("file ends inside the ELF identification".into()),
    }
    match bytes.get(5) {
        Some(1) => {}
        Some(2) => {
            return Err("big-endian ELF (data 2 at offset 5); expected little-endian ARM".into());
        }
        Some(other) => {
            return Err(format!(
                "unknown ELF data encoding {other} at offset 5; expected 1 (little-endian)"
            ));
        }
        None => return Err("file ends inside the ELF identification".into()),
    }
    if bytes.len() < ELF32_HEADER_LEN {
        return Err(format!(
            "file is {} bytes, shorter than the {ELF32_HEADER_LEN}-byte ELF32 header",
            bytes.len()
        ));
    }
    let machine = match bytes.get(18..20) {
        Some([lo, hi]) => u16::from_le_bytes([*lo, *hi]),
        _ => return Err("file ends inside the ELF header".into()),
    };
    if machine != EM_ARM {
        return Err(format!(
            "e_machine at offset 0x12 is {machine}, expected {EM_ARM} (ARM)"
        ));
    }
    Ok(())
}
