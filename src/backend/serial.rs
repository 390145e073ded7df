//! The serial-port seam over the `serialport` crate (a CDC console, a relay board).

use std::io::{Read, Write};
use std::time::Duration;

use crate::hw::{HwError, SerialPort};

pub struct SerialportPort {
    port: Box<dyn serialport::SerialPort>,
}

impl SerialportPort {
    pub fn open(path: &str, baud: u32) -> Result<Self, HwError> {
        serialport::new(path, baud)
            .timeout(Duration::from_millis(100))
            .open()
            .map(|port| Self { port })
            .map_err(|e| match e.kind() {
                serialport::ErrorKind::NoDevice => {
                    HwError::NotFound(format!("no serial port {path}: {e}"))
                }
                serialport::ErrorKind::Io(std::io::ErrorKind::NotFound) => {
                    HwError::NotFound(format!("no serial port {path}"))
                }
                serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => HwError::Busy(
                    format!("no permission to open {path} (add the user to the dialout group)"),
                ),
                _ => HwError::Backend(format!("cannot open serial port {path}: {e}")),
            })
    }

    /// An already open port (one side of a pty pair, in tests).
    pub fn from_tty(port: serialport::TTYPort) -> Self {
        Self {
            port: Box::new(port),
        }
    }
}

impl SerialPort for SerialportPort {
    fn write_all(&mut self, data: &[u8]) -> Result<(), HwError> {
        self.port
            .write_all(data)
            .and_then(|()| self.port.flush())
            .map_err(|e| HwError::Backend(format!("serial write: {e}")))
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, HwError> {
        self.port
            .set_timeout(timeout)
            .map_err(|e| HwError::Backend(format!("serial: {e}")))?;
        match self.port.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) => Err(HwError::Backend(format!("serial read: {e}"))),
        }
    }
}

/// A console at a device path, opened at 115200 baud for each exchange.
pub struct SerialConsole {
    pub path: std::path::PathBuf,
    pub dfu_command: String,
}

impl crate::hw::Console for SerialConsole {
    fn open(&self) -> Result<Box<dyn SerialPort>, HwError> {
        Ok(Box::new(SerialportPort::open(
            &self.path.to_string_lossy(),
            115_200,
        )?))
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
    fn dfu_command(&self) -> &str {
        &self.dfu_command
    }
}
