//! The one-time-programmable area of the F4 and F7 (facts 3.1, 3.2): data blocks that are
//! programmed like flash (bits go 1 → 0 only) and never erased, followed by one lock byte per
//! block. Writing 0x00 to a block's lock byte locks that block for good.
//!
//! F4: 0x1FFF_7800, 16 blocks of 32 B, lock bytes at 0x1FFF_7A00 (CMSIS-F4 FLASH_OTP_BASE/END).
//! F7: 0x1FF0_F000, 16 blocks of 64 B, lock bytes at 0x1FF0_F400 (CMSIS-F7).
//! [R] a program of a locked block raises WRPERR and changes nothing: the reference manuals say
//! a locked block "cannot be programmed"; the flag it raises is recalled, not in the facts file.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtpSpec {
    pub base: u32,
    pub blocks: u32,
    pub block_size: u32,
}

impl OtpSpec {
    pub const F4: OtpSpec = OtpSpec {
        base: 0x1FFF_7800,
        blocks: 16,
        block_size: 32,
    };
    pub const F7: OtpSpec = OtpSpec {
        base: 0x1FF0_F000,
        blocks: 16,
        block_size: 64,
    };

    pub fn data_len(&self) -> u32 {
        self.blocks * self.block_size
    }

    /// Data and lock bytes together.
    pub fn total_len(&self) -> u32 {
        self.data_len() + self.blocks
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtpWrite {
    Done,
    /// The block is locked: nothing changed.
    Locked,
}

#[derive(Clone, Debug)]
pub struct OtpArea {
    pub spec: OtpSpec,
    pub bytes: Vec<u8>,
}

impl OtpArea {
    pub fn new(spec: OtpSpec) -> Self {
        Self {
            spec,
            bytes: vec![0xFF; spec.total_len() as usize],
        }
    }

    pub fn contains(&self, address: u32) -> bool {
        address >= self.spec.base && address - self.spec.base < self.spec.total_len()
    }

    pub fn read(&self, address: u32, len: usize) -> Option<&[u8]> {
        let offset = address.checked_sub(self.spec.base)? as usize;
        self.bytes.get(offset..offset.checked_add(len)?)
    }

    fn block_locked(&self, block: u32) -> bool {
        self.bytes[(self.spec.data_len() + block) as usize] == 0x00
    }

    /// Program `data` at `address` (within one block or the lock bytes): bits go 1 → 0 only.
    pub fn program(&mut self, address: u32, data: &[u8]) -> OtpWrite {
        let offset = address - self.spec.base;
        if offset < self.spec.data_len() && self.block_locked(offset / self.spec.block_size) {
            return OtpWrite::Locked;
        }
        for (i, b) in data.iter().enumerate() {
            if let Some(cell) = self.bytes.get_mut(offset as usize + i) {
                *cell &= *b;
            }
        }
        OtpWrite::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_only_clear_and_a_locked_block_refuses() {
        let mut otp = OtpArea::new(OtpSpec::F4);
        assert_eq!(otp.spec.total_len(), 528);
        assert_eq!(otp.program(0x1FFF_7800, &[0x0F, 0xF0]), OtpWrite::Done);
        assert_eq!(otp.program(0x1FFF_7800, &[0xF0, 0xFF]), OtpWrite::Done);
        assert_eq!(otp.read(0x1FFF_7800, 2).unwrap(), &[0x00, 0xF0]);
        // Lock block 1 (0x1FFF_7820..0x1FFF_7840) through its lock byte.
        assert_eq!(otp.program(0x1FFF_7A01, &[0x00]), OtpWrite::Done);
        assert_eq!(otp.program(0x1FFF_7820, &[0x12]), OtpWrite::Locked);
        assert_eq!(otp.read(0x1FFF_7820, 1).unwrap(), &[0xFF]);
        assert_eq!(
            otp.program(0x1FFF_7840, &[0x34]),
            OtpWrite::Done,
            "block 2 is open"
        );
        assert!(otp.contains(0x1FFF_7A0F) && !otp.contains(0x1FFF_7A10));
    }
}
