//! The production line's policies through the TUI, with the real engine in this process on
//! virtual time: a scanned label reaches the record and a label bound to another chip fails
//! on screen; production waits for the golden unit until F9 has checked it; a station that
//! requires an operator asks for the name first; a unit routed to rework is cleared in the
//! RMA view and taken again, its attempt and the fixture's cycles on its panel.

mod tui_support;

use std::path::Path;
use std::sync::PoisonError;

use crossterm::event::KeyCode;
use station::record::{Outcome, RecordKind};
use station::tui::{Action, App, PanelState, View};
use tui_support::engine::{
    BENCH, bench, bench_of, load, press, pump, read_record, screen, type_text,
};

const NEVER_ENUMERATES: &str = "\"never-enumerates\"";

fn verdict(app: &App) -> Option<Outcome> {
    app.fixtures[0].verdict.as_ref().map(|v| v.outcome)
}

fn record_of(app: &App) -> station::record::Record {
    read_record(app.fixtures[0].record.as_deref().expect("a record"))
}

#[test]
fn a_scanned_label_reaches_the_record_and_a_label_bound_to_another_chip_fails_on_screen() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let path = tui_support::policy_station(tmp.path(), "LINE-LABEL", "", "");
    let (mut app, runner, messages) = bench(&path, &tmp.path().join("records"));
    // Letters that are commands elsewhere, or F-key names spelled out.
    let label = "SN-F1qQx?";
    type_text(&mut app, &runner, label);
    assert!(matches!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::Start(_)
    ));
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Pass), "{:?}", app.fixtures[0]);
    let first = record_of(&app);
    assert_eq!(first.label.as_deref(), Some(label));

    // The next unit on the fixture is another chip, scanned with the same label.
    type_text(&mut app, &runner, label);
    press(&mut app, &runner, KeyCode::Enter);
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Fail));
    let second = record_of(&app);
    assert_ne!(second.uid, first.uid);
    assert_eq!(second.label.as_deref(), Some(label));
    let shown = screen(&app, 160, 48);
    assert!(
        shown.contains("This label belongs to another chip: check the label on the unit"),
        "{shown}"
    );
    // The engine's own words name the chip the label belongs to.
    let first_uid = first.uid.unwrap();
    assert!(
        shown.contains(&format!(
            "label {label} belongs to the chip with UID {first_uid}"
        )),
        "{shown}"
    );
    assert!(screen(&app, 80, 24).contains("This label belongs to another chip"));
}

#[test]
fn production_waits_for_the_golden_unit_until_f9_has_checked_it() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path().join("records");
    // Engineering mode needs no golden unit: provision the one that will be golden.
    let made = tui_support::policy_station(tmp.path(), "LINE-GOLDEN", "mode = \"engineering\"", "");
    let (mut app, runner, messages) = bench(&made, &records);
    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Pass));
    let uid = record_of(&app).uid.unwrap();

    let top = format!("mode = \"production\"\n[golden]\nuid = \"{uid}\"\nevery_hours = 12");
    let path = tui_support::policy_station(tmp.path(), "LINE-GOLDEN", &top, "");
    // At start the records say it: production waits, and the fixture has had one unit.
    let (mut app, runner, messages) = bench(&path, &records);
    runner.survey();
    pump(&mut app, &messages, |app| app.fixtures[0].cycles.is_some());
    assert!(app.golden.waiting.is_some());
    assert_eq!(app.fixtures[0].cycles, Some(1));
    assert!(screen(&app, 80, 24).contains("PRODUCTION WAITS FOR THE GOLDEN UNIT"));
    assert_eq!(press(&mut app, &runner, KeyCode::F(6)), Action::None);

    let (mut app, runner, messages) = bench(&path, &records);
    // Not yet surveyed: the engine refuses the start, and the fixture stays free.
    type_text(&mut app, &runner, "SN-G1");
    assert!(matches!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::Start(_)
    ));
    pump(&mut app, &messages, |app| !app.working());
    let panel = &app.fixtures[0];
    assert_eq!((panel.state(), panel.busy), (PanelState::Ready, false));
    assert_eq!(app.scan, "SN-G1", "the scan is kept for after the check");
    assert!(app.golden.waiting.is_some());
    let shown = screen(&app, 80, 24);
    assert!(
        shown.contains("PRODUCTION WAITS FOR THE GOLDEN UNIT"),
        "{shown}"
    );
    assert!(shown.contains("press F9"), "{shown}");
    assert!(shown.contains("F9 golden check"), "{shown}");
    // Nothing else starts while it waits.
    assert_eq!(press(&mut app, &runner, KeyCode::F(6)), Action::None);
    assert_eq!(press(&mut app, &runner, KeyCode::F(5)), Action::None);

    let Action::Start(check) = press(&mut app, &runner, KeyCode::F(9)) else {
        panic!("F9 runs the golden check");
    };
    assert!(check.golden);
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Pass), "{:?}", app.fixtures[0]);
    assert_eq!(record_of(&app).kind, RecordKind::Golden);
    assert_eq!(app.golden.waiting, None);
    assert_eq!(
        app.counters.tested(),
        0,
        "the golden check is not production"
    );
    assert!(!screen(&app, 80, 24).contains("PRODUCTION WAITS"));

    // Production starts normally now, with the kept scan.
    assert!(matches!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::Start(_)
    ));
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Pass), "{:?}", app.fixtures[0]);
    let production = record_of(&app);
    assert_eq!(production.kind, RecordKind::Production);
    assert_eq!(production.label.as_deref(), Some("SN-G1"));
    assert_eq!(app.counters.tested(), 1);
}

#[test]
fn a_station_that_requires_an_operator_asks_for_the_name_before_anything_starts() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let top = "[operator]\nrequired = true";
    let path = tui_support::policy_station(tmp.path(), "LINE-OPERATOR", top, "");
    let station = load(&path, &tmp.path().join("records"));
    let starting = station::tui::starting_operator(&station, None);
    assert_eq!(starting, None);
    let (mut app, runner, messages) = bench_of(station, "");
    app.ask_operator();
    assert!(screen(&app, 80, 24).contains("Who is operating this station?"));

    // Nothing starts, nothing switches, and Esc does not leave the name unanswered.
    for key in [
        KeyCode::F(6),
        KeyCode::F(5),
        KeyCode::F(4),
        KeyCode::Esc,
        KeyCode::Enter,
    ] {
        assert_eq!(press(&mut app, &runner, key), Action::None, "{key:?}");
    }
    assert!(app.modal.is_some() && app.view == View::Line && !app.working());
    assert!(
        app.modal.as_ref().unwrap().error.is_some(),
        "an empty name is asked again"
    );
    type_text(&mut app, &runner, "Ana Lima");
    assert_eq!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::SetOperator("Ana Lima".into())
    );
    assert!(app.modal.is_none());
    assert!(screen(&app, 80, 24).contains("operator Ana Lima"));

    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Pass));
    assert_eq!(record_of(&app).operator, "Ana Lima");
}

fn rework_station(dir: &Path) -> std::path::PathBuf {
    // Every attempt fails (the application never shows up on USB); one FAIL routes to rework.
    let top = "[rework]\nafter_failures = 1";
    tui_support::policy_station(dir, "LINE-REWORK", top, NEVER_ENUMERATES)
}

#[test]
fn a_unit_routed_to_rework_is_cleared_in_the_rma_view_and_taken_again() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let path = rework_station(tmp.path());
    let (mut app, runner, messages) = bench(&path, &tmp.path().join("records"));
    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    assert_eq!(verdict(&app), Some(Outcome::Fail));
    assert_eq!(app.fixtures[0].attempt, Some(1));

    // The retest is refused before anything on the unit changes.
    press(&mut app, &runner, KeyCode::F(4));
    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    let refused = record_of(&app);
    assert!(
        refused
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("routed to rework")
    );
    // A refused attempt is counted and shown like any other.
    assert_eq!(
        (refused.attempt, app.fixtures[0].attempt),
        (Some(2), Some(2))
    );
    press(&mut app, &runner, KeyCode::F(2));
    let shown = screen(&app, 160, 48);
    assert!(
        shown.contains("Routed to rework (failed too often): set it aside"),
        "{shown}"
    );
    assert!(shown.contains(" 2 cycles "), "{shown}");

    // F9 needs the unit's history first.
    press(&mut app, &runner, KeyCode::F(4));
    assert_eq!(press(&mut app, &runner, KeyCode::F(9)), Action::None);
    assert!(
        app.notice
            .as_deref()
            .unwrap_or_default()
            .contains("Inspect")
    );
    press(&mut app, &runner, KeyCode::F(5));
    pump(&mut app, &messages, |app| !app.working());
    let history = app.rma["p-1"]
        .history
        .clone()
        .expect("inspected with its history");
    assert!(history.routed_to_rework());
    assert!(screen(&app, 80, 24).contains("Routed to rework"));

    press(&mut app, &runner, KeyCode::F(9));
    assert_eq!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::None,
        "a name first"
    );
    type_text(&mut app, &runner, "tech-ana");
    assert_eq!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::None,
        "then the reason"
    );
    type_text(&mut app, &runner, "reseated J3");
    let Action::ClearRework {
        unit, by, reason, ..
    } = press(&mut app, &runner, KeyCode::Enter)
    else {
        panic!("the clearance is asked of the engine");
    };
    assert_eq!(
        (by.as_str(), reason.as_deref()),
        ("tech-ana", Some("reseated J3"))
    );
    assert_eq!(Some(unit), refused.uid);
    pump(&mut app, &messages, |app| !app.working());
    let rma = &app.rma["p-1"];
    let end = rma.clearance.clone().expect("the clearance ended");
    assert_eq!(end.outcome, Outcome::Pass, "{end:?}");
    let clearance = read_record(end.record.as_deref().unwrap());
    assert_eq!(
        (clearance.kind, clearance.operator.as_str()),
        (RecordKind::Clearance, "tech-ana")
    );
    assert_eq!(
        clearance.steps[0].details["reason"],
        serde_json::json!("reseated J3")
    );
    let history = rma.history.clone().unwrap();
    assert_eq!(history.rows[0].kind, "clearance");
    assert!(!history.routed_to_rework());
    let shown = screen(&app, 160, 48);
    assert!(shown.contains("Rework clearance: UID-"), "{shown}");
    assert!(shown.contains("clearance  PASS"), "{shown}");

    // Taken again: the records check passes, the unit's third attempt (it fails on USB still).
    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    let retest = record_of(&app);
    let traceability = retest
        .steps
        .iter()
        .find(|s| s.name == "traceability")
        .unwrap();
    assert_eq!(traceability.outcome, Outcome::Pass);
    assert_eq!(
        (retest.attempt, app.fixtures[0].attempt),
        (Some(3), Some(3))
    );
    assert_eq!(app.fixtures[0].cycles, Some(3));
    press(&mut app, &runner, KeyCode::F(2));
    let shown = screen(&app, 160, 48);
    assert!(
        shown.contains("Attempt 3 (tested 2 time(s) before)"),
        "{shown}"
    );
    assert!(shown.contains(" 3 cycles "), "{shown}");
}

#[test]
fn a_clearance_the_engine_refuses_says_why_and_writes_nothing() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    // Routed only after three FAILs: one FAIL is not routed yet, the engine refuses to clear.
    let top = "[rework]\nafter_failures = 3";
    let path = tui_support::policy_station(tmp.path(), "LINE-NOCLEAR", top, NEVER_ENUMERATES);
    let (mut app, runner, messages) = bench(&path, &tmp.path().join("records"));
    press(&mut app, &runner, KeyCode::F(6));
    pump(&mut app, &messages, |app| !app.working());
    press(&mut app, &runner, KeyCode::F(4));
    press(&mut app, &runner, KeyCode::F(5));
    pump(&mut app, &messages, |app| !app.working());
    press(&mut app, &runner, KeyCode::F(9));
    type_text(&mut app, &runner, "tech-bo");
    press(&mut app, &runner, KeyCode::Enter);
    assert!(matches!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::ClearRework { reason: None, .. }
    ));
    pump(&mut app, &messages, |app| !app.working());
    let rma = &app.rma["p-1"];
    let end = rma.clearance.clone().unwrap();
    assert_eq!(
        (end.outcome, end.record.as_deref()),
        (Outcome::Aborted, None)
    );
    assert!(end.text.contains("not routed to rework"), "{end:?}");
    assert!(
        rma.history
            .as_ref()
            .unwrap()
            .rows
            .iter()
            .all(|r| r.kind != "clearance")
    );
    assert!(screen(&app, 80, 24).contains("No rework clearance written"));
}
