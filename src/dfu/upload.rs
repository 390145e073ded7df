//! The sans-IO DfuSe upload engine: SET_ADDRESS, ABORT to dfuIDLE, then UPLOAD blocks
//! 2, 3, 4 … of wTransferSize until the requested length, then ABORT back to dfuIDLE
//! (facts file sections 2.3, 2.4). Recovery to dfuIDLE and the SET_ADDRESS command with its
//! GETSTATUS polling are run by the download engine, so each exists once.

use std::time::Duration;

use super::engine::{Action, DfuError, Download, Finish, Transfer};
use super::plan::Op;
use super::proto::{self, Status};
use crate::config::DfuMode;
use crate::hw::{Clock, ControlSetup, REQ_TYPE_CLASS_IN, REQ_TYPE_CLASS_OUT, UsbControl, UsbError};

/// A recovery plus one SET_ADDRESS takes a handful of requests; more means the device is
/// stuck answering dfuDNBUSY.
const MAX_PRELUDE_REQUESTS: u64 = 64;
/// Setting a pointer is not flash work: a device asking for longer waits than this is stuck.
const MAX_PRELUDE_WAIT: Duration = Duration::from_secs(30);
/// The first data block; block 1 is unused in DfuSe (facts 2.3).
const FIRST_DATA_BLOCK: u16 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// UPLOAD block 0: the device's DfuSe command list.
    Commands,
    Memory {
        start: u32,
        length: u32,
    },
}

enum Step {
    /// Recovery to dfuIDLE and, for memory, SET_ADDRESS at `pointer`.
    Prelude(Box<Download>),
    /// SET_ADDRESS leaves the device in dfuDNLOAD-IDLE; UPLOAD needs dfuIDLE.
    AbortBeforeUpload,
    Upload,
    /// The device stalled an UPLOAD; its status says why (errVENDOR under RDP, ...).
    WhyStalled {
        op: String,
    },
    FinalAbort,
    Done,
}

pub struct Upload {
    interface: u16,
    transfer_size: u16,
    target: Target,
    /// The address the device's pointer holds; block n reads pointer + (n - 2) * size.
    pointer: u32,
    data: Vec<u8>,
    step: Step,
    prelude_wait: Duration,
    result: Option<Result<(), DfuError>>,
}

fn setup(request_type: u8, request: u8, value: u16, index: u16) -> ControlSetup {
    ControlSetup {
        request_type,
        request,
        value,
        index,
    }
}

impl Upload {
    /// Read `length` bytes from `start`.
    pub fn memory(interface: u8, transfer_size: u16, start: u32, length: u32) -> Self {
        let mut engine = Self::new(interface, transfer_size, Target::Memory { start, length });
        if u64::from(start) + u64::from(length) > 1 << 32 {
            engine.finish(Err(DfuError::Protocol(format!(
                "{length} bytes from {start:#010x} run past the 32-bit address space"
            ))));
        } else if length == 0 {
            engine.finish(Ok(()));
        }
        engine
    }

    /// Read the DfuSe command list (UPLOAD block 0).
    pub fn commands(interface: u8, transfer_size: u16) -> Self {
        Self::new(interface, transfer_size, Target::Commands)
    }

    fn new(interface: u8, transfer_size: u16, target: Target) -> Self {
        let pointer = match target {
            Target::Memory { start, .. } => start,
            Target::Commands => 0,
        };
        let mut engine = Self {
            interface: interface.into(),
            transfer_size,
            target,
            pointer,
            data: Vec::new(),
            step: Step::Done,
            prelude_wait: Duration::ZERO,
            result: None,
        };
        if transfer_size == 0 {
            engine.finish(Err(DfuError::Protocol(
                "the device reports wTransferSize 0".into(),
            )));
        } else {
            engine.step = engine.prelude();
        }
        engine
    }

    fn prelude(&self) -> Step {
        let ops = match self.target {
            Target::Commands => Vec::new(),
            Target::Memory { .. } => vec![Op::SetAddress {
                address: self.pointer,
            }],
        };
        // Strict: one command per upload, so honouring bwPollTimeout costs next to nothing.
        Step::Prelude(Box::new(Download::new(
            ops,
            DfuMode::Strict,
            self.interface as u8,
        )))
    }

    /// Bytes read so far, and the total asked for.
    pub fn progress(&self) -> (u64, u64) {
        let total = match self.target {
            Target::Memory { length, .. } => length.into(),
            Target::Commands => 0,
        };
        (self.data.len() as u64, total)
    }

    /// What the device sent; complete once the engine has finished without error.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn finish(&mut self, result: Result<(), DfuError>) {
        self.step = Step::Done;
        self.result = Some(result);
    }

    fn usb_error(&mut self, op: impl Into<String>, error: UsbError) {
        self.finish(Err(DfuError::Usb {
            op: op.into(),
            error,
        }));
    }

    fn out(&self, request: u8) -> Action {
        Action::Transfer(Transfer::Out {
            setup: setup(REQ_TYPE_CLASS_OUT, request, 0, self.interface),
            data: Vec::new(),
        })
    }

    /// The next UPLOAD's block number, address and length.
    fn next_block(&self) -> (u16, u32, u16) {
        match self.target {
            Target::Commands => (0, 0, self.transfer_size),
            Target::Memory { start, length } => {
                let done = self.data.len() as u32;
                let address = start + done;
                let index = (address - self.pointer) / u32::from(self.transfer_size);
                let len = (length - done).min(self.transfer_size.into()) as u16;
                (FIRST_DATA_BLOCK + index as u16, address, len)
            }
        }
    }

    pub fn next_action(&mut self) -> Action {
        match &mut self.step {
            Step::Prelude(download) => {
                let action = download.next_action();
                let requests = download.stats.requests;
                match action {
                    Action::Finished(Ok(_)) => {
                        self.step = match self.target {
                            Target::Commands => Step::Upload,
                            Target::Memory { .. } => Step::AbortBeforeUpload,
                        };
                        self.next_action()
                    }
                    Action::Finished(Err(e)) => {
                        self.finish(Err(e));
                        self.next_action()
                    }
                    Action::Sleep(d) if self.prelude_wait + d > MAX_PRELUDE_WAIT => {
                        self.finish(Err(DfuError::Protocol(format!(
                            "the device kept asking to wait ({d:?} more) while setting the \
                             address pointer to {:#010x}",
                            self.pointer
                        ))));
                        self.next_action()
                    }
                    Action::Sleep(d) => {
                        self.prelude_wait += d;
                        Action::Sleep(d)
                    }
                    Action::Transfer(_) if requests >= MAX_PRELUDE_REQUESTS => {
                        self.finish(Err(DfuError::Protocol(format!(
                            "no dfuIDLE after {requests} requests while setting the address \
                             pointer to {:#010x}",
                            self.pointer
                        ))));
                        self.next_action()
                    }
                    transfer => transfer,
                }
            }
            Step::AbortBeforeUpload | Step::FinalAbort => self.out(proto::ABORT),
            Step::Upload => {
                let (block, _, length) = self.next_block();
                Action::Transfer(Transfer::In {
                    setup: setup(REQ_TYPE_CLASS_IN, proto::UPLOAD, block, self.interface),
                    length,
                })
            }
            Step::WhyStalled { .. } => Action::Transfer(Transfer::In {
                setup: setup(REQ_TYPE_CLASS_IN, proto::GETSTATUS, 0, self.interface),
                length: 6,
            }),
            Step::Done => Action::Finished(
                self.result
                    .clone()
                    .unwrap_or(Ok(()))
                    .map(|()| Finish::Completed),
            ),
        }
    }

    /// Feed the outcome of the transfer the last `next_action` asked for.
    pub fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>) {
        match &mut self.step {
            Step::Prelude(download) => download.on_reply(reply),
            Step::AbortBeforeUpload => match reply {
                Ok(_) => self.step = Step::Upload,
                Err(e) => self.usb_error("ABORT after SET_ADDRESS", e),
            },
            Step::Upload => self.on_upload(reply),
            Step::WhyStalled { op } => {
                let op = std::mem::take(op);
                match reply.ok().and_then(|b| Status::parse(&b)) {
                    Some(status) if status.status != 0 => {
                        self.finish(Err(DfuError::Device { op, status }))
                    }
                    _ => self.usb_error(op, UsbError::Stall),
                }
            }
            Step::FinalAbort => match reply {
                Ok(_) => self.finish(Ok(())),
                Err(e) => self.usb_error("ABORT after the upload", e),
            },
            Step::Done => {}
        }
    }

    fn on_upload(&mut self, reply: Result<Vec<u8>, UsbError>) {
        let (block, address, length) = self.next_block();
        let op = match self.target {
            Target::Commands => "UPLOAD block 0 (Get Commands)".to_string(),
            Target::Memory { .. } => format!("UPLOAD block {block} at {address:#010x}"),
        };
        let bytes = match reply {
            Ok(bytes) => bytes,
            Err(UsbError::Stall) => {
                self.step = Step::WhyStalled { op };
                return;
            }
            Err(e) => return self.usb_error(op, e),
        };
        let Target::Memory {
            start,
            length: total,
        } = self.target
        else {
            self.data = bytes;
            self.step = Step::FinalAbort;
            return;
        };
        // A short block ends a DFU upload early; the caller asked for every byte.
        if bytes.len() != usize::from(length) {
            return self.finish(Err(DfuError::Protocol(format!(
                "{op}: the device sent {} of {length} bytes (end of readable memory?)",
                bytes.len()
            ))));
        }
        self.data.extend_from_slice(&bytes);
        if self.data.len() as u64 >= u64::from(total) {
            self.step = Step::FinalAbort;
        } else if block == u16::MAX {
            // Block numbers are 16 bits: point the device at the next byte and start over.
            self.pointer = start + self.data.len() as u32;
            self.step = self.prelude();
        }
    }
}

impl super::host::Machine for Upload {
    fn next_action(&mut self) -> Action {
        Upload::next_action(self)
    }
    fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>) {
        Upload::on_reply(self, reply)
    }
    fn progress(&self) -> (u64, u64) {
        Upload::progress(self)
    }
}

/// Run an upload engine to its end, reporting (bytes read, total) as it goes.
fn drive(
    engine: &mut Upload,
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), DfuError> {
    super::host::drive(engine, pipe, clock, progress).map(drop)
}

/// Read `length` bytes from `address` over DfuSe UPLOAD, leaving the device in dfuIDLE.
pub fn upload(
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    interface: u8,
    transfer_size: u16,
    address: u32,
    length: u32,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, DfuError> {
    let mut engine = Upload::memory(interface, transfer_size, address, length);
    drive(&mut engine, pipe, clock, progress)?;
    Ok(engine.into_data())
}

/// The device's DfuSe command list (UPLOAD block 0), e.g. `00 21 41 92` on an ST ROM.
pub fn commands(
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    interface: u8,
    transfer_size: u16,
) -> Result<Vec<u8>, DfuError> {
    let mut engine = Upload::commands(interface, transfer_size);
    drive(&mut engine, pipe, clock, &mut |_, _| {})?;
    Ok(engine.into_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: [u8; 6] = [0, 0, 0, 0, 2, 0];

    /// A request as sent: bRequest, wValue, OUT data.
    type Request = (u8, u16, Vec<u8>);

    /// Run the engine against scripted replies: GETSTATUS says dfuIDLE, or `after_upload`
    /// right after an UPLOAD; UPLOAD answers `upload(block, length)`. Returns the requests
    /// and the result.
    fn run(
        mut engine: Upload,
        mut upload: impl FnMut(u16, u16) -> Result<Vec<u8>, UsbError>,
        after_upload: [u8; 6],
    ) -> (Vec<Request>, Result<Vec<u8>, DfuError>) {
        let mut seen: Vec<Request> = Vec::new();
        for _ in 0..1_000_000 {
            let previous = seen.last().map(|(request, ..)| *request);
            let reply = match engine.next_action() {
                Action::Transfer(Transfer::Out { setup, data }) => {
                    seen.push((setup.request, setup.value, data));
                    Ok(Vec::new())
                }
                Action::Transfer(Transfer::In { setup, length }) => {
                    seen.push((setup.request, setup.value, Vec::new()));
                    match setup.request {
                        proto::UPLOAD => upload(setup.value, length),
                        _ if previous == Some(proto::UPLOAD) => Ok(after_upload.to_vec()),
                        _ => Ok(IDLE.to_vec()),
                    }
                }
                Action::Sleep(_) => continue,
                Action::Finished(r) => return (seen, r.map(|_| engine.into_data())),
            };
            engine.on_reply(reply);
        }
        panic!("the engine never finished");
    }

    fn full(block: u16, length: u16) -> Result<Vec<u8>, UsbError> {
        Ok(vec![block as u8; length as usize])
    }

    #[test]
    fn sets_the_address_aborts_then_uploads_numbered_blocks_and_aborts() {
        let (seen, data) = run(Upload::memory(0, 1024, 0x0800_4000, 2600), full, IDLE);
        let requests: Vec<(u8, u16)> = seen.iter().map(|(r, v, _)| (*r, *v)).collect();
        use proto::{ABORT, DNLOAD, GETSTATUS, UPLOAD};
        assert_eq!(
            requests,
            [
                (GETSTATUS, 0),
                (DNLOAD, 0),
                (GETSTATUS, 0),
                (ABORT, 0),
                (UPLOAD, 2),
                (UPLOAD, 3),
                (UPLOAD, 4),
                (ABORT, 0)
            ]
        );
        assert_eq!(seen[1].2, [0x21, 0x00, 0x40, 0x00, 0x08]);
        let data = data.unwrap();
        assert_eq!(data.len(), 2600);
        assert_eq!(&data[2048..], &[4u8; 552][..], "the last block is shorter");
    }

    #[test]
    fn block_numbers_that_would_wrap_restart_from_a_new_address() {
        let blocks = u32::from(u16::MAX - FIRST_DATA_BLOCK) + 1;
        let (seen, data) = run(Upload::memory(0, 1, 0x100, blocks + 3), full, IDLE);
        assert_eq!(data.unwrap().len() as u32, blocks + 3);
        let pointers: Vec<&[u8]> = seen
            .iter()
            .filter(|(r, v, _)| *r == proto::DNLOAD && *v == 0)
            .map(|(_, _, d)| &d[..])
            .collect();
        let second = (0x100 + blocks).to_le_bytes();
        assert_eq!(pointers.len(), 2);
        assert_eq!(pointers[1][1..], second);
        let last = seen.iter().rev().find(|(r, ..)| *r == proto::UPLOAD);
        assert_eq!(last.map(|(_, v, _)| *v), Some(4));
    }

    #[test]
    fn a_stalled_upload_reports_the_device_status() {
        let vendor = [0x0B, 0, 0, 0, 10, 0];
        let (_, r) = run(
            Upload::memory(0, 2048, 0x0800_0000, 16),
            |_, _| Err(UsbError::Stall),
            vendor,
        );
        match r {
            Err(DfuError::Device { op, status }) => {
                assert_eq!(status.status, 0x0B);
                assert!(op.contains("UPLOAD block 2 at 0x08000000"), "{op}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_block_is_an_error_not_truncated_data() {
        let (_, r) = run(
            Upload::memory(0, 64, 0x2000_0000, 100),
            |_, _| Ok(vec![0; 10]),
            IDLE,
        );
        assert!(matches!(r, Err(DfuError::Protocol(m)) if m.contains("10 of 64")));
    }

    #[test]
    fn impossible_requests_fail_without_touching_the_device() {
        for engine in [
            Upload::memory(0, 0, 0x0800_0000, 16),
            Upload::memory(0, 1024, 0xFFFF_FFF0, 17),
        ] {
            let (seen, r) = run(engine, full, IDLE);
            assert!(seen.is_empty());
            assert!(matches!(r, Err(DfuError::Protocol(_))), "{r:?}");
        }
        let (seen, r) = run(Upload::memory(0, 1024, 0x0800_0000, 0), full, IDLE);
        assert!(seen.is_empty());
        assert_eq!(r, Ok(Vec::new()));
    }
}
