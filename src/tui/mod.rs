//! The operator TUI (ratatui + crossterm) on top of the station engine's event stream.
//!
//! - [`App`]: the state, pure: engine messages, keys and the clock change it. Three views
//!   (Line, Torture, RMA), the help over them, and modals ([`Modal`]): typed confirmations,
//!   the operator's name, a rework clearance.
//! - [`render`]: draws an `App`, pure: the same on a terminal and on a `TestBackend`.
//! - [`EngineRunner`]: runs each start action, campaign and RMA action on a background thread
//!   and sends its events (the same as `--json`) back over a channel, so the UI never waits
//!   on hardware.
//! - `event_loop` and `terminal`: the real terminal, always restored, also on panic.
//! - [`bench`]: frame time and idle CPU of the loop, for `station bench tui`.

mod app;
mod commands;
mod counters;
mod engine;
mod event_loop;
mod fixture;
pub mod frame_bench;
mod gate;
mod help;
mod jobs;
mod keys;
mod log;
mod modal;
mod modal_keys;
mod production;
mod reason;
mod render;
mod rework;
mod rma;
mod terminal;
mod theme;
mod torture;

use std::sync::atomic::AtomicBool;

pub use app::{Action, App, Job, StartRequest, StartRun, View};
pub use counters::Counters;
pub use engine::{EngineMessage, EngineRunner};
pub use event_loop::{IDLE_WAIT, Input, drive, ignore_resize_signals};
pub use fixture::{Caps, FixturePanel, PanelState, Progress, Verdict};
pub use gate::GoldenGate;
pub use help::lines as help_lines;
pub use jobs::Survey;
pub use keys::MAX_LABEL_CHARS;
pub use log::{Log, LogKind, LogLine};
pub use modal::{Confirm, Modal};
pub use reason::{Explanation, explain};
pub use render::render;
pub use rma::{Check, CheckState, HistoryRow, JobEnd, RecoverRun, RmaUnit, UnitHistory, UnitView};
pub use theme::Theme;
pub use torture::{Campaign, CampaignEnd, PointCell};

use crate::config::Station;
use crate::error::{ExitStatus, StationError};

pub struct TuiOptions {
    /// `--operator`, if given.
    pub operator: Option<String>,
    /// Set to stop: running work ends after its current step and closes as ABORTED.
    pub abort: &'static AtomicBool,
}

/// Who operates from the start: `given`, else the station's default, else (the station requires
/// a name) nobody yet: the TUI asks for it before anything can start ([`App::ask_operator`]).
pub fn starting_operator(station: &Station, given: Option<String>) -> Option<String> {
    given
        .filter(|name| !name.trim().is_empty())
        .or_else(|| (!station.operator.required).then(|| station.operator.default.clone()))
}

/// Run the TUI until the operator quits. The exit status is the worst over the session's
/// production units, as for `station run`.
pub fn run(station: Station, options: TuiOptions) -> Result<ExitStatus, StationError> {
    event_loop::run(station, options)
}
