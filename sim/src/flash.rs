//! The flash array: sectors, erased value and the NOR programming rule.

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FlashArray {
    base: u32,
    sectors: Vec<u32>,
    data: Vec<u8>,
    /// While `Some`, every erase and program is noted with the cells it changed, so that the
    /// emulated core's register-level flash work can be counted and cut like any other
    /// (`Mcu::device_write`). Never saved.
    #[serde(skip)]
    journal: Option<Vec<Journaled>>,
}

/// One erase or program as the array saw it, with the cells as they were before.
#[derive(Clone, Debug)]
pub struct Journaled {
    /// The sector erased (`None` with `all` for the whole array), or a program's address.
    pub erase: Option<usize>,
    pub all: bool,
    pub address: u32,
    /// The bytes programmed (empty for an erase).
    pub data: Vec<u8>,
    /// The cells at `address` before the operation.
    pub old: Vec<u8>,
}

pub const ERASED: u8 = 0xFF;

impl FlashArray {
    pub fn new(base: u32, sectors: Vec<u32>) -> Self {
        let size = sectors.iter().sum::<u32>() as usize;
        Self {
            base,
            sectors,
            data: vec![ERASED; size],
            journal: None,
        }
    }

    /// Start noting erases and programs (see [`Journaled`]).
    pub fn start_journal(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Stop noting; what was noted since [`FlashArray::start_journal`].
    pub fn take_journal(&mut self) -> Vec<Journaled> {
        self.journal.take().unwrap_or_default()
    }

    fn note(&mut self, erase: Option<usize>, all: bool, address: u32, data: &[u8], len: usize) {
        if self.journal.is_none() {
            return;
        }
        let old = self
            .read(address, len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        if let Some(j) = self.journal.as_mut() {
            j.push(Journaled {
                erase,
                all,
                address,
                data: data.to_vec(),
                old,
            });
        }
    }

    pub fn base(&self) -> u32 {
        self.base
    }

    pub fn size(&self) -> u32 {
        self.data.len() as u32
    }

    pub fn contains(&self, address: u32) -> bool {
        address >= self.base && ((address - self.base) as usize) < self.data.len()
    }

    pub fn sector_count(&self) -> usize {
        self.sectors.len()
    }

    /// (start address, size) of sector `index`.
    pub fn sector(&self, index: usize) -> Option<(u32, u32)> {
        let size = *self.sectors.get(index)?;
        let offset: u32 = self.sectors[..index].iter().sum();
        Some((self.base + offset, size))
    }

    pub fn sector_of(&self, address: u32) -> Option<usize> {
        let mut start = self.base;
        for (i, size) in self.sectors.iter().enumerate() {
            if address >= start && address - start < *size {
                return Some(i);
            }
            start += size;
        }
        None
    }

    pub fn read(&self, address: u32, len: usize) -> Option<&[u8]> {
        let offset = address.checked_sub(self.base)? as usize;
        self.data.get(offset..offset.checked_add(len)?)
    }

    pub fn erase_sector(&mut self, index: usize) {
        if let Some((start, size)) = self.sector(index) {
            self.note(Some(index), false, start, &[], size as usize);
            let offset = (start - self.base) as usize;
            self.data[offset..offset + size as usize].fill(ERASED);
        }
    }

    pub fn erase_all(&mut self) {
        let (base, size) = (self.base, self.data.len());
        self.note(None, true, base, &[], size);
        self.data.fill(ERASED);
    }

    /// Set cells to any value, bypassing the NOR rule: only for modelling torn operations,
    /// whose cells may read either way. Returns false when out of range.
    pub fn poke(&mut self, address: u32, bytes: &[u8]) -> bool {
        let Some(offset) = address.checked_sub(self.base).map(|o| o as usize) else {
            return false;
        };
        match self.data.get_mut(offset..offset + bytes.len()) {
            Some(cells) => {
                cells.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// NOR programming: bits only go from 1 to 0. Returns false when out of range.
    pub fn program(&mut self, address: u32, bytes: &[u8]) -> bool {
        let Some(offset) = address.checked_sub(self.base).map(|o| o as usize) else {
            return false;
        };
        if self.data.get(offset..offset + bytes.len()).is_none() {
            return false;
        }
        self.note(None, false, address, bytes, bytes.len());
        let Some(cells) = self.data.get_mut(offset..offset + bytes.len()) else {
            return false;
        };
        for (cell, b) in cells.iter_mut().zip(bytes) {
            *cell &= *b;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f4() -> FlashArray {
        let mut s = vec![16 * 1024; 4];
        s.push(64 * 1024);
        s.extend(std::iter::repeat_n(128 * 1024, 7));
        FlashArray::new(0x0800_0000, s)
    }

    #[test]
    fn geometry_follows_rm0090() {
        let f = f4();
        assert_eq!(f.size(), 1024 * 1024);
        assert_eq!(f.sector(4), Some((0x0801_0000, 64 * 1024)));
        assert_eq!(f.sector(5), Some((0x0802_0000, 128 * 1024)));
        assert_eq!(f.sector_of(0x080F_FFFF), Some(11));
        assert_eq!(f.sector_of(0x0810_0000), None);
        assert_eq!(f.sector_of(0x0800_3FFF), Some(0));
    }

    #[test]
    fn programming_only_clears_bits_and_erase_restores() {
        let mut f = f4();
        assert!(f.program(0x0800_4000, &[0x0F, 0xF0]));
        assert!(f.program(0x0800_4000, &[0xF3, 0xFF]));
        assert_eq!(f.read(0x0800_4000, 2), Some(&[0x03, 0xF0][..]));
        f.erase_sector(1);
        assert_eq!(f.read(0x0800_4000, 2), Some(&[0xFF, 0xFF][..]));
        assert!(
            !f.program(0x080F_FFFF, &[0, 0]),
            "must not run past the end"
        );
    }
}
