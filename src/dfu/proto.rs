//! DFU 1.1 and DfuSe protocol constants and the GETSTATUS record (facts file sections 1-2).

use std::fmt;
use std::time::Duration;

pub const DETACH: u8 = 0;
pub const DNLOAD: u8 = 1;
pub const UPLOAD: u8 = 2;
pub const GETSTATUS: u8 = 3;
pub const CLRSTATUS: u8 = 4;
pub const GETSTATE: u8 = 5;
pub const ABORT: u8 = 6;

/// DfuSe commands carried in DNLOAD block 0.
pub const CMD_SET_ADDRESS: u8 = 0x21;
pub const CMD_ERASE: u8 = 0x41;
pub const CMD_READ_UNPROTECT: u8 = 0x92;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    AppIdle,
    AppDetach,
    Idle,
    DnloadSync,
    DnBusy,
    DnloadIdle,
    ManifestSync,
    Manifest,
    ManifestWaitReset,
    UploadIdle,
    Error,
    Unknown(u8),
}

impl State {
    pub fn from_byte(b: u8) -> State {
        use State::*;
        match b {
            0 => AppIdle,
            1 => AppDetach,
            2 => Idle,
            3 => DnloadSync,
            4 => DnBusy,
            5 => DnloadIdle,
            6 => ManifestSync,
            7 => Manifest,
            8 => ManifestWaitReset,
            9 => UploadIdle,
            10 => Error,
            other => Unknown(other),
        }
    }
}

/// bStatus codes with dfu-util's meanings.
pub fn status_text(status: u8) -> &'static str {
    match status {
        0x00 => "OK",
        0x01 => "errTARGET: file not meant for this device or address not supported",
        0x02 => "errFILE: file fails a vendor check",
        0x03 => "errWRITE: cannot write memory",
        0x04 => "errERASE: erase failed",
        0x05 => "errCHECK_ERASED: erase check failed",
        0x06 => "errPROG: program failed",
        0x07 => "errVERIFY: verify after program failed",
        0x08 => "errADDRESS: address out of range",
        0x09 => "errNOTDONE: device thinks the data is incomplete",
        0x0A => "errFIRMWARE: firmware corrupt, cannot return to run-time",
        0x0B => "errVENDOR: vendor-specific error (read protection on ST parts)",
        0x0C => "errUSBR: unexpected USB reset",
        0x0D => "errPOR: unexpected power-on reset",
        0x0E => "errUNKNOWN",
        0x0F => "errSTALLEDPKT: device stalled an unexpected request",
        _ => "unknown status code",
    }
}

/// The 6-byte GETSTATUS reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub status: u8,
    pub poll_timeout: Duration,
    pub state: State,
}

impl Status {
    pub fn parse(bytes: &[u8]) -> Option<Status> {
        let b: &[u8; 6] = bytes.get(..6)?.try_into().ok()?;
        let ms = u32::from_le_bytes([b[1], b[2], b[3], 0]);
        Some(Status {
            status: b[0],
            poll_timeout: Duration::from_millis(ms as u64),
            state: State::from_byte(b[4]),
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "state {:?}, status {:#04x} ({})",
            self.state,
            self.status,
            status_text(self.status)
        )
    }
}
