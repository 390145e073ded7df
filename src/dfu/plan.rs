//! Turning image segments into the exact list of DfuSe operations a download will perform.
//! The torture campaign indexes this list to cut an update at any operation.

use std::fmt;

use super::memmap::MemoryMap;
use crate::config::EraseStrategy;
use crate::hw::Segment;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Erase the sector containing `address`.
    Erase {
        address: u32,
    },
    SetAddress {
        address: u32,
    },
    /// DNLOAD block `block` (>= 2), landing at `address` = pointer + (block - 2) * transfer size.
    Write {
        block: u16,
        address: u32,
        data: Vec<u8>,
    },
    /// Zero-length DNLOAD and manifestation: leave DFU and start the code at the pointer.
    Leave,
    /// DfuSe Erase with no address: the whole flash (ST's ROM only).
    MassErase,
    /// DfuSe Read Unprotect: RDP back to level 0, which erases the flash; the device resets
    /// without answering again.
    ReadUnprotect,
    /// A block written to the option bytes: the ST ROM applies them and resets (AN3156), so
    /// the device may vanish instead of answering the poll.
    WriteOptions {
        block: u16,
        address: u32,
        data: Vec<u8>,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Erase { address } => write!(f, "erase sector at {address:#010x}"),
            Op::SetAddress { address } => write!(f, "set address {address:#010x}"),
            Op::Write {
                block,
                address,
                data,
            } => {
                write!(
                    f,
                    "write block {block} ({} bytes at {address:#010x})",
                    data.len()
                )
            }
            Op::Leave => f.write_str("leave DFU (manifest)"),
            Op::MassErase => f.write_str("mass erase"),
            Op::ReadUnprotect => f.write_str("read unprotect (RDP to level 0, erases the flash)"),
            Op::WriteOptions { address, data, .. } => write!(
                f,
                "write {} option bytes at {address:#010x} (the device resets)",
                data.len()
            ),
        }
    }
}

/// Plan a download: check every byte lands in a writable sector, erase only the sectors the
/// image touches (all first, or as the writing reaches them), one SET_ADDRESS per contiguous
/// run with incrementing block numbers, then optionally leave.
pub fn plan_download(
    segments: &[Segment],
    map: &MemoryMap,
    transfer_size: u16,
    erase: EraseStrategy,
    leave: bool,
) -> Result<Vec<Op>, String> {
    if transfer_size == 0 {
        return Err("the device reports wTransferSize 0".into());
    }
    let chunk = transfer_size as usize;
    let mut erased: Vec<u32> = Vec::new();
    let mut erases = Vec::new();
    // Each write with the sector it needs erased first (progressive erase).
    let mut writes: Vec<(Option<u32>, Op)> = Vec::new();
    for seg in segments {
        if seg.data.is_empty() {
            continue;
        }
        let mut address = seg.address;
        while (address as u64) < seg.end() {
            let sector = map.sector_at(address).ok_or_else(|| {
                format!(
                    "{address:#010x} is outside the device's memory map {:?}",
                    map.name
                )
            })?;
            if !sector.access.writable {
                return Err(format!(
                    "{address:#010x} lies in a sector the device marks read-only ({:?})",
                    map.name
                ));
            }
            if sector.access.erasable && !erased.contains(&sector.start) {
                erased.push(sector.start);
                erases.push(Op::Erase {
                    address: sector.start,
                });
            }
            let next = (sector.start as u64 + sector.size as u64).min(seg.end()) as u32;
            address = if next > address { next } else { break };
        }
        let mut block: u16 = 2;
        writes.push((
            None,
            Op::SetAddress {
                address: seg.address,
            },
        ));
        for (i, data) in seg.data.chunks(chunk).enumerate() {
            let address = seg.address + (i * chunk) as u32;
            if block == u16::MAX {
                writes.push((None, Op::SetAddress { address }));
                block = 2;
            }
            let erase = map
                .sector_at(address)
                .filter(|s| s.access.erasable)
                .map(|s| s.start);
            writes.push((
                erase,
                Op::Write {
                    block,
                    address,
                    data: data.to_vec(),
                },
            ));
            block += 1;
        }
    }
    let mut ops = Vec::new();
    match erase {
        EraseStrategy::Upfront => {
            ops.extend(erases);
            ops.extend(writes.into_iter().map(|(_, w)| w));
        }
        EraseStrategy::Progressive => {
            let mut done: Vec<u32> = Vec::new();
            for (erase, w) in writes {
                if let Some(address) = erase
                    && !done.contains(&address)
                {
                    done.push(address);
                    ops.push(Op::Erase { address });
                }
                ops.push(w);
            }
        }
    }
    if is_option_bytes(map) {
        // Option bytes are written whole, never erased, and the ROM resets after the write.
        return option_writes(segments, transfer_size);
    }
    if leave {
        ops.push(Op::Leave);
    }
    Ok(ops)
}

/// An alternate setting that maps the option bytes (ST names it so on every ROM).
pub fn is_option_bytes(map: &MemoryMap) -> bool {
    map.name.trim().eq_ignore_ascii_case("option bytes")
}

fn option_writes(segments: &[Segment], transfer_size: u16) -> Result<Vec<Op>, String> {
    let [seg] = segments else {
        return Err("option bytes are written as one block at the start of their area".into());
    };
    if seg.data.len() > transfer_size as usize {
        return Err(format!(
            "{} option bytes do not fit one {transfer_size}-byte block",
            seg.data.len()
        ));
    }
    Ok(vec![
        Op::SetAddress {
            address: seg.address,
        },
        Op::WriteOptions {
            block: 2,
            address: seg.address,
            data: seg.data.clone(),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfu::memmap;

    fn f4_map() -> MemoryMap {
        memmap::parse("@Internal Flash  /0x08000000/02*016Ka,02*016Kg,01*064Kg,07*128Kg").unwrap()
    }

    #[test]
    fn erases_only_touched_sectors_and_numbers_blocks() {
        let seg = Segment::new(0x0800_8000, vec![0xA5; 40 * 1024]);
        let ops = plan_download(&[seg], &f4_map(), 2048, EraseStrategy::Upfront, true).unwrap();
        let erases: Vec<_> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Erase { address } => Some(*address),
                _ => None,
            })
            .collect();
        assert_eq!(erases, vec![0x0800_8000, 0x0800_C000, 0x0801_0000]);
        assert_eq!(
            ops[3],
            Op::SetAddress {
                address: 0x0800_8000
            }
        );
        let writes: Vec<_> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Write { block, address, .. } => Some((*block, *address)),
                _ => None,
            })
            .collect();
        assert_eq!(writes.len(), 20);
        assert_eq!(writes[0], (2, 0x0800_8000));
        assert_eq!(writes[19], (21, 0x0800_8000 + 19 * 2048));
        assert_eq!(ops.last(), Some(&Op::Leave));
    }

    #[test]
    fn progressive_erase_comes_just_before_the_first_write_into_a_sector() {
        let seg = Segment::new(0x0800_B800, vec![0; 4096]);
        let ops =
            plan_download(&[seg], &f4_map(), 2048, EraseStrategy::Progressive, false).unwrap();
        assert_eq!(
            ops[0],
            Op::SetAddress {
                address: 0x0800_B800
            }
        );
        assert_eq!(
            ops[1],
            Op::Erase {
                address: 0x0800_8000
            }
        );
        assert!(matches!(ops[2], Op::Write { block: 2, .. }));
        assert_eq!(
            ops[3],
            Op::Erase {
                address: 0x0800_C000
            }
        );
        assert!(matches!(ops[4], Op::Write { block: 3, .. }));
    }

    #[test]
    fn refuses_read_only_and_unmapped_addresses() {
        let boot = Segment::new(0x0800_0000, vec![0; 16]);
        assert!(
            plan_download(&[boot], &f4_map(), 2048, EraseStrategy::Upfront, false)
                .unwrap_err()
                .contains("read-only")
        );
        let outside = Segment::new(0x0810_0000, vec![0; 16]);
        assert!(
            plan_download(&[outside], &f4_map(), 2048, EraseStrategy::Upfront, false)
                .unwrap_err()
                .contains("outside")
        );
    }
}
