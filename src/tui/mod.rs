//! The operator TUI (ratatui + crossterm) on top of the station engine's event stream.

use std::sync::atomic::AtomicBool;

use crate::config::Station;
use crate::error::{ExitStatus, StationError};

pub struct TuiOptions {
    pub operator: String,
    pub abort: &'static AtomicBool,
}

pub fn run(station: Station, options: TuiOptions) -> Result<ExitStatus, StationError> {
    let _ = (station, options);
    Err(StationError::usage(
        "the TUI is not built yet: use `station run --headless`",
    ))
}
