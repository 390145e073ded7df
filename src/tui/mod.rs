//! The operator TUI (ratatui + crossterm) on top of the station engine's event stream.
//!
//! - [`App`]: the state, pure: engine events, keys and the clock change it.
//! - [`render`]: draws an `App`, pure: the same on a terminal and on a `TestBackend`.
//! - [`EngineRunner`]: runs each start action's units on a background thread and sends their
//!   events (the same as `--json`) back over a channel, so the UI never waits on hardware.
//! - `event_loop` and `terminal`: the real terminal, always restored, also on panic.

mod app;
mod counters;
mod engine;
mod event_loop;
mod fixture;
mod keys;
mod log;
mod reason;
mod render;
mod terminal;
mod theme;

use std::sync::atomic::AtomicBool;

pub use app::{Action, App, StartRequest, StartRun, View};
pub use counters::Counters;
pub use engine::{EngineMessage, EngineRunner};
pub use fixture::{FixturePanel, PanelState, Progress, Verdict};
pub use keys::MAX_LABEL_CHARS;
pub use log::{Log, LogKind, LogLine};
pub use reason::{Explanation, explain};
pub use render::render;
pub use theme::Theme;

use crate::config::Station;
use crate::error::{ExitStatus, StationError};

pub struct TuiOptions {
    pub operator: String,
    /// Set to stop: running units end after their current step and close as ABORTED.
    pub abort: &'static AtomicBool,
}

/// Run the TUI until the operator quits. The exit status is the worst over the session's
/// units, as for `station run`.
pub fn run(station: Station, options: TuiOptions) -> Result<ExitStatus, StationError> {
    event_loop::run(station, options)
}
