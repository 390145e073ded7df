//! One client connection: requests in, replies out, in order. Handles to devices belong to the
//! connection and close with it.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use sim_wire::{CutAt, CutWhen, DeviceEntry, ErrorKind, Reply, Request};

use super::{Bench, lock};
use crate::hw::{ControlSetup, UsbControl, UsbError};
use crate::sim::fault::{self, Cut, CutPoint};
use crate::sim::usb::{SimUsbBus, SimUsbPipe};

struct Handle {
    index: u32,
    generation: u64,
    pipe: SimUsbPipe,
    /// The device re-enumerated as another device after a reset through this handle.
    gone: bool,
}

struct Connection<'a> {
    bench: &'a Bench,
    handles: HashMap<u32, Handle>,
    next_handle: u32,
}

pub fn serve_connection(bench: &Bench, mut stream: UnixStream) {
    let mut connection = Connection {
        bench,
        handles: HashMap::new(),
        next_handle: 1,
    };
    loop {
        let payload = match sim_wire::read_frame(&mut stream) {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                bench.note(&format!("a client's connection failed: {e}"));
                break;
            }
        };
        let (reply, stop) = match Request::decode(&payload) {
            Ok(Request::Shutdown) => (bench.save_all().map_or_else(io_error, |()| Reply::Ok), true),
            Ok(request) => (connection.answer(request), false),
            Err(e) => (Reply::error(ErrorKind::Invalid, e.to_string()), false),
        };
        if sim_wire::write_frame(&mut stream, &reply.encode()).is_err() {
            break;
        }
        if stop {
            bench.request_stop();
            break;
        }
    }
    // A client that leaves (or dies) has its changes written for the next process.
    if let Err(e) = bench.save_all() {
        bench.note(&e);
    }
}

fn io_error(message: String) -> Reply {
    Reply::error(ErrorKind::Io, message)
}

fn usb_error(e: UsbError) -> Reply {
    let kind = match e {
        UsbError::Stall => ErrorKind::Stall,
        UsbError::Timeout => ErrorKind::Timeout,
        UsbError::NoDevice => ErrorKind::NoDevice,
        UsbError::NotFound(_) => ErrorKind::NotFound,
        _ => ErrorKind::Io,
    };
    Reply::error(kind, e.to_string())
}

fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(ErrorKind::Invalid, message)
}

impl Connection<'_> {
    fn answer(&mut self, request: Request) -> Reply {
        match request {
            Request::Hello { version, .. } if version != sim_wire::VERSION => invalid(format!(
                "this client speaks protocol version {version}; the server speaks {}",
                sim_wire::VERSION
            )),
            Request::Hello { .. } => Reply::Hello {
                version: sim_wire::VERSION,
                server: format!("station {}", env!("CARGO_PKG_VERSION")),
            },
            Request::List => self.list(),
            Request::Open { index, session } => self.open(index, session),
            Request::Close { handle } => match self.handles.remove(&handle) {
                Some(_) => Reply::Ok,
                None => invalid(format!("no handle {handle}")),
            },
            Request::Control {
                handle,
                request_type,
                request,
                value,
                index,
                length,
                data,
                timeout_ms,
            } => {
                let setup = ControlSetup {
                    request_type,
                    request,
                    value,
                    index,
                };
                self.control(handle, setup, length, &data, timeout_ms)
            }
            Request::SetAlt {
                handle,
                interface,
                alt,
            } => self.with_pipe(handle, |pipe| {
                pipe.select_interface(interface, alt).map(|()| Reply::Ok)
            }),
            Request::Reset { handle } => self.reset(handle),
            Request::Power { fixture, on, boot0 } => self.power(&fixture, on, boot0),
            Request::Cut { fixture, at, when } => self.cut(&fixture, at, when),
            Request::Status { fixture } => self.status(&fixture),
            Request::Flush => self.bench.save_all().map_or_else(io_error, |()| Reply::Ok),
            Request::Shutdown => Reply::Ok,
        }
    }

    fn list(&mut self) -> Reply {
        let mut devices = Vec::new();
        for slot in &self.bench.fixtures {
            let mut served = slot.lock();
            if let Err(e) = self.bench.reload_if_changed(&mut served) {
                self.bench.note(&e);
                continue;
            }
            if let Some(session) = served.refresh() {
                devices.push(DeviceEntry {
                    fixture: slot.id.clone(),
                    index: slot.index,
                    session: session.id,
                    bus: 1,
                    ports: vec![(slot.index + 1).min(255) as u8],
                    address: session.address,
                    device: session.seen.device,
                    config: session.seen.config,
                });
            }
        }
        Reply::Devices(devices)
    }

    fn open(&mut self, index: u32, session: u64) -> Reply {
        let Some(slot) = self.bench.by_index(index) else {
            return Reply::error(ErrorKind::NotFound, format!("no device on port {index}"));
        };
        let mut served = slot.lock();
        let (Some(now), Some(mcu)) = (served.refresh(), served.mcu()) else {
            return Reply::error(ErrorKind::NoDevice, format!("{} is not on USB", slot.id));
        };
        if now.id != session {
            return Reply::error(
                ErrorKind::NoDevice,
                format!("{} left the bus since it was listed", slot.id),
            );
        }
        match (SimUsbBus { mcu }).open_epoch(now.seen.epoch) {
            Ok(pipe) => {
                let handle = self.next_handle;
                self.next_handle += 1;
                self.handles.insert(
                    handle,
                    Handle {
                        index,
                        generation: served.generation,
                        pipe,
                        gone: false,
                    },
                );
                Reply::Opened { handle }
            }
            Err(e) => usb_error(e),
        }
    }

    /// Run `f` on an open handle's pipe, if its device is still the one it opened.
    fn with_pipe(
        &mut self,
        handle: u32,
        f: impl FnOnce(&mut SimUsbPipe) -> Result<Reply, UsbError>,
    ) -> Reply {
        let Some(h) = self.handles.get_mut(&handle) else {
            return invalid(format!("no handle {handle}"));
        };
        let Some(slot) = self.bench.by_index(h.index) else {
            return invalid(format!("no device on port {}", h.index));
        };
        if h.gone || slot.lock().generation != h.generation {
            return usb_error(UsbError::NoDevice);
        }
        let reply = f(&mut h.pipe).unwrap_or_else(usb_error);
        slot.lock().changed();
        reply
    }

    fn control(
        &mut self,
        handle: u32,
        setup: ControlSetup,
        length: u16,
        data: &[u8],
        timeout_ms: u32,
    ) -> Reply {
        if let Some(h) = self.handles.get(&handle)
            && let Err(reply) = self.wait_while_busy(h.index, timeout_ms)
        {
            return reply;
        }
        let timeout = Duration::from_millis(timeout_ms as u64);
        self.with_pipe(handle, |pipe| {
            if setup.request_type & 0x80 != 0 {
                pipe.control_in(setup, length, timeout).map(Reply::Data)
            } else {
                pipe.control_out(setup, data, timeout)
                    .map(|()| Reply::Data(Vec::new()))
            }
        })
    }

    /// A device busy with flash work NAKs: wait it out in real time without holding the
    /// fixture, so that `sim cut --now` still lands meanwhile. A wait beyond the transfer's
    /// timeout (0: none) is a timeout, as libusb reports it.
    fn wait_while_busy(&self, index: u32, timeout_ms: u32) -> Result<(), Reply> {
        let Some(slot) = self.bench.by_index(index) else {
            return Ok(());
        };
        let (pace, mcu) = {
            let served = slot.lock();
            (served.pace(), served.mcu())
        };
        let Some(mcu) = mcu else {
            return Ok(());
        };
        let timeout = Duration::from_millis(timeout_ms as u64);
        let mut waited = Duration::ZERO;
        loop {
            let wait = {
                let m = lock(&mcu);
                pace.catch_up(&m);
                pace.wall_until(&m, m.busy_until())
            };
            if wait.is_zero() {
                return Ok(());
            }
            if timeout_ms != 0 && waited + wait > timeout {
                std::thread::sleep(timeout.saturating_sub(waited));
                return Err(usb_error(UsbError::Timeout));
            }
            std::thread::sleep(wait);
            waited += wait;
        }
    }

    fn reset(&mut self, handle: u32) -> Reply {
        let reply = self.with_pipe(handle, |pipe| pipe.reset().map(|()| Reply::Ok));
        if reply != Reply::Ok {
            return reply;
        }
        let Some(h) = self.handles.get_mut(&handle) else {
            return invalid(format!("no handle {handle}"));
        };
        let same = self
            .bench
            .by_index(h.index)
            .is_some_and(|slot| slot.lock().after_reset());
        h.gone = !same;
        Reply::Reset { same }
    }

    /// A fixture by name, with a unit another process may have rewritten taken in first.
    fn fixture(&self, id: &str) -> Result<std::sync::MutexGuard<'_, super::Served>, Reply> {
        let slot = self.bench.fixture(id).map_err(invalid)?;
        let mut served = slot.lock();
        self.bench
            .reload_if_changed(&mut served)
            .map_err(io_error)?;
        Ok(served)
    }

    fn power(&mut self, id: &str, on: bool, boot0: Option<bool>) -> Reply {
        let mut served = match self.fixture(id) {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let Some(mcu) = served.mcu() else {
            return io_error(format!("{id} has no unit"));
        };
        {
            let mut m = lock(&mcu);
            served.pace().catch_up(&m);
            if let Some(high) = boot0 {
                m.boot0 = high;
            }
            m.set_power(on);
        }
        served.changed();
        served.save().map_or_else(io_error, |()| Reply::Ok)
    }

    fn cut(&mut self, id: &str, at: CutAt, when: CutWhen) -> Reply {
        let mut served = match self.fixture(id) {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let Some(mcu) = served.mcu() else {
            return io_error(format!("{id} has no unit"));
        };
        let when_sim = match when {
            CutWhen::Before => fault::CutWhen::Before,
            CutWhen::Inside => fault::CutWhen::Inside,
            CutWhen::After => fault::CutWhen::After,
        };
        let description = {
            let mut m = lock(&mcu);
            served.pace().catch_up(&m);
            match at {
                CutAt::Now => {
                    m.cut = None;
                    m.set_power(false);
                    format!("{id}: power cut now")
                }
                CutAt::Request(n) | CutAt::Op(n) if n == 0 => {
                    return invalid("a cut counts from 1 (the next request or operation)");
                }
                CutAt::Request(n) => {
                    let absolute = m.usb_requests + n;
                    m.schedule_cut(Cut {
                        point: CutPoint::UsbRequest(absolute),
                        when: when_sim,
                    });
                    format!(
                        "{id}: power cut armed {} USB request {absolute} ({n} from now)",
                        moment(when)
                    )
                }
                CutAt::Op(n) => {
                    let absolute = m.flash_ops + n;
                    m.schedule_cut(Cut {
                        point: CutPoint::FlashOp(absolute),
                        when: when_sim,
                    });
                    format!(
                        "{id}: power cut armed {} flash operation {absolute} ({n} from now)",
                        moment(when)
                    )
                }
            }
        };
        served.changed();
        match served.save() {
            Ok(()) => Reply::Armed { description },
            Err(e) => io_error(e),
        }
    }

    fn status(&mut self, id: &str) -> Reply {
        if id.is_empty() {
            let mut all = Vec::new();
            for slot in &self.bench.fixtures {
                let mut served = slot.lock();
                if let Err(e) = self.bench.reload_if_changed(&mut served) {
                    return io_error(e);
                }
                all.push(served.status());
            }
            return Reply::Status(all);
        }
        match self.fixture(id) {
            Ok(mut served) => Reply::Status(vec![served.status()]),
            Err(reply) => reply,
        }
    }
}

fn moment(when: CutWhen) -> &'static str {
    match when {
        CutWhen::Before => "before",
        CutWhen::Inside => "inside",
        CutWhen::After => "after",
    }
}
