//! Power switches for real benches, behind `hw::PowerSwitch`:
//! - `HubPortPower`: a USB hub's per-port power (USB 2.0 11.24.2: SET_FEATURE /
//!   CLEAR_FEATURE PORT_POWER to the hub's port), the uhubctl approach. Only hubs with real
//!   per-port switching cut the power; ganged hubs switch every port.
//! - `RelayPower`: a serial relay board, with the command bytes from the station config.
//! - `ManualPower`: asks the operator at the terminal to plug or unplug the unit.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::hw::{ControlSetup, HwError, PowerSwitch, SerialPort, UsbControl};

/// Class request to "other" (a hub port): bmRequestType 0x23.
const TO_HUB_PORT: u8 = 0x23;
const CLEAR_FEATURE: u8 = 0x01;
const SET_FEATURE: u8 = 0x03;
const PORT_POWER: u16 = 8;

pub struct HubPortPower {
    hub: Box<dyn UsbControl>,
    port: u8,
    on: bool,
}

impl HubPortPower {
    /// The port starts as powered (a hub powers its ports when configured).
    pub fn new(hub: Box<dyn UsbControl>, port: u8) -> Self {
        Self {
            hub,
            port,
            on: true,
        }
    }
}

impl PowerSwitch for HubPortPower {
    fn set_power(&mut self, on: bool) -> Result<(), HwError> {
        let setup = ControlSetup {
            request_type: TO_HUB_PORT,
            request: if on { SET_FEATURE } else { CLEAR_FEATURE },
            value: PORT_POWER,
            index: self.port as u16,
        };
        self.hub
            .control_out(setup, &[], Duration::from_secs(1))
            .map_err(|e| {
                HwError::Backend(format!(
                    "switching hub port {} {}: {e}",
                    self.port,
                    if on { "on" } else { "off" }
                ))
            })?;
        self.on = on;
        Ok(())
    }

    fn is_on(&self) -> bool {
        self.on
    }
}

pub struct RelayPower {
    port: Box<dyn SerialPort>,
    on_bytes: Vec<u8>,
    off_bytes: Vec<u8>,
    on: bool,
}

impl RelayPower {
    pub fn new(port: Box<dyn SerialPort>, on_bytes: Vec<u8>, off_bytes: Vec<u8>) -> Self {
        Self {
            port,
            on_bytes,
            off_bytes,
            on: true,
        }
    }
}

impl PowerSwitch for RelayPower {
    fn set_power(&mut self, on: bool) -> Result<(), HwError> {
        let bytes = if on { &self.on_bytes } else { &self.off_bytes };
        self.port.write_all(bytes)?;
        self.on = on;
        Ok(())
    }

    fn is_on(&self) -> bool {
        self.on
    }
}

/// The operator is the switch: asked at the terminal, confirmed with Enter.
pub struct ManualPower {
    fixture: String,
    on: bool,
}

impl ManualPower {
    pub fn new(fixture: &str) -> Self {
        Self {
            fixture: fixture.to_string(),
            on: true,
        }
    }
}

impl PowerSwitch for ManualPower {
    fn set_power(&mut self, on: bool) -> Result<(), HwError> {
        if !std::io::stdin().is_terminal() {
            return Err(HwError::Backend(format!(
                "fixture {} switches power by hand (power.kind = \"manual\"), and no operator \
                 is at a terminal to do it",
                self.fixture
            )));
        }
        let what = if on {
            "PLUG the unit back in"
        } else {
            "UNPLUG the unit (USB and supply)"
        };
        let mut err = std::io::stderr();
        let _ = write!(err, "[{}] {what}, then press Enter: ", self.fixture);
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| HwError::Backend(format!("reading the operator's answer: {e}")))?;
        self.on = on;
        Ok(())
    }

    fn is_on(&self) -> bool {
        self.on
    }
}

/// "A0 01 01 A2" → bytes, for relay commands written as hex in the station file.
pub fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|b| {
            u8::from_str_radix(b.trim_start_matches("0x"), 16)
                .map_err(|_| format!("expected hex bytes like \"A0 01 01 A2\", found {b:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::{UsbDeviceInfo, UsbError};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Hub {
        sent: Arc<Mutex<Vec<ControlSetup>>>,
    }

    impl UsbControl for Hub {
        fn info(&self) -> UsbDeviceInfo {
            UsbDeviceInfo {
                vid: 0x05e3,
                pid: 0x0610,
                serial: None,
                port_path: "1-1".into(),
            }
        }
        fn control_in(
            &mut self,
            _: ControlSetup,
            _: u16,
            _: Duration,
        ) -> Result<Vec<u8>, UsbError> {
            Err(UsbError::Stall)
        }
        fn control_out(&mut self, s: ControlSetup, d: &[u8], _: Duration) -> Result<(), UsbError> {
            assert!(d.is_empty());
            self.sent.lock().unwrap().push(s);
            Ok(())
        }
        fn select_interface(&mut self, _: u8, _: u8) -> Result<(), UsbError> {
            Ok(())
        }
        fn reset(&mut self) -> Result<(), UsbError> {
            Ok(())
        }
        fn reopen(&mut self) -> Result<(), UsbError> {
            Ok(())
        }
    }

    #[test]
    fn a_hub_port_is_switched_with_port_power_features() {
        let hub = Hub::default();
        let sent = hub.sent.clone();
        let mut power = HubPortPower::new(Box::new(hub), 3);
        power.set_power(false).unwrap();
        assert!(!power.is_on());
        power.set_power(true).unwrap();
        let sent = sent.lock().unwrap();
        let fields: Vec<_> = sent
            .iter()
            .map(|s| (s.request_type, s.request, s.value, s.index))
            .collect();
        assert_eq!(fields, vec![(0x23, 1, 8, 3), (0x23, 3, 8, 3)]);
    }

    #[test]
    fn a_relay_board_gets_its_command_bytes_on_a_real_serial_port() {
        use serialport::SerialPort as _;
        let (mut board, station_side) = serialport::TTYPort::pair().unwrap();
        board.set_timeout(Duration::from_secs(2)).unwrap();
        let port = crate::backend::serial::SerialportPort::from_tty(station_side);
        let on = parse_hex_bytes("A0 01 01 A2").unwrap();
        let off = parse_hex_bytes("0xA0 0x01 0x00 0xA1").unwrap();
        let mut power = RelayPower::new(Box::new(port), on, off);
        power.set_power(false).unwrap();
        let mut got = [0u8; 4];
        std::io::Read::read_exact(&mut board, &mut got).unwrap();
        assert_eq!(got, [0xA0, 0x01, 0x00, 0xA1]);
        assert!(parse_hex_bytes("A0 zz").unwrap_err().contains("\"zz\""));
    }
}
