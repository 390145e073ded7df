//! `station dfu ...`: the DFU host's commands.

use clap::Subcommand;

use crate::error::{ExitStatus, StationError};

#[derive(Subcommand, Debug)]
pub enum DfuCommand {
    /// List DFU-capable USB interfaces.
    List,
}

pub fn dispatch(command: DfuCommand) -> Result<ExitStatus, StationError> {
    match command {
        DfuCommand::List => {
            let bus = crate::backend::usb::RusbBus::new()
                .map_err(|e| StationError::station(e.to_string()))?;
            let devices =
                crate::hw::UsbBus::list(&bus).map_err(|e| StationError::station(e.to_string()))?;
            if devices.is_empty() {
                println!("no USB devices found");
            }
            for d in devices {
                println!(
                    "{:04x}:{:04x} port {} serial {}",
                    d.vid,
                    d.pid,
                    d.port_path,
                    d.serial.as_deref().unwrap_or("-")
                );
            }
            Ok(ExitStatus::Pass)
        }
    }
}
