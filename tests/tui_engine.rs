//! The TUI drives the real engine: F5 on the virtual bench starts four units on background
//! threads, their events come back over the channel, and the App ends with four verdicts.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use station::record::Outcome;
use station::tui::{Action, App, EngineMessage, EngineRunner, Theme};

/// Simulated probes are keyed by serial process-wide: one bench user at a time.
static BENCH: Mutex<()> = Mutex::new(());

const DEADLINE: Duration = Duration::from_secs(300);

fn bench(records: &Path) -> (App, EngineRunner, Receiver<EngineMessage>) {
    // The engine runs in this process: its station key goes to the build's temp area.
    static KEYS: std::sync::Once = std::sync::Once::new();
    KEYS.call_once(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("station-keys");
        // SAFETY: set once, before any engine thread of this test binary reads the environment
        // (every test takes the BENCH lock and calls this first).
        unsafe { std::env::set_var("STATION_KEY_DIR", dir) };
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stations/virtual.toml");
    let mut station = station::config::load_station(&path).expect("the virtual bench loads");
    station.records_dir = records.to_path_buf();
    let abort: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let app = App::for_station(&station, "tui-test", Theme::plain(), Instant::now());
    let (runner, messages) = EngineRunner::new(Arc::new(station), "tui-test", abort);
    (app, runner, messages)
}

fn press(app: &mut App, runner: &EngineRunner, code: KeyCode) -> Action {
    let action = app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    match &action {
        Action::Start(run) => runner.start(run),
        Action::Abort | Action::Exit => runner.abort(),
        Action::None => {}
    }
    action
}

/// Feed engine messages to the app until `done`, polling with a deadline.
fn pump(app: &mut App, messages: &Receiver<EngineMessage>, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done(app) {
        assert!(
            Instant::now() < deadline,
            "units still running after {DEADLINE:?}"
        );
        match messages.recv_timeout(Duration::from_millis(200)) {
            Ok(message) => app.on_message(&message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("the engine channel closed"),
        }
        app.tick(Instant::now());
    }
}

fn outcomes(app: &App) -> Vec<Option<Outcome>> {
    app.fixtures
        .iter()
        .map(|f| f.verdict.as_ref().map(|v| v.outcome))
        .collect()
}

#[test]
fn f5_runs_four_units_on_the_virtual_bench_to_pass() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let records = tempfile::tempdir().unwrap();
    let (mut app, runner, messages) = bench(records.path());
    let Action::Start(run) = press(&mut app, &runner, KeyCode::F(5)) else {
        panic!("F5 starts the free fixtures");
    };
    assert_eq!(run.units.len(), 4);
    pump(&mut app, &messages, |app| app.runs_in_flight() == 0);

    assert_eq!(
        outcomes(&app),
        vec![Some(Outcome::Pass); 4],
        "{:#?}",
        app.fixtures
    );
    assert_eq!((app.counters.tested(), app.counters.passed), (4, 4));
    for fixture in &app.fixtures {
        let serial = fixture.serial.as_deref().unwrap_or_default();
        assert!(serial.starts_with("UID-"), "{serial}");
        let record = fixture.record.as_deref().unwrap_or_default();
        assert!(Path::new(record).starts_with(records.path()), "{record}");
        assert!(Path::new(record).is_file(), "{record}");
        // The six provisioning steps and the profile's console test.
        assert_eq!(fixture.finished_steps.len(), 7);
    }
    assert_eq!(app.exit_status(), station::error::ExitStatus::Pass);
}

#[test]
fn quitting_mid_run_waits_until_every_unit_has_closed() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let records = tempfile::tempdir().unwrap();
    let (mut app, runner, messages) = bench(records.path());
    press(&mut app, &runner, KeyCode::F(5));
    assert_eq!(press(&mut app, &runner, KeyCode::F(10)), Action::Abort);
    pump(&mut app, &messages, App::should_exit);

    // Each unit closed: ABORTED, or PASS if it finished before the flag was seen.
    for outcome in outcomes(&app) {
        assert!(
            matches!(outcome, Some(Outcome::Aborted | Outcome::Pass)),
            "{outcome:?}"
        );
    }
}
