//! Snapshots at 80x24 and 160x48 of what stands before production and what the records add,
//! driven by synthetic engine messages: production waiting for the golden unit, the operator's
//! name asked at start, a unit routed to rework (its attempt and the fixture's cycles on its
//! panel), its clearance asked and written in the RMA view; and the help paged at 80x24, every
//! line of every view reachable.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use station::record::Outcome;
use station::station::Event;
use station::tui::{
    Action, App, EngineMessage, HistoryRow, JobEnd, Survey, Theme, UnitHistory, UnitView, View,
    help_lines, render,
};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
const UID: &str = "35F0A079772320896C123EBC";
const ROUTED: &str = "traceability: routed to rework: this unit failed 2 times since its last clearance (the station allows 2); a technician clears it with `station rework clear UID-35F0A079772320896C123EBC --by NAME`";

fn app(t0: Instant) -> App {
    let fixtures = (1..=4)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    App::new("line-bench", "op-ana", fixtures, Theme::plain(), t0)
}

fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|frame| render(app, frame)).expect("draws");
    terminal
}

fn text(app: &App, w: u16, h: u16) -> String {
    draw(app, w, h).backend().to_string()
}

fn assert_views(app: &App, state: &str) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{state}_{w}x{h}"), draw(app, w, h).backend());
    }
}

fn survey(golden_waiting: Option<&str>) -> EngineMessage {
    EngineMessage::Surveyed(Survey {
        cycles: (1..=4).map(|i| (format!("sim-{i}"), 1200 + i)).collect(),
        golden_waiting: golden_waiting.map(str::to_string),
    })
}

#[test]
fn golden_waiting() {
    let mut app = app(Instant::now());
    app.on_message(&survey(Some(&format!(
        "production waits for the golden unit (UID {UID}): it has not passed in the last 12 h. \
         Put it on a fixture and run `station golden --station stations/line.toml --fixture F`"
    ))));
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None);
    assert_views(&app, "golden_waiting");
}

#[test]
fn operator_asked() {
    let mut app = App::new("line-bench", "", vec![], Theme::plain(), Instant::now());
    app.fixtures = self::app(Instant::now()).fixtures;
    app.ask_operator();
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "Ana Li");
    assert_views(&app, "operator_asked");
}

/// sim-1's unit failed twice and its third test was refused as routed to rework.
fn routed(t0: Instant) -> App {
    let mut app = app(t0);
    app.on_message(&survey(None));
    let Action::Start(run) = press(&mut app, KeyCode::F(6)) else {
        panic!("F6 starts sim-1");
    };
    app.tick(t0 + Duration::from_secs(2));
    app.on_event(&Event::UnitFinished {
        fixture: "sim-1".into(),
        unit: 1205,
        serial: format!("UID-{UID}"),
        outcome: Outcome::Fail,
        record: format!("logs/UID-{UID}/20261121T091502957Z-bd08ce8d41.json"),
        failure: Some(ROUTED.into()),
    });
    app.on_run_ended(run.id, None);
    app
}

#[test]
fn rework_routed() {
    let mut app = routed(Instant::now());
    // A later unit on sim-2: its third attempt, the fixture's 1203rd cycle.
    press(&mut app, KeyCode::F(6));
    app.on_event(&Event::UnitFinished {
        fixture: "sim-2".into(),
        unit: 1203,
        serial: "UID-19E1F9A15272FA8B6FC7F672".into(),
        outcome: Outcome::Pass,
        record: "logs/UID-19E1F9A15272FA8B6FC7F672/r.json".into(),
        failure: None,
    });
    app.on_message(&EngineMessage::UnitRecorded {
        fixture: "sim-2".into(),
        unit: 1203,
        attempt: Some(3),
        cycles: Some(1203),
    });
    assert_eq!(app.fixtures[1].attempt, Some(3));
    assert_views(&app, "rework_routed");
}

fn row(started: &str, kind: &str, outcome: Outcome, failure: Option<&str>) -> HistoryRow {
    HistoryRow {
        started: started.into(),
        kind: kind.into(),
        outcome,
        fixture: "sim-1".into(),
        failure: failure.map(str::to_string),
        record_id: "20261121T091502957Z-bd08ce8d41".into(),
    }
}

const USB: &str = "dfu_download: USB device 1209:df00 did not enumerate within 5s";

fn history() -> Vec<HistoryRow> {
    vec![
        row(
            "2026-11-21 09:15",
            "production",
            Outcome::Fail,
            Some(ROUTED),
        ),
        row("2026-11-21 09:02", "production", Outcome::Fail, Some(USB)),
        row("2026-11-21 08:41", "production", Outcome::Fail, Some(USB)),
    ]
}

/// The RMA view of sim-1 after its inspection; F9 asked for the clearance, the name typed.
fn rework_asked(t0: Instant) -> App {
    let mut app = routed(t0);
    press(&mut app, KeyCode::F(4));
    press(&mut app, KeyCode::BackTab);
    assert_eq!(
        press(&mut app, KeyCode::F(9)),
        Action::None,
        "inspect first"
    );
    press(&mut app, KeyCode::F(5));
    let view = UnitView {
        via: "swd".into(),
        uid: Some(UID.into()),
        label: Some("6C123EBC".into()),
        rdp_level: Some(0),
        usb_now: "nothing (no application, bootloader or ST ROM enumerates)".into(),
        history: history(),
        ..UnitView::default()
    };
    app.on_message(&EngineMessage::Inspected {
        fixture: "sim-1".into(),
        result: Ok(view),
    });
    press(&mut app, KeyCode::F(9));
    type_text(&mut app, "tech-ana");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    type_text(&mut app, "reseated J3, new USB");
    app
}

#[test]
fn rework_asked_for() {
    assert_views(&rework_asked(Instant::now()), "rework_asked");
}

#[test]
fn rework_cleared() {
    let mut app = rework_asked(Instant::now());
    let Action::ClearRework {
        fixture,
        unit,
        by,
        reason,
    } = press(&mut app, KeyCode::Enter)
    else {
        panic!("Enter asks the engine for the clearance");
    };
    assert_eq!(
        (
            fixture.as_str(),
            unit.as_str(),
            by.as_str(),
            reason.as_deref()
        ),
        ("sim-1", UID, "tech-ana", Some("reseated J3, new USB"))
    );
    assert!(text(&app, 80, 24).contains("Writing the rework clearance"));
    let mut rows = history();
    rows.insert(0, row("2026-11-21 09:20", "clearance", Outcome::Pass, None));
    app.on_message(&EngineMessage::Cleared {
        fixture: "sim-1".into(),
        end: JobEnd {
            outcome: Outcome::Pass,
            text: format!("UID-{UID} cleared for production by tech-ana (3 failures)"),
            record: Some(format!(
                "logs/UID-{UID}/20261121T092000000Z-c1ea2ed000.json"
            )),
        },
        history: Some(Ok(UnitHistory { rows, problems: 0 })),
    });
    assert!(!app.working());
    assert_views(&app, "rework_cleared");
}

/// Page through the help at 80x24 from the top: every row shown on the way.
fn paged_help(view_key: KeyCode) -> (App, Vec<String>) {
    let mut app = app(Instant::now());
    app.resize(80, 24);
    press(&mut app, view_key);
    press(&mut app, KeyCode::F(1));
    let mut seen = Vec::new();
    let mut last = String::new();
    loop {
        let screen = text(&app, 80, 24);
        if screen == last {
            break;
        }
        seen.extend(screen.lines().map(str::to_string));
        last = screen;
        press(&mut app, KeyCode::PageDown);
    }
    (app, seen)
}

#[test]
fn every_help_line_of_every_view_is_reachable_at_80x24() {
    for (key, view) in [
        (KeyCode::F(2), View::Line),
        (KeyCode::F(3), View::Torture),
        (KeyCode::F(4), View::Rma),
    ] {
        let (app, seen) = paged_help(key);
        assert!(app.help && app.view == view);
        for line in help_lines(view).into_iter().filter(|l| !l.is_empty()) {
            assert!(
                seen.iter().any(|row| row.contains(line)),
                "{view:?}: {line:?} never shown"
            );
        }
    }
}

#[test]
fn help_paged_to_its_end() {
    let (mut app, _) = paged_help(KeyCode::F(4));
    insta::assert_snapshot!("help_rma_end_80x24", draw(&app, 80, 24).backend());
    press(&mut app, KeyCode::Home);
    insta::assert_snapshot!("help_rma_top_80x24", draw(&app, 80, 24).backend());
    // Paging back up stops at the top at once, however far down it went.
    for _ in 0..5 {
        press(&mut app, KeyCode::PageDown);
    }
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.help_scroll, 0);
    // Closed scrolled down, `?` opens it again from its top.
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Esc);
    type_text(&mut app, "?");
    assert!(app.help);
    assert_eq!(app.help_scroll, 0);
}

#[test]
fn every_new_state_renders_at_any_size_without_panicking() {
    let t0 = Instant::now();
    let mut golden = app(t0);
    golden.on_message(&survey(Some("production waits for the golden unit")));
    let mut operator = app(t0);
    operator.ask_operator();
    let mut help = app(t0);
    press(&mut help, KeyCode::F(1));
    for _ in 0..3 {
        press(&mut help, KeyCode::PageDown);
    }
    let apps = [golden, operator, rework_asked(t0), routed(t0), help];
    for app in &apps {
        for (w, h) in [(1, 1), (10, 5), (40, 12), (79, 23), (80, 24), (200, 60)] {
            draw(app, w, h);
        }
    }
}
