//! The UI loop: draw, wait for a key (blocking, with a timeout: never a busy poll), drain the
//! engine's channel, repeat. It never waits on hardware: the engine runs on background
//! threads (engine.rs).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::TuiOptions;
use super::app::{Action, App};
use super::engine::{EngineMessage, EngineRunner};
use super::render::render;
use super::terminal::TerminalSession;
use super::theme::Theme;
use crate::config::Station;
use crate::error::{ExitStatus, StationError};

/// How long to wait for a key: short while work runs (elapsed times move), longer when idle
/// (only the clock-driven counters change).
pub const BUSY_WAIT: Duration = Duration::from_millis(100);
pub const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Where keys come from: the terminal, or a script in the benchmark and tests.
pub trait Input {
    /// The next terminal event, waiting at most `timeout` for it; None when none came.
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>>;
}

/// The real terminal. The wait is our own poll(2) on stdin, because crossterm's spins at full
/// CPU on a terminal that hung up (its window closed, tmux killed): a hang-up aborts the units
/// in flight and the TUI quits as after Ctrl-C. Events read together (a barcode scanner types
/// fast) are kept and handed out one by one.
struct Crossterm {
    abort: &'static AtomicBool,
    pending: std::collections::VecDeque<TermEvent>,
}

impl Crossterm {
    /// Whether stdin has input before `timeout`; Err when the terminal hung up.
    fn wait_readable(timeout: Duration) -> Result<bool, ()> {
        let mut fd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        if n < 0 {
            // EINTR (a signal, e.g. a resize): try again on the next turn of the loop.
            return Ok(false);
        }
        if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(());
        }
        Ok(fd.revents & libc::POLLIN != 0)
    }
}

impl Input for Crossterm {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(Some(event));
        }
        match Self::wait_readable(timeout) {
            Err(()) => {
                self.abort.store(true, Ordering::SeqCst);
                std::thread::sleep(timeout);
                Ok(None)
            }
            Ok(false) => Ok(None),
            Ok(true) => {
                while event::poll(Duration::ZERO)? {
                    self.pending.push_back(event::read()?);
                }
                Ok(self.pending.pop_front())
            }
        }
    }
}

/// Block SIGWINCH in this thread and the threads it starts later (call it first thing in
/// `main`, before any other thread exists, so no thread takes the signal). crossterm's event
/// source wakes on it and on the terminal together, returns the resize and loses the terminal's
/// readiness: a key typed after a resize stayed held until the next one, while our poll saw
/// the bytes and the loop spun at full CPU. The loop reads the terminal's size before every
/// draw, so a resize shows at the next wake (at most the idle wait) without the signal.
pub fn ignore_resize_signals() {
    // SAFETY: a zeroed sigset initialised by sigemptyset, then used for one pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

pub fn run(station: Station, options: TuiOptions) -> Result<ExitStatus, StationError> {
    let starting = super::starting_operator(&station, options.operator);
    let operator = starting.clone().unwrap_or_default();
    let mut app = App::for_station(&station, &operator, Theme::from_env(), Instant::now());
    if starting.is_none() {
        app.ask_operator();
    }
    let (runner, messages) = EngineRunner::new(Arc::new(station), operator, options.abort);
    runner.survey();
    let mut session = TerminalSession::enter().map_err(terminal_error)?;
    drive(
        &mut session.terminal,
        &mut app,
        &mut |action| runner.perform(action),
        &messages,
        &mut Crossterm {
            abort: options.abort,
            pending: Default::default(),
        },
        options.abort,
    )
    .map_err(terminal_error)?;
    let quit_mid_unit = app.working();
    if quit_mid_unit {
        // Quit with work in flight (F10 twice): its units close as ABORTED now, from their
        // journals, rather than at the fixture's next run.
        crate::station::quit_now();
        let deadline = Instant::now() + QUIT_GRACE;
        while app.working() && Instant::now() < deadline {
            if let Ok(message) = messages.recv_timeout(std::time::Duration::from_millis(20)) {
                app.on_message(&message);
            }
        }
    }
    drop(session);
    let status = app.exit_status();
    Ok(if quit_mid_unit {
        status.worst(ExitStatus::Aborted)
    } else {
        status
    })
}

/// How long a quit waits for its units to be closed as ABORTED.
const QUIT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The loop itself, on any backend: `perform` carries out what keys ask for.
pub fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    perform: &mut dyn FnMut(&Action),
    messages: &Receiver<EngineMessage>,
    input: &mut dyn Input,
    abort: &AtomicBool,
) -> io::Result<()> {
    loop {
        app.tick(Instant::now());
        let size = terminal.size()?;
        app.resize(size.width, size.height);
        terminal.draw(|frame| render(app, frame))?;
        let wait = if app.working() { BUSY_WAIT } else { IDLE_WAIT };
        // Resizes need nothing more than the redraw at the top of the loop.
        if let Some(TermEvent::Key(key)) = input.next(wait)? {
            let action = app.on_key(key);
            perform(&action);
            if action == Action::Exit {
                return Ok(());
            }
        }
        // A Ctrl-C from outside (SIGINT) sets the same flag.
        if abort.load(Ordering::SeqCst) && !app.stopping {
            app.begin_stopping();
        }
        drain(messages, app);
        if app.should_exit() {
            return Ok(());
        }
    }
}

/// Feed every waiting engine message to the app (the runner holds a sender, so the channel
/// stays open).
fn drain(messages: &Receiver<EngineMessage>, app: &mut App) {
    app.tick(Instant::now());
    while let Ok(message) = messages.try_recv() {
        app.on_message(&message);
    }
}

fn terminal_error(e: io::Error) -> StationError {
    StationError::station(format!("terminal: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;

    /// Answers nothing `idle` times, then F10; remembers how long it was asked to wait.
    struct Script {
        idle: usize,
        waits: Vec<Duration>,
    }

    impl Input for Script {
        fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
            self.waits.push(timeout);
            if self.waits.len() > self.idle {
                let f10 = KeyEvent::new(KeyCode::F(10), KeyModifiers::NONE);
                return Ok(Some(TermEvent::Key(f10)));
            }
            Ok(None)
        }
    }

    #[test]
    fn an_idle_loop_blocks_for_the_idle_wait_between_frames() {
        let fixtures = vec![("sim-1".to_string(), "f407-demo".to_string())];
        let mut app = App::new("s", "o", fixtures, Theme::plain(), Instant::now());
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (_keep, messages) = std::sync::mpsc::channel();
        let mut script = Script {
            idle: 3,
            waits: Vec::new(),
        };
        let mut performed = Vec::new();
        let abort = AtomicBool::new(false);
        drive(
            &mut terminal,
            &mut app,
            &mut |a| performed.push(a.clone()),
            &messages,
            &mut script,
            &abort,
        )
        .unwrap();
        assert_eq!(script.waits, vec![IDLE_WAIT; 4]);
        assert_eq!(performed, vec![Action::Exit]);
    }
}
