//! Encoding and decoding of requests and replies (tags and field order).

use super::*;

fn option_bool(w: &mut Writer, v: Option<bool>) {
    w.u8(match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
}

fn read_option_bool(r: &mut Reader, what: &str) -> Result<Option<bool>, WireError> {
    match r.u8(what)? {
        0 => Ok(None),
        1 => Ok(Some(false)),
        2 => Ok(Some(true)),
        v => Err(WireError(format!("{what}: {v} is not 0, 1 or 2"))),
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Request::Hello { version, client } => w.u8(1).u32(*version).str(client),
            Request::List => w.u8(2),
            Request::Open { index, session } => w.u8(3).u32(*index).u64(*session),
            Request::Close { handle } => w.u8(4).u32(*handle),
            Request::Control {
                handle,
                request_type,
                request,
                value,
                index,
                length,
                data,
                timeout_ms,
            } => w
                .u8(5)
                .u32(*handle)
                .u8(*request_type)
                .u8(*request)
                .u16(*value)
                .u16(*index)
                .u16(*length)
                .bytes(data)
                .u32(*timeout_ms),
            Request::SetAlt {
                handle,
                interface,
                alt,
            } => w.u8(6).u32(*handle).u8(*interface).u8(*alt),
            Request::Reset { handle } => w.u8(7).u32(*handle),
            Request::Power { fixture, on, boot0 } => {
                w.u8(8).str(fixture).bool(*on);
                option_bool(&mut w, *boot0);
                &mut w
            }
            Request::Cut { fixture, at, when } => {
                w.u8(9).str(fixture);
                match at {
                    CutAt::Now => w.u8(0).u64(0),
                    CutAt::Request(n) => w.u8(1).u64(*n),
                    CutAt::Op(n) => w.u8(2).u64(*n),
                };
                w.u8(*when as u8)
            }
            Request::Status { fixture } => w.u8(10).str(fixture),
            Request::Flush => w.u8(11),
            Request::Shutdown => w.u8(12),
        };
        w.0
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        let request = match r.u8("request tag")? {
            1 => Request::Hello {
                version: r.u32("version")?,
                client: r.str("client")?,
            },
            2 => Request::List,
            3 => Request::Open {
                index: r.u32("index")?,
                session: r.u64("session")?,
            },
            4 => Request::Close {
                handle: r.u32("handle")?,
            },
            5 => Request::Control {
                handle: r.u32("handle")?,
                request_type: r.u8("bmRequestType")?,
                request: r.u8("bRequest")?,
                value: r.u16("wValue")?,
                index: r.u16("wIndex")?,
                length: r.u16("wLength")?,
                data: r.bytes("data")?,
                timeout_ms: r.u32("timeout")?,
            },
            6 => Request::SetAlt {
                handle: r.u32("handle")?,
                interface: r.u8("interface")?,
                alt: r.u8("alt")?,
            },
            7 => Request::Reset {
                handle: r.u32("handle")?,
            },
            8 => Request::Power {
                fixture: r.str("fixture")?,
                on: r.bool("on")?,
                boot0: read_option_bool(&mut r, "boot0")?,
            },
            9 => {
                let fixture = r.str("fixture")?;
                let kind = r.u8("cut kind")?;
                let n = r.u64("cut count")?;
                let at = match kind {
                    0 => CutAt::Now,
                    1 => CutAt::Request(n),
                    2 => CutAt::Op(n),
                    k => return Err(WireError(format!("unknown cut kind {k}"))),
                };
                let when = match r.u8("cut when")? {
                    0 => CutWhen::Before,
                    1 => CutWhen::Inside,
                    2 => CutWhen::After,
                    k => return Err(WireError(format!("unknown cut moment {k}"))),
                };
                Request::Cut { fixture, at, when }
            }
            10 => Request::Status {
                fixture: r.str("fixture")?,
            },
            11 => Request::Flush,
            12 => Request::Shutdown,
            t => return Err(WireError(format!("unknown request tag {t}"))),
        };
        r.end()?;
        Ok(request)
    }
}

fn write_status(w: &mut Writer, s: &FixtureStatus) {
    w.str(&s.fixture)
        .str(&s.port)
        .u64(s.unit)
        .bool(s.powered)
        .bool(s.boot0)
        .bool(s.on_usb)
        .str(&s.firmware)
        .u8(s.dfu_state.unwrap_or(0xFF))
        .u64(s.usb_requests)
        .u64(s.flash_ops)
        .str(&s.cut);
}

fn read_status(r: &mut Reader) -> Result<FixtureStatus, WireError> {
    Ok(FixtureStatus {
        fixture: r.str("fixture")?,
        port: r.str("port")?,
        unit: r.u64("unit")?,
        powered: r.bool("powered")?,
        boot0: r.bool("boot0")?,
        on_usb: r.bool("on_usb")?,
        firmware: r.str("firmware")?,
        dfu_state: Some(r.u8("dfu state")?).filter(|s| *s != 0xFF),
        usb_requests: r.u64("usb requests")?,
        flash_ops: r.u64("flash ops")?,
        cut: r.str("cut")?,
    })
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Reply::Error { kind, message } => w.u8(0).u8(*kind as u8).str(message),
            Reply::Ok => w.u8(1),
            Reply::Hello { version, server } => w.u8(2).u32(*version).str(server),
            Reply::Devices(devices) => {
                w.u8(3).u32(devices.len() as u32);
                for d in devices {
                    w.str(&d.fixture)
                        .u32(d.index)
                        .u64(d.session)
                        .u8(d.bus)
                        .bytes(&d.ports)
                        .u8(d.address)
                        .bytes(&d.device)
                        .bytes(&d.config);
                }
                &mut w
            }
            Reply::Opened { handle } => w.u8(4).u32(*handle),
            Reply::Data(data) => w.u8(5).bytes(data),
            Reply::Reset { same } => w.u8(6).bool(*same),
            Reply::Status(all) => {
                w.u8(7).u32(all.len() as u32);
                for s in all {
                    write_status(&mut w, s);
                }
                &mut w
            }
            Reply::Armed { description } => w.u8(8).str(description),
        };
        w.0
    }

    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        let reply = match r.u8("reply tag")? {
            0 => Reply::Error {
                kind: ErrorKind::from_u8(r.u8("error kind")?)?,
                message: r.str("message")?,
            },
            1 => Reply::Ok,
            2 => Reply::Hello {
                version: r.u32("version")?,
                server: r.str("server")?,
            },
            3 => {
                let n = r.u32("device count")?;
                let mut devices = Vec::new();
                for _ in 0..n {
                    devices.push(DeviceEntry {
                        fixture: r.str("fixture")?,
                        index: r.u32("index")?,
                        session: r.u64("session")?,
                        bus: r.u8("bus")?,
                        ports: r.bytes("ports")?,
                        address: r.u8("address")?,
                        device: r.bytes("device descriptor")?,
                        config: r.bytes("config descriptor")?,
                    });
                }
                Reply::Devices(devices)
            }
            4 => Reply::Opened {
                handle: r.u32("handle")?,
            },
            5 => Reply::Data(r.bytes("data")?),
            6 => Reply::Reset {
                same: r.bool("same")?,
            },
            7 => {
                let n = r.u32("status count")?;
                let mut all = Vec::new();
                for _ in 0..n {
                    all.push(read_status(&mut r)?);
                }
                Reply::Status(all)
            }
            8 => Reply::Armed {
                description: r.str("description")?,
            },
            t => return Err(WireError(format!("unknown reply tag {t}"))),
        };
        r.end()?;
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_request() -> Vec<Request> {
        vec![
            Request::Hello {
                version: VERSION,
                client: "dfu-util".into(),
            },
            Request::List,
            Request::Open {
                index: 3,
                session: 77,
            },
            Request::Close { handle: 9 },
            Request::Control {
                handle: 1,
                request_type: 0xA1,
                request: 3,
                value: 0,
                index: 0,
                length: 6,
                data: vec![],
                timeout_ms: 5000,
            },
            Request::Control {
                handle: 1,
                request_type: 0x21,
                request: 1,
                value: 2,
                index: 0,
                length: 3,
                data: vec![1, 2, 3],
                timeout_ms: 0,
            },
            Request::SetAlt {
                handle: 2,
                interface: 0,
                alt: 1,
            },
            Request::Reset { handle: 2 },
            Request::Power {
                fixture: "rom".into(),
                on: true,
                boot0: Some(true),
            },
            Request::Power {
                fixture: "rom".into(),
                on: false,
                boot0: None,
            },
            Request::Cut {
                fixture: "rom".into(),
                at: CutAt::Request(12),
                when: CutWhen::Inside,
            },
            Request::Cut {
                fixture: "x".into(),
                at: CutAt::Now,
                when: CutWhen::Before,
            },
            Request::Cut {
                fixture: "x".into(),
                at: CutAt::Op(2),
                when: CutWhen::After,
            },
            Request::Status { fixture: "".into() },
            Request::Flush,
            Request::Shutdown,
        ]
    }

    fn every_reply() -> Vec<Reply> {
        vec![
            Reply::error(ErrorKind::Stall, "stalled"),
            Reply::Ok,
            Reply::Hello {
                version: 1,
                server: "station".into(),
            },
            Reply::Devices(vec![DeviceEntry {
                fixture: "rom".into(),
                index: 0,
                session: 4,
                bus: 1,
                ports: vec![2],
                address: 5,
                device: vec![18, 1],
                config: vec![9, 2, 9, 0],
            }]),
            Reply::Opened { handle: 3 },
            Reply::Data(vec![0, 1, 2]),
            Reply::Reset { same: false },
            Reply::Status(vec![FixtureStatus {
                fixture: "rom".into(),
                port: "1-1".into(),
                unit: 1,
                powered: true,
                boot0: true,
                on_usb: true,
                firmware: "ST system bootloader (DFU)".into(),
                dfu_state: Some(2),
                usb_requests: 40,
                flash_ops: 3,
                cut: String::new(),
            }]),
            Reply::Armed {
                description: "at request 52".into(),
            },
        ]
    }

    #[test]
    fn every_message_survives_a_round_trip() {
        for r in every_request() {
            assert_eq!(Request::decode(&r.encode()), Ok(r.clone()), "{r:?}");
        }
        for r in every_reply() {
            assert_eq!(Reply::decode(&r.encode()), Ok(r.clone()), "{r:?}");
        }
    }

    #[test]
    fn truncated_or_padded_messages_are_errors_not_panics() {
        for r in every_request() {
            let bytes = r.encode();
            for cut in 0..bytes.len() {
                assert!(
                    Request::decode(&bytes[..cut]).is_err(),
                    "{r:?} cut at {cut}"
                );
            }
            let mut padded = bytes.clone();
            padded.push(0);
            assert!(
                Request::decode(&padded)
                    .unwrap_err()
                    .0
                    .contains("unexpected")
            );
        }
        assert!(
            Reply::decode(&[42])
                .unwrap_err()
                .0
                .contains("unknown reply tag 42")
        );
    }

    #[test]
    fn frames_carry_payloads_and_refuse_oversized_lengths() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc").unwrap();
        write_frame(&mut buf, b"").unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_frame(&mut r).unwrap(), Some(vec![]));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(read_frame(&mut &huge[..]).is_err());
        assert!(read_frame(&mut &[1u8, 0][..]).is_err(), "a torn length");
    }
}
