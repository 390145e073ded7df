//! The TUI's state and its engine runner in this process, on virtual time: keys go to the
//! `App`, the actions they return to the runner, and the runner's messages come back to the
//! `App` until a condition holds (polled with a deadline).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use station::config::Station;
use station::record::Record;
use station::tui::{Action, App, EngineMessage, EngineRunner, Theme, render};

/// Simulated probes are keyed by serial process-wide: one bench user at a time.
pub static BENCH: Mutex<()> = Mutex::new(());

pub const DEADLINE: Duration = Duration::from_secs(300);

/// The station file `path` with its records in `records`.
pub fn load(path: &Path, records: &Path) -> Station {
    // The engine runs in this process: its station key goes to the build's temp area.
    static KEYS: std::sync::Once = std::sync::Once::new();
    KEYS.call_once(|| {
        // SAFETY: set once, before any engine thread of this test binary reads the environment
        // (every test takes the BENCH lock and calls this first).
        unsafe { std::env::set_var("STATION_KEY_DIR", super::key_dir()) };
    });
    let mut station = station::config::load_station(path).expect("the station loads");
    station.records_dir = records.to_path_buf();
    station
}

/// The TUI's state and runner on `station`, as operator `operator`.
pub fn bench_of(station: Station, operator: &str) -> (App, EngineRunner, Receiver<EngineMessage>) {
    let abort: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let app = App::for_station(&station, operator, Theme::plain(), Instant::now());
    let (runner, messages) = EngineRunner::new(Arc::new(station), operator, abort);
    (app, runner, messages)
}

/// The TUI's state and runner on the station file `path`, records in `records`.
pub fn bench(path: &Path, records: &Path) -> (App, EngineRunner, Receiver<EngineMessage>) {
    bench_of(load(path, records), "tui-test")
}

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn press(app: &mut App, runner: &EngineRunner, code: KeyCode) -> Action {
    let action = app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    runner.perform(&action);
    action
}

pub fn type_text(app: &mut App, runner: &EngineRunner, text: &str) {
    for c in text.chars() {
        press(app, runner, KeyCode::Char(c));
    }
}

/// Feed engine messages to the app until `done`, polling with a deadline.
pub fn pump(app: &mut App, messages: &Receiver<EngineMessage>, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(app) {
        assert!(
            Instant::now() < deadline,
            "still running after {DEADLINE:?}"
        );
        match messages.recv_timeout(Duration::from_millis(200)) {
            Ok(message) => app.on_message(&message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("the engine channel closed"),
        }
        app.tick(Instant::now());
    }
}

pub fn read_record(path: &str) -> Record {
    serde_json::from_slice(&std::fs::read(path).expect("the record exists")).unwrap()
}

pub fn record_outcome(path: &str) -> String {
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the record exists")).unwrap();
    record["outcome"].as_str().unwrap_or_default().to_string()
}

/// The screen as text, one row a line.
pub fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal.draw(|frame| render(app, frame)).expect("draws");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
