use crate::hw::Segment;

const EHDR_LEN: usize = 52;
const PHDR_LEN: usize = 32;
const ET_EXEC: u16 = 2;
const EM_ARM: u16 = 40;
const EV_CURRENT: u32 = 1;
/// ARM EABI version 5, what arm-none-eabi-gcc emits.
const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
const PT_LOAD: u32 = 1;
const PF_X_R: u32 = 0x1 | 0x4;
const SEGMENT_ALIGN: usize = 4;

/// A minimal ELF32 little-endian ARM executable: header, one PT_LOAD per
/// segment (physical = virtual = segment address), data, no sections.
pub fn write_elf(segments: &[Segment], entry: u32) -> Vec<u8> {
    let count = segments.len().min(usize::from(u16::MAX));
    let segments = segments.get(..count).unwrap_or_default();
    let mut out = Vec::new();
    push_file_header(&mut out, entry, count as u16);
    let mut data_at = EHDR_LEN + PHDR_LEN * count;
    let mut payload = Vec::new();
    for segment in segments {
        // Keep file offset and address congruent modulo the alignment.
        while data_at % SEGMENT_ALIGN != segment.address as usize % SEGMENT_ALIGN {
            data_at += 1;
            payload.push(0);
        }
        let size = u32::try_from(segment.data.len()).unwrap_or(u32::MAX);
        for word in [
            PT_LOAD,
            data_at as u32,
            segment.address,
            segment.address,
            size,
            size,
            PF_X_R,
            SEGMENT_ALIGN as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        payload.extend_from_slice(&segment.data);
        data_at += segment.data.len();
    }
    out.extend_from_slice(&payload);
    out
}

fn push_file_header(out: &mut Vec<u8>, entry: u32, phnum: u16) {
    // e_ident: magic, 32-bit, little-endian, version 1, System V ABI.
    out.extend_from_slice(b"\x7fELF\x01\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&ET_EXEC.to_le_bytes());
    out.extend_from_slice(&EM_ARM.to_le_bytes());
    out.extend_from_slice(&EV_CURRENT.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&(EHDR_LEN as u32).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_shoff: no sections
    out.extend_from_slice(&EF_ARM_EABI_VER5.to_le_bytes());
    for half in [EHDR_LEN as u16, PHDR_LEN as u16, phnum, 40, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        out.extend_from_slice(&half.to_le_bytes());
    }
}
