//! The DfuSe memory map carried in an alternate setting's name (facts file section 2.7):
//! `@<name>/<0xADDR>/<N>*<SIZE><MULT><TYPE>[,...][/<0xADDR>/...]`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub readable: bool,
    pub erasable: bool,
    pub writable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sector {
    pub start: u32,
    pub size: u32,
    pub access: Access,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    pub name: String,
    pub sectors: Vec<Sector>,
}

impl MemoryMap {
    pub fn sector_at(&self, address: u32) -> Option<&Sector> {
        self.sectors
            .iter()
            .find(|s| address >= s.start && address - s.start < s.size)
    }
}

fn parse_addr(s: &str) -> Result<u32, String> {
    let hex = s
        .trim()
        .strip_prefix("0x")
        .or_else(|| s.trim().strip_prefix("0X"))
        .ok_or_else(|| format!("expected an address like 0x08000000, found {s:?}"))?;
    u32::from_str_radix(hex, 16).map_err(|_| format!("bad address {s:?}"))
}

fn parse_segment(seg: &str) -> Result<(u32, u32, Access), String> {
    let (count, rest) = seg
        .split_once('*')
        .ok_or_else(|| format!("expected N*SIZE in {seg:?}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("bad sector count in {seg:?}"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let size: u32 = digits
        .parse()
        .map_err(|_| format!("bad sector size in {seg:?}"))?;
    let mut tail = rest[digits.len()..].chars();
    let (mult, kind) = match (tail.next(), tail.next()) {
        (Some(m), Some(k)) => (m, k),
        // ST ROMs also write "01*016 g": a space as the multiplier means bytes.
        (Some(k), None) => (' ', k),
        _ => {
            return Err(format!(
                "expected a multiplier and a type letter in {seg:?}"
            ));
        }
    };
    let size = size
        * match mult {
            'K' => 1024,
            'M' => 1024 * 1024,
            'B' | ' ' => 1,
            other => return Err(format!("unknown multiplier {other:?} in {seg:?}")),
        };
    let bits = kind as u32 & 7;
    let access = Access {
        readable: bits & 1 != 0,
        erasable: bits & 2 != 0,
        writable: bits & 4 != 0,
    };
    Ok((count, size, access))
}

pub fn parse(s: &str) -> Result<MemoryMap, String> {
    let body = s
        .strip_prefix('@')
        .ok_or_else(|| format!("a DfuSe memory map starts with '@': {s:?}"))?;
    let mut parts = body.split('/');
    let name = parts.next().unwrap_or_default().trim().to_string();
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(format!("expected /ADDRESS/SEGMENTS groups in {s:?}"));
    }
    let mut sectors = Vec::new();
    for pair in rest.chunks(2) {
        let mut address = parse_addr(pair[0])?;
        for seg in pair[1].split(',').filter(|x| !x.trim().is_empty()) {
            let (count, size, access) = parse_segment(seg.trim())?;
            for _ in 0..count {
                sectors.push(Sector {
                    start: address,
                    size,
                    access,
                });
                address = address.wrapping_add(size);
            }
        }
    }
    Ok(MemoryMap { name, sectors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_f4_rom_map() {
        let m = parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg").unwrap();
        assert_eq!(m.name, "Internal Flash");
        assert_eq!(m.sectors.len(), 12);
        assert_eq!(m.sector_at(0x0801_0000).unwrap().size, 64 * 1024);
        assert_eq!(m.sector_at(0x080E_0000).unwrap().start, 0x080E_0000);
        assert!(m.sector_at(0x0810_0000).is_none());
        assert!(
            m.sectors
                .iter()
                .all(|s| s.access.writable && s.access.erasable && s.access.readable)
        );
    }

    #[test]
    fn parses_space_multiplier_and_read_only() {
        let m = parse("@Option Bytes  /0x1FFFC000/01*016 e").unwrap();
        assert_eq!(m.sectors[0].size, 16);
        assert!(!m.sectors[0].access.erasable);
        let m = parse("@Internal Flash   /0x08000000/02*016Ka,02*016Kg").unwrap();
        assert!(!m.sectors[0].access.writable);
        assert!(m.sectors[2].access.writable);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in ["", "@", "@x/0x0", "@x/zz/1*1Kg", "@x/0x0/1*Kg", "Internal"] {
            assert!(parse(s).is_err(), "{s:?}");
        }
    }
}
