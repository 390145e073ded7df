//! The UI loop: draw, wait briefly for a key, drain the engine's channel, repeat. It never
//! waits on hardware: the engine runs on background threads (engine.rs).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent};

use super::TuiOptions;
use super::app::{Action, App};
use super::engine::{EngineMessage, EngineRunner};
use super::render::render;
use super::terminal::TerminalSession;
use super::theme::Theme;
use crate::config::Station;
use crate::error::{ExitStatus, StationError};

/// How long to wait for a key: short while units run (elapsed times move), longer when idle.
const BUSY_WAIT: Duration = Duration::from_millis(100);
const IDLE_WAIT: Duration = Duration::from_millis(500);

pub fn run(station: Station, options: TuiOptions) -> Result<ExitStatus, StationError> {
    let mut app = App::for_station(
        &station,
        &options.operator,
        Theme::from_env(),
        Instant::now(),
    );
    let (runner, messages) = EngineRunner::new(Arc::new(station), &options.operator, options.abort);
    let mut session = TerminalSession::enter().map_err(terminal_error)?;
    loop {
        app.tick(Instant::now());
        session
            .terminal
            .draw(|frame| render(&app, frame))
            .map_err(terminal_error)?;
        let wait = if app.runs_in_flight() > 0 {
            BUSY_WAIT
        } else {
            IDLE_WAIT
        };
        if event::poll(wait).map_err(terminal_error)? {
            // Resizes need nothing more than the redraw at the top of the loop.
            if let TermEvent::Key(key) = event::read().map_err(terminal_error)? {
                match app.on_key(key) {
                    Action::None => {}
                    Action::Start(run) => runner.start(&run),
                    Action::Abort => runner.abort(),
                    Action::Exit => {
                        runner.abort();
                        break;
                    }
                }
            }
        }
        // A Ctrl-C from outside (SIGINT) sets the same flag.
        if options.abort.load(Ordering::SeqCst) && !app.stopping {
            app.begin_stopping();
        }
        drain(&messages, &mut app);
        if app.should_exit() {
            break;
        }
    }
    drop(session);
    Ok(app.exit_status())
}

/// Feed every waiting engine message to the app (the runner holds a sender, so the channel
/// stays open).
fn drain(messages: &Receiver<EngineMessage>, app: &mut App) {
    app.tick(Instant::now());
    while let Ok(message) = messages.try_recv() {
        app.on_message(&message);
    }
}

fn terminal_error(e: std::io::Error) -> StationError {
    StationError::station(format!("terminal: {e}"))
}
