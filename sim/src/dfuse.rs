//! The device side of DFU 1.1 with ST's DfuSe extension, as the ST system bootloader and ST's
//! USB device library implement it (facts file sections 1.6, 2.2-2.6). This is written from the
//! device's point of view on purpose, apart from the host engine in `crate::dfu`.

use std::time::Duration;

pub const DETACH: u8 = 0;
pub const DNLOAD: u8 = 1;
pub const UPLOAD: u8 = 2;
pub const GETSTATUS: u8 = 3;
pub const CLRSTATUS: u8 = 4;
pub const GETSTATE: u8 = 5;
pub const ABORT: u8 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum State {
    AppIdle = 0,
    AppDetach = 1,
    Idle = 2,
    DnloadSync = 3,
    DnBusy = 4,
    DnloadIdle = 5,
    ManifestSync = 6,
    Manifest = 7,
    ManifestWaitReset = 8,
    UploadIdle = 9,
    Error = 10,
}

pub const OK: u8 = 0x00;
pub const ERR_TARGET: u8 = 0x01;
pub const ERR_WRITE: u8 = 0x03;
pub const ERR_ERASE: u8 = 0x04;
pub const ERR_PROG: u8 = 0x06;
pub const ERR_ADDRESS: u8 = 0x08;
pub const ERR_VENDOR: u8 = 0x0B;
pub const ERR_UNKNOWN: u8 = 0x0E;
pub const ERR_STALLEDPKT: u8 = 0x0F;

/// How one bootloader's DfuSe function behaves.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DfuseConfig {
    pub transfer_size: u16,
    pub alt_names: Vec<String>,
    /// Get Commands answer (UPLOAD block 0).
    pub commands: Vec<u8>,
    pub default_address: u32,
    /// bwPollTimeout advertised after an erase command and after a data block.
    pub poll_erase: Duration,
    pub poll_program: Duration,
    pub poll_command: Duration,
    /// bmAttributes of the functional descriptor.
    pub attributes: u8,
    pub detach_timeout_ms: u16,
}

/// A request the function wants the firmware around it to carry out.
pub trait DfuMemory {
    fn erase(&mut self, address: u32) -> Result<(), u8>;
    fn mass_erase(&mut self) -> Result<(), u8>;
    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), u8>;
    fn read(&mut self, address: u32, len: usize) -> Result<Vec<u8>, u8>;
    fn read_unprotect(&mut self) -> Result<(), u8>;
    /// The last write asked for a reset once its status has gone out (option bytes).
    fn take_reset(&mut self) -> bool {
        false
    }
}

/// What the firmware must do once a reply has gone out.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// Manifestation: leave DFU and start the code at this address (or reset).
    Leave {
        address: u32,
    },
    /// The device resets without answering again (read unprotect).
    Reset,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Pending {
    Command(Vec<u8>),
    Data { block: u16, data: Vec<u8> },
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DfuseFunction {
    pub config: DfuseConfig,
    pub state: State,
    pub status: u8,
    pub address: u32,
    pending: Option<Pending>,
    poll: Duration,
    /// The alternate setting the host selected (which memory the requests reach).
    #[serde(default)]
    pub alt: u8,
}

pub struct Stall;

impl DfuseFunction {
    pub fn new(config: DfuseConfig) -> Self {
        let address = config.default_address;
        Self {
            config,
            state: State::Idle,
            status: OK,
            address,
            pending: None,
            poll: Duration::ZERO,
            alt: 0,
        }
    }

    /// SET_INTERFACE: a different memory, and the request state starts over.
    pub fn select_alt(&mut self, alt: u8) -> Result<(), Stall> {
        if alt as usize >= self.config.alt_names.len() {
            return Err(Stall);
        }
        self.alt = alt;
        Ok(())
    }

    fn fail(&mut self, status: u8) {
        self.state = State::Error;
        self.status = status;
        self.pending = None;
    }

    fn stall(&mut self) -> Result<Vec<u8>, Stall> {
        self.fail(ERR_STALLEDPKT);
        Err(Stall)
    }

    /// A class request to the DFU interface. `data` is the OUT data stage; `length` the IN
    /// wLength.
    pub fn request(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        length: u16,
        memory: &mut dyn DfuMemory,
    ) -> Result<(Vec<u8>, After), Stall> {
        if self.state == State::Error && !matches!(request, GETSTATUS | GETSTATE | CLRSTATUS) {
            return self.stall().map(|v| (v, After::Nothing));
        }
        let reply = match request {
            DNLOAD => self.dnload(value, data).map(|_| Vec::new()),
            UPLOAD => self.upload(value, length, memory),
            GETSTATUS => return Ok(self.getstatus(memory)),
            CLRSTATUS => {
                // ST's library answers CLRSTATUS outside dfuERROR by entering it (facts 1.6).
                if self.state == State::Error {
                    self.state = State::Idle;
                    self.status = OK;
                } else {
                    self.fail(ERR_UNKNOWN);
                }
                Ok(Vec::new())
            }
            GETSTATE => Ok(vec![self.state as u8]),
            ABORT => match self.state {
                State::Idle
                | State::DnloadSync
                | State::DnloadIdle
                | State::ManifestSync
                | State::UploadIdle => {
                    self.state = State::Idle;
                    self.pending = None;
                    Ok(Vec::new())
                }
                _ => self.stall(),
            },
            _ => self.stall(),
        }?;
        Ok((reply, After::Nothing))
    }

    fn dnload(&mut self, block: u16, data: &[u8]) -> Result<(), Stall> {
        if !matches!(self.state, State::Idle | State::DnloadIdle) {
            return self.stall().map(drop);
        }
        if data.is_empty() {
            self.state = State::ManifestSync;
            return Ok(());
        }
        if data.len() > self.config.transfer_size as usize || block == 1 {
            return self.stall().map(drop);
        }
        if block == 0 && !matches!(data.len(), 1 | 5) {
            return self.stall().map(drop);
        }
        self.pending = Some(if block == 0 {
            Pending::Command(data.to_vec())
        } else {
            Pending::Data {
                block,
                data: data.to_vec(),
            }
        });
        self.state = State::DnloadSync;
        Ok(())
    }

    fn upload(
        &mut self,
        block: u16,
        length: u16,
        memory: &mut dyn DfuMemory,
    ) -> Result<Vec<u8>, Stall> {
        if !matches!(self.state, State::Idle | State::UploadIdle) {
            return self.stall();
        }
        match block {
            0 => {
                self.state = State::Idle;
                Ok(self
                    .config
                    .commands
                    .iter()
                    .copied()
                    .take(length as usize)
                    .collect())
            }
            1 => self.stall(),
            _ => {
                let len = length.min(self.config.transfer_size) as usize;
                let address = self.block_address(block);
                match memory.read(address, len) {
                    Ok(bytes) => {
                        self.state = State::UploadIdle;
                        Ok(bytes)
                    }
                    Err(status) => {
                        self.fail(status);
                        Err(Stall)
                    }
                }
            }
        }
    }

    fn block_address(&self, block: u16) -> u32 {
        // address = pointer + (wBlockNum - 2) * wTransferSize (facts 2.4)
        self.address
            .wrapping_add((block as u32 - 2) * self.config.transfer_size as u32)
    }

    fn status_reply(&self) -> Vec<u8> {
        let ms = self.poll.as_millis().min(0xFF_FFFF) as u32;
        let t = ms.to_le_bytes();
        vec![self.status, t[0], t[1], t[2], self.state as u8, 0]
    }

    fn getstatus(&mut self, memory: &mut dyn DfuMemory) -> (Vec<u8>, After) {
        match self.state {
            State::DnloadSync => match self.pending.take() {
                Some(pending) => {
                    // Commands and writes run when the first GETSTATUS arrives; that reply
                    // says dfuDNBUSY with the advertised poll timeout (facts 2.2, 2.6).
                    self.poll = match &pending {
                        Pending::Command(c) if c[0] == 0x41 => self.config.poll_erase,
                        Pending::Command(_) => self.config.poll_command,
                        Pending::Data { .. } => self.config.poll_program,
                    };
                    self.state = State::DnBusy;
                    let reply = self.status_reply();
                    let after = self.execute(pending, memory);
                    if self.state == State::DnBusy {
                        self.state = State::DnloadSync;
                    }
                    (reply, after)
                }
                None => {
                    self.state = State::DnloadIdle;
                    self.poll = Duration::ZERO;
                    (self.status_reply(), After::Nothing)
                }
            },
            State::ManifestSync => {
                self.state = State::Manifest;
                self.poll = Duration::from_millis(1);
                let reply = self.status_reply();
                (
                    reply,
                    After::Leave {
                        address: self.address,
                    },
                )
            }
            _ => (self.status_reply(), After::Nothing),
        }
    }

    fn execute(&mut self, pending: Pending, memory: &mut dyn DfuMemory) -> After {
        let result = match pending {
            Pending::Command(cmd) => match (cmd[0], cmd.len()) {
                (0x21, 5) => {
                    self.address = u32::from_le_bytes([cmd[1], cmd[2], cmd[3], cmd[4]]);
                    Ok(())
                }
                (0x41, 5) => memory.erase(u32::from_le_bytes([cmd[1], cmd[2], cmd[3], cmd[4]])),
                (0x41, 1) => memory.mass_erase(),
                (0x92, 1) if self.config.commands.contains(&0x92) => {
                    return match memory.read_unprotect() {
                        Ok(()) => After::Reset,
                        Err(status) => {
                            self.fail(status);
                            After::Nothing
                        }
                    };
                }
                _ => Err(ERR_TARGET),
            },
            Pending::Data { block, data } => memory.write(self.block_address(block), &data),
        };
        if let Err(status) = result {
            self.fail(status);
        } else if memory.take_reset() {
            return After::Reset;
        }
        After::Nothing
    }

    /// A USB bus reset while in DFU mode.
    pub fn usb_reset(&mut self) {
        self.state = State::Idle;
        self.status = OK;
        self.pending = None;
    }
}
