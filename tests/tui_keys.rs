//! Key handling: a barcode scanner types any letter, so in the Line view printable keys only
//! ever go to the scan field, and commands use F-keys, Ctrl, Esc, Enter, Tab and arrows. Views
//! without a scan field take `?` for help and no letter as a command.

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
            typed_label: None,
        }],
        retest: false,
        golden: false,
    })
}

/// Letters that are commands in other programs, or F-key names spelled out.
const SHORTCUT_LABEL: &str = "F1qQh?-F10 x";

#[test]
fn a_scan_full_of_shortcut_letters_lands_in_the_field_and_enter_starts_the_selected_fixture() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    let actions = type_text(&mut app, SHORTCUT_LABEL);
    assert!(actions.iter().all(|a| *a == Action::None), "{actions:?}");
    assert_eq!(app.scan, SHORTCUT_LABEL);
    assert_eq!((app.view, app.help), (View::Line, false));
    assert!(!app.stopping);

    assert_eq!(
        press(&mut app, KeyCode::Enter),
        start(1, "sim-2", Some(SHORTCUT_LABEL))
    );
    assert!(app.scan.is_empty());
    let panel = app.fixture("sim-2").unwrap();
    assert_eq!(panel.label.as_deref(), Some(SHORTCUT_LABEL));
    assert!(panel.busy);
    // Ready for the next scan on the next free fixture.
    assert_eq!(app.selected, 2);
}

#[test]
fn views_without_a_scan_field_take_no_letter_as_a_command() {
    for (view_key, view) in [(KeyCode::F(3), View::Torture), (KeyCode::F(4), View::Rma)] {
        let mut app = app();
        press(&mut app, view_key);
        assert_eq!(app.view, view);
        let actions = type_text(&mut app, "iIrRtTsSqQxX0 -");
        assert!(actions.iter().all(|a| *a == Action::None), "{actions:?}");
        assert!(app.scan.is_empty() && !app.help && !app.stopping);
        assert!(app.notice.as_deref().unwrap_or_default().contains("F2"));
        // `?` is help here, and closes it again.
        type_text(&mut app, "?");
        assert!(app.help);
        type_text(&mut app, "?");
        assert!(!app.help);
        assert_eq!(app.job("sim-1"), None);
    }
}

#[test]
fn enter_needs_a_scan_and_f6_starts_without_one() {
    let mut app = app();
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    assert!(app.notice.as_deref().unwrap_or_default().contains("F6"));
    assert!(!app.fixture("sim-1").unwrap().busy);
    assert_eq!(press(&mut app, KeyCode::F(6)), start(1, "sim-1", None));
    assert_eq!(app.selected, 1);
}

#[test]
fn enter_on_a_busy_fixture_keeps_the_label_for_another_fixture() {
    let mut app = app();
    assert_eq!(press(&mut app, KeyCode::F(6)), start(1, "sim-1", None));
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
    press(&mut app, KeyCode::F(6));
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
    assert!(app.help);
    press(&mut app, KeyCode::Esc);
    assert!(!app.help);
    press(&mut app, KeyCode::F(1));
    type_text(&mut app, "?AB");
    assert_eq!((app.help, app.scan.as_str()), (false, "?AB"));
}

#[test]
fn f_keys_switch_views_and_close_the_help() {
    let mut app = app();
    press(&mut app, KeyCode::F(1));
    press(&mut app, KeyCode::F(3));
    assert_eq!((app.view, app.help), (View::Torture, false));
    press(&mut app, KeyCode::F(4));
    assert_eq!(app.view, View::Rma);
    press(&mut app, KeyCode::F(2));
    assert_eq!(app.view, View::Line);
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
    press(&mut app, KeyCode::F(6));
    assert_eq!(press(&mut app, KeyCode::F(10)), Action::Abort);
    assert!(app.stopping && !app.should_exit());
    type_text(&mut app, "SN-9");
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
    press(&mut twice, KeyCode::F(6));
    assert_eq!(press(&mut twice, KeyCode::F(10)), Action::Abort);
    assert_eq!(
        twice.on_key(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Exit
    );
}
