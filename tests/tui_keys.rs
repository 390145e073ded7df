//! Key handling in the Line view: a barcode scanner types any letter, so printable keys only
//! ever go to the scan field, and commands use F-keys, Ctrl, Esc, Enter, Tab and arrows.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use station::tui::{Action, App, StartRequest, StartRun, Theme, View};

fn app() -> App {
    let fixtures = (1..=4)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    App::new("bench", "op", fixtures, Theme::plain(), Instant::now())
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(key(code, KeyModifiers::NONE))
}

/// Types like a scanner: upper case arrives with Shift.
fn type_text(app: &mut App, text: &str) -> Vec<Action> {
    text.chars()
        .map(|c| {
            let shift = if c.is_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            app.on_key(key(KeyCode::Char(c), shift))
        })
        .collect()
}

fn start(id: u64, fixture: &str, label: Option<&str>) -> Action {
    Action::Start(StartRun {
        id,
        units: vec![StartRequest {
            fixture: fixture.into(),
            label: label.map(str::to_string),
        }],
    })
}

#[test]
fn a_scan_full_of_shortcut_letters_lands_in_the_field_and_enter_starts_the_selected_fixture() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    let label = "F1qQh?-F10 x";
    let actions = type_text(&mut app, label);
    assert!(actions.iter().all(|a| *a == Action::None), "{actions:?}");
    assert_eq!(app.scan, label);
    assert_eq!(app.view, View::Line);
    assert!(!app.stopping);

    assert_eq!(
        press(&mut app, KeyCode::Enter),
        start(1, "sim-2", Some(label))
    );
    assert!(app.scan.is_empty());
    assert_eq!(app.fixture("sim-2").unwrap().label.as_deref(), Some(label));
    assert!(app.fixture("sim-2").unwrap().busy);
    // Ready for the next scan on the next free fixture.
    assert_eq!(app.selected, 2);
}

#[test]
fn enter_on_a_busy_fixture_keeps_the_label_for_another_fixture() {
    let mut app = app();
    assert_eq!(press(&mut app, KeyCode::Enter), start(1, "sim-1", None));
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.selected, 0);
    type_text(&mut app, "SN-7");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    assert_eq!(app.scan, "SN-7");
    assert!(app.notice.as_deref().unwrap_or_default().contains("busy"));
    press(&mut app, KeyCode::Right);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        start(2, "sim-2", Some("SN-7"))
    );
}

#[test]
fn f5_starts_every_free_fixture_without_a_scan() {
    let mut app = app();
    press(&mut app, KeyCode::Enter);
    let Action::Start(run) = press(&mut app, KeyCode::F(5)) else {
        panic!("F5 starts");
    };
    let fixtures: Vec<_> = run.units.iter().map(|r| r.fixture.as_str()).collect();
    assert_eq!((run.id, fixtures), (2, vec!["sim-2", "sim-3", "sim-4"]));
    assert!(run.units.iter().all(|r| r.label.is_none()));
    assert_eq!(press(&mut app, KeyCode::F(5)), Action::None);
}

#[test]
fn f1_toggles_help_and_a_scan_closes_it_without_losing_a_character() {
    let mut app = app();
    press(&mut app, KeyCode::F(1));
    assert_eq!(app.view, View::Help);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Line);
    press(&mut app, KeyCode::F(1));
    type_text(&mut app, "AB");
    assert_eq!((app.view, app.scan.as_str()), (View::Line, "AB"));
}

#[test]
fn editing_keys_and_chords_never_type() {
    let mut app = app();
    type_text(&mut app, "ABC");
    press(&mut app, KeyCode::Backspace);
    assert_eq!(app.scan, "AB");
    app.on_key(key(KeyCode::Char('x'), KeyModifiers::ALT));
    app.on_key(key(KeyCode::Char('u'), KeyModifiers::CONTROL));
    let mut release = key(KeyCode::Char('z'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    app.on_key(release);
    assert_eq!(app.scan, "AB");
    press(&mut app, KeyCode::Esc);
    assert!(app.scan.is_empty());
}

#[test]
fn quitting_waits_for_running_units_and_a_second_press_leaves_at_once() {
    let mut idle = app();
    assert_eq!(
        idle.on_key(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Exit
    );

    let mut app = app();
    press(&mut app, KeyCode::Enter);
    assert_eq!(press(&mut app, KeyCode::F(10)), Action::Abort);
    assert!(app.stopping && !app.should_exit());
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Action::None,
        "no new units"
    );
    app.on_run_ended(1, None);
    assert!(app.should_exit());
    let verdict = app.fixture("sim-1").unwrap().verdict.clone().unwrap();
    assert_eq!(verdict.outcome, station::record::Outcome::Aborted);

    let mut twice = self::app();
    press(&mut twice, KeyCode::Enter);
    assert_eq!(press(&mut twice, KeyCode::F(10)), Action::Abort);
    assert_eq!(
        twice.on_key(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Exit
    );
}
