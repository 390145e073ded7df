//! The sans-IO download engine: it takes GETSTATUS replies and gives control transfers and
//! waits. The rusb and virtual-bench adapters only carry bytes, which is what makes stopping
//! an update at operation N simple.

use std::time::Duration;

use super::plan::Op;
use super::proto::{self, State, Status};
use crate::config::DfuMode;
use crate::hw::{ControlSetup, REQ_TYPE_CLASS_IN, REQ_TYPE_CLASS_OUT, UsbError};

/// A control transfer the engine wants made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transfer {
    Out { setup: ControlSetup, data: Vec<u8> },
    In { setup: ControlSetup, length: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Transfer(Transfer),
    Sleep(Duration),
    Finished(Result<Finish, DfuError>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Completed,
    /// Stopped on request before operation `at` (the torture campaign's cut).
    Stopped {
        at: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DfuError {
    /// The device reports run-time mode, not DFU mode.
    NotInDfuMode,
    /// The device could not be brought back to dfuIDLE.
    StuckState(Status),
    Usb {
        op: String,
        error: UsbError,
    },
    Device {
        op: String,
        status: Status,
    },
    Protocol(String),
}

impl std::fmt::Display for DfuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DfuError::NotInDfuMode => f.write_str("the device is in run-time mode, not DFU mode"),
            DfuError::StuckState(s) => {
                write!(f, "could not bring the device back to dfuIDLE ({s})")
            }
            DfuError::Usb { op, error } => write!(f, "{op}: {error}"),
            DfuError::Device { op, status } => write!(f, "{op}: device reports {status}"),
            DfuError::Protocol(m) => write!(f, "DFU protocol error: {m}"),
        }
    }
}

impl std::error::Error for DfuError {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Read the state first and recover it (dfuERROR, a stalled pipe, a half-done transfer).
    Recover {
        attempts: u8,
    },
    SendRecovery {
        request: u8,
        attempts: u8,
    },
    Dnload,
    Poll,
    LeaveStatus,
    /// The GETSTATUS after a command that resets the device.
    ResetStatus,
    Done,
}

const MAX_RECOVERY: u8 = 4;
/// A device that answers dfuDNBUSY for ever must not hang the host: a real erase of the
/// largest sector needs a few hundred polls at the shortest interval.
const MAX_POLLS_PER_OP: u32 = 20_000;

pub struct Download {
    ops: Vec<Op>,
    next: usize,
    step: Step,
    pending_sleep: Option<Duration>,
    mode: DfuMode,
    interface: u16,
    stop_before: Option<usize>,
    result: Option<Result<Finish, DfuError>>,
    polls_this_op: u32,
    /// Extra wait after every completed operation (zero in use; the benchmark shows what a
    /// host that dawdles costs).
    poll_margin: Duration,
    pub stats: Stats,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub polls: u64,
    pub blocks: u64,
    pub bytes_written: u64,
    pub bytes_total: u64,
}

fn setup(request_type: u8, request: u8, value: u16, index: u16) -> ControlSetup {
    ControlSetup {
        request_type,
        request,
        value,
        index,
    }
}

impl Download {
    pub fn new(ops: Vec<Op>, mode: DfuMode, interface: u8) -> Self {
        let bytes_total = ops
            .iter()
            .map(|o| match o {
                Op::Write { data, .. } | Op::WriteOptions { data, .. } => data.len() as u64,
                _ => 0,
            })
            .sum();
        Self {
            ops,
            next: 0,
            step: Step::Recover { attempts: 0 },
            pending_sleep: None,
            mode,
            interface: interface as u16,
            stop_before: None,
            result: None,
            polls_this_op: 0,
            poll_margin: Duration::ZERO,
            stats: Stats {
                bytes_total,
                ..Default::default()
            },
        }
    }

    /// Wait this much after every completed operation, beyond what the mode needs.
    pub fn with_poll_margin(mut self, margin: Duration) -> Self {
        self.poll_margin = margin;
        self
    }

    /// Stop before operation `index` runs.
    pub fn stop_before(mut self, index: usize) -> Self {
        self.stop_before = Some(index);
        self
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The operation under way, for progress reports.
    pub fn current(&self) -> Option<&Op> {
        self.ops.get(self.next)
    }

    fn finish(&mut self, r: Result<Finish, DfuError>) {
        self.step = Step::Done;
        self.result = Some(r);
    }

    fn getstatus(&self) -> Action {
        Action::Transfer(Transfer::In {
            setup: setup(REQ_TYPE_CLASS_IN, proto::GETSTATUS, 0, self.interface),
            length: 6,
        })
    }

    fn op_name(&self) -> String {
        self.ops.get(self.next).map_or_else(
            || "start".to_string(),
            |o| format!("operation {} ({o})", self.next),
        )
    }

    pub fn next_action(&mut self) -> Action {
        if let Some(d) = self.pending_sleep.take() {
            return Action::Sleep(d);
        }
        match &self.step {
            Step::Recover { .. } | Step::Poll | Step::LeaveStatus | Step::ResetStatus => {
                self.getstatus()
            }
            Step::SendRecovery { request, .. } => Action::Transfer(Transfer::Out {
                setup: setup(REQ_TYPE_CLASS_OUT, *request, 0, self.interface),
                data: vec![],
            }),
            Step::Dnload => {
                if self.stop_before == Some(self.next) {
                    let at = self.next;
                    self.finish(Ok(Finish::Stopped { at }));
                    return self.next_action();
                }
                let (block, data) = match &self.ops[self.next] {
                    Op::Erase { address } => (
                        0,
                        [&[proto::CMD_ERASE][..], &address.to_le_bytes()].concat(),
                    ),
                    Op::SetAddress { address } => (
                        0,
                        [&[proto::CMD_SET_ADDRESS][..], &address.to_le_bytes()].concat(),
                    ),
                    Op::Write { block, data, .. } | Op::WriteOptions { block, data, .. } => {
                        (*block, data.clone())
                    }
                    Op::Leave => (0, Vec::new()),
                    Op::MassErase => (0, vec![proto::CMD_ERASE]),
                    Op::ReadUnprotect => (0, vec![proto::CMD_READ_UNPROTECT]),
                };
                Action::Transfer(Transfer::Out {
                    setup: setup(REQ_TYPE_CLASS_OUT, proto::DNLOAD, block, self.interface),
                    data,
                })
            }
            Step::Done => Action::Finished(self.result.clone().unwrap_or(Ok(Finish::Completed))),
        }
    }

    fn advance(&mut self) {
        if let Some(Op::Write { data, .. } | Op::WriteOptions { data, .. }) =
            self.ops.get(self.next)
        {
            self.stats.blocks += 1;
            self.stats.bytes_written += data.len() as u64;
        }
        self.next += 1;
        self.polls_this_op = 0;
        if self.next >= self.ops.len() {
            self.finish(Ok(Finish::Completed));
        } else {
            self.step = Step::Dnload;
        }
    }

    fn start_ops(&mut self) {
        if self.ops.is_empty() {
            self.finish(Ok(Finish::Completed));
        } else {
            self.step = Step::Dnload;
        }
    }

    /// Feed the outcome of the transfer the last `next_action` asked for.
    pub fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>) {
        self.stats.requests += 1;
        let step = self.step.clone();
        match step {
            Step::Recover { attempts } => self.on_recover_status(reply, attempts),
            Step::SendRecovery { attempts, .. } => match reply {
                Ok(_) | Err(UsbError::Stall) => {
                    self.step = Step::Recover {
                        attempts: attempts + 1,
                    }
                }
                Err(error) => self.finish(Err(DfuError::Usb {
                    op: "recovery".into(),
                    error,
                })),
            },
            Step::Dnload => match reply {
                Ok(_) => {
                    self.step = match self.ops[self.next] {
                        Op::Leave => Step::LeaveStatus,
                        Op::ReadUnprotect | Op::WriteOptions { .. } => Step::ResetStatus,
                        _ => Step::Poll,
                    };
                }
                Err(error) => {
                    let op = self.op_name();
                    self.finish(Err(DfuError::Usb { op, error }))
                }
            },
            Step::Poll => self.on_poll(reply),
            // The command runs at this GETSTATUS and the device resets after it: the reply,
            // or the device vanishing, both mean it was taken.
            Step::ResetStatus => match reply.map(|b| Status::parse(&b)) {
                Err(UsbError::NoDevice | UsbError::Timeout | UsbError::Stall) => self.advance(),
                Ok(Some(s)) if s.status == 0 && s.state != State::Error => self.advance(),
                Ok(Some(status)) => {
                    let op = self.op_name();
                    self.finish(Err(DfuError::Device { op, status }))
                }
                Ok(None) => self.finish(Err(DfuError::Protocol("short GETSTATUS reply".into()))),
                Err(error) => {
                    let op = self.op_name();
                    self.finish(Err(DfuError::Usb { op, error }))
                }
            },
            Step::LeaveStatus => match reply.map(|b| Status::parse(&b)) {
                // The device may leave the bus before or right after answering.
                Err(UsbError::NoDevice | UsbError::Timeout | UsbError::Stall) => self.advance(),
                Ok(Some(s))
                    if matches!(
                        s.state,
                        State::Manifest
                            | State::ManifestWaitReset
                            | State::Idle
                            | State::ManifestSync
                    ) =>
                {
                    self.advance()
                }
                Ok(Some(status)) => {
                    let op = self.op_name();
                    self.finish(Err(DfuError::Device { op, status }))
                }
                Ok(None) => self.finish(Err(DfuError::Protocol("short GETSTATUS reply".into()))),
                Err(error) => self.finish(Err(DfuError::Usb {
                    op: "leave".into(),
                    error,
                })),
            },
            Step::Done => {}
        }
    }

    fn on_recover_status(&mut self, reply: Result<Vec<u8>, UsbError>, attempts: u8) {
        let status = match reply {
            Ok(bytes) => match Status::parse(&bytes) {
                Some(s) => s,
                None => {
                    return self.finish(Err(DfuError::Protocol("short GETSTATUS reply".into())));
                }
            },
            // A stalled pipe: clear the error state it implies.
            Err(UsbError::Stall) if attempts < MAX_RECOVERY => {
                self.step = Step::SendRecovery {
                    request: proto::CLRSTATUS,
                    attempts,
                };
                return;
            }
            Err(error) => {
                return self.finish(Err(DfuError::Usb {
                    op: "reading the DFU state".into(),
                    error,
                }));
            }
        };
        if attempts >= MAX_RECOVERY {
            return self.finish(Err(DfuError::StuckState(status)));
        }
        match status.state {
            State::Idle if status.status == 0 => self.start_ops(),
            State::AppIdle | State::AppDetach => self.finish(Err(DfuError::NotInDfuMode)),
            State::Error | State::Idle => {
                self.step = Step::SendRecovery {
                    request: proto::CLRSTATUS,
                    attempts,
                }
            }
            State::DnBusy => {
                self.pending_sleep = Some(status.poll_timeout);
                self.step = Step::Recover {
                    attempts: attempts + 1,
                };
            }
            _ => {
                self.step = Step::SendRecovery {
                    request: proto::ABORT,
                    attempts,
                }
            }
        }
    }

    fn on_poll(&mut self, reply: Result<Vec<u8>, UsbError>) {
        self.stats.polls += 1;
        self.polls_this_op += 1;
        // The operation's name only for errors: polls are the engine's hot path.
        if self.polls_this_op > MAX_POLLS_PER_OP {
            let op = self.op_name();
            return self.finish(Err(DfuError::Protocol(format!(
                "{op}: still busy after {MAX_POLLS_PER_OP} polls"
            ))));
        }
        let status = match reply {
            Ok(bytes) => match Status::parse(&bytes) {
                Some(s) => s,
                None => {
                    let op = self.op_name();
                    return self.finish(Err(DfuError::Protocol(format!(
                        "{op}: short GETSTATUS reply"
                    ))));
                }
            },
            Err(error) => {
                let op = self.op_name();
                return self.finish(Err(DfuError::Usb { op, error }));
            }
        };
        if status.status != 0 || status.state == State::Error {
            let op = self.op_name();
            return self.finish(Err(DfuError::Device { op, status }));
        }
        match status.state {
            State::DnBusy => {
                if self.mode == DfuMode::Strict {
                    self.pending_sleep = Some(status.poll_timeout);
                }
                // Fast: ask again at once; the device NAKs until its flash work is done.
            }
            State::DnloadSync => {}
            State::DnloadIdle | State::Idle => {
                if !self.poll_margin.is_zero() {
                    self.pending_sleep = Some(self.poll_margin);
                }
                self.advance()
            }
            _ => {
                let op = self.op_name();
                self.finish(Err(DfuError::Device { op, status }))
            }
        }
    }
}
