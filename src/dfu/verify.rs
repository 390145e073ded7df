//! Read a device back over DfuSe UPLOAD and compare it with an image's segments.

use std::fmt;

use super::engine::DfuError;
use super::host::DfuDevice;
use super::upload::upload;
use crate::hw::{Clock, Segment, UsbControl};

/// The lowest differing address and both values there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub address: u32,
    pub expected: u8,
    pub found: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub bytes_checked: u64,
    pub differing_bytes: u64,
    pub first_mismatch: Option<Mismatch>,
}

impl VerifyReport {
    pub fn matches(&self) -> bool {
        self.differing_bytes == 0
    }

    fn compare(&mut self, expected: &Segment, found: &[u8]) {
        self.bytes_checked += expected.data.len() as u64;
        for (offset, (e, f)) in expected.data.iter().zip(found).enumerate() {
            if e == f {
                continue;
            }
            self.differing_bytes += 1;
            let address = expected.address + offset as u32;
            if self.first_mismatch.is_none_or(|m| address < m.address) {
                self.first_mismatch = Some(Mismatch {
                    address,
                    expected: *e,
                    found: *f,
                });
            }
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first_mismatch {
            None => write!(f, "{} bytes match", self.bytes_checked),
            Some(m) => write!(
                f,
                "{} of {} bytes differ; first at {:#010x} (expected {:#04x}, found {:#04x})",
                self.differing_bytes, self.bytes_checked, m.address, m.expected, m.found
            ),
        }
    }
}

/// Upload every segment's range from the opened device and compare it byte for byte.
pub fn verify(
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    device: &DfuDevice,
    segments: &[Segment],
) -> Result<VerifyReport, DfuError> {
    verify_with_progress(pipe, clock, device, segments, &mut |_| {})
}

/// `verify`, reporting the bytes read back so far.
pub fn verify_with_progress(
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    device: &DfuDevice,
    segments: &[Segment],
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, DfuError> {
    if !device.functional.can_upload {
        return Err(DfuError::Protocol(
            "the device cannot upload (bitCanUpload is clear), so it cannot be verified".into(),
        ));
    }
    let mut report = VerifyReport::default();
    for segment in segments {
        let length = u32::try_from(segment.data.len()).map_err(|_| {
            DfuError::Protocol(format!(
                "the segment at {:#010x} is larger than 4 GiB",
                segment.address
            ))
        })?;
        let found = upload(
            pipe,
            clock,
            device.interface.number,
            device.functional.transfer_size,
            segment.address,
            length,
            &mut |done, _| progress(report.bytes_checked + done),
        )?;
        report.compare(segment, &found);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_differences_and_keeps_the_lowest_address() {
        let mut report = VerifyReport::default();
        report.compare(&Segment::new(0x200, vec![1, 2, 3]), &[1, 0, 0]);
        report.compare(&Segment::new(0x100, vec![7, 8]), &[7, 9]);
        assert_eq!(report.bytes_checked, 5);
        assert_eq!(report.differing_bytes, 3);
        assert_eq!(
            report.first_mismatch,
            Some(Mismatch {
                address: 0x101,
                expected: 8,
                found: 9
            })
        );
        assert!(!report.matches());
        assert!(report.to_string().contains("first at 0x00000101"));
    }
}
