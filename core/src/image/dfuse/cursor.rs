/// Bounds-checked little-endian reader whose errors name the absolute offset.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    /// Offset in the file of the next byte to read.
    pub(super) pos: usize,
    /// Offset of `bytes` within the whole file, for messages.
    origin: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes` starting at `pos` (offsets are file offsets).
    pub(super) fn new(bytes: &'a [u8], pos: usize) -> Self {
        Cursor {
            bytes,
            pos,
            origin: 0,
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos - self.origin)
    }

    pub(super) fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let start = self.pos - self.origin;
        let slice = start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| {
                format!(
                    "{what} at offset {} needs {len} bytes but only {} remain",
                    self.pos,
                    self.remaining()
                )
            })?;
        self.pos += len;
        Ok(slice)
    }

    pub(super) fn skip(&mut self, len: usize) -> Result<(), String> {
        self.take(len, "field").map(|_| ())
    }

    /// Splits off the next `len` bytes as their own cursor.
    pub(super) fn sub(&mut self, len: usize) -> Result<Cursor<'a>, String> {
        let origin = self.pos;
        let bytes = self.take(len, "block")?;
        Ok(Cursor {
            bytes,
            pos: origin,
            origin,
        })
    }

    pub(super) fn expect(&mut self, expected: &[u8], what: &str) -> Result<(), String> {
        let at = self.pos;
        match self.take(expected.len(), what) {
            Ok(found) if found == expected => Ok(()),
            _ => Err(format!("missing {what} at offset {at}")),
        }
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8, String> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    pub(super) fn u16(&mut self, what: &str) -> Result<u16, String> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
}
