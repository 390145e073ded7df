//! Typed confirmations and the keys of the Torture and RMA views: RDP level 2 and recovery
//! need the unit's label typed in a modal (the scanned label in any case, else the last 8 hex
//! digits of its UID); a wrong entry refuses and nothing starts; a fixture busy with a
//! campaign or RMA work takes nothing else.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use station::record::Outcome;
use station::station::rma::inspect::Via;
use station::tui::{
    Action, App, Caps, EngineMessage, JobEnd, StartRequest, StartRun, Theme, UnitView, View,
};

const UID: &str = "892B3F850C6F3C0EB958888F";

fn app() -> App {
    let fixtures = (1..=3)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    let mut app = App::new("bench", "op", fixtures, Theme::plain(), Instant::now());
    app.fixtures[1].caps = Caps {
        torture: false,
        permanent_lock: true,
    };
    app.fixtures[2].caps.torture = true;
    app
}

fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) -> Vec<Action> {
    text.chars().map(|c| press(app, KeyCode::Char(c))).collect()
}

fn inspected(app: &mut App, fixture: &str) {
    let view = UnitView {
        uid: Some(UID.into()),
        label: Some("B958888F".into()),
        label_source: Some(format!("the last 8 hex digits of UID {UID}")),
        rdp_level: Some(1),
        ..UnitView::default()
    };
    app.on_message(&EngineMessage::Inspected {
        fixture: fixture.into(),
        result: Ok(view),
    });
}

#[test]
fn rdp_level_2_asks_for_the_label_and_passes_it_to_the_engine() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "LBL-2");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    assert!(app.modal.is_some(), "the modal asks first");
    assert!(!app.fixture("sim-2").unwrap().busy);
    // The modal takes letters and F-keys do nothing behind it.
    assert_eq!(press(&mut app, KeyCode::F(5)), Action::None);
    assert_eq!(press(&mut app, KeyCode::F(3)), Action::None);
    assert_eq!(app.view, View::Line);
    type_text(&mut app, "lbl-2");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Action::Start(StartRun {
            id: 1,
            units: vec![StartRequest {
                fixture: "sim-2".into(),
                label: Some("LBL-2".into()),
                typed_label: Some("LBL-2".into()),
            }],
            retest: false,
            golden: false,
        })
    );
    assert!(app.modal.is_none());
}

#[test]
fn a_scanned_label_full_of_shortcut_letters_is_the_one_to_type_in_any_case() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    let label = "F1qQ?xE";
    type_text(&mut app, label);
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    // The UID's hex digits are not the label the engine checks once one was scanned.
    type_text(&mut app, "b958888f");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    let refused = app.notice.clone().unwrap_or_default();
    assert!(refused.contains("not the unit's label"), "{refused}");
    assert!(!app.fixture("sim-2").unwrap().busy);

    type_text(&mut app, label);
    press(&mut app, KeyCode::Enter);
    // Letters and `?` go to the modal, never to a command.
    let actions = type_text(&mut app, "f1Qq?Xe");
    assert!(actions.iter().all(|a| *a == Action::None));
    assert!(!app.help && app.view == View::Line);
    let Action::Start(run) = press(&mut app, KeyCode::Enter) else {
        panic!("the label typed in another case starts the unit");
    };
    assert_eq!(run.units[0].label.as_deref(), Some(label));
    assert_eq!(run.units[0].typed_label.as_deref(), Some(label));
}

#[test]
fn a_retest_of_an_inspected_unit_asks_for_the_last_8_hex_digits_of_its_uid() {
    let mut app = app();
    press(&mut app, KeyCode::F(4));
    press(&mut app, KeyCode::Tab);
    inspected(&mut app, "sim-2");
    press(&mut app, KeyCode::F(6));
    type_text(&mut app, "12345678");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None, "not its UID");
    press(&mut app, KeyCode::F(6));
    type_text(&mut app, "b958888f");
    let Action::Start(run) = press(&mut app, KeyCode::Enter) else {
        panic!("its label starts the retest");
    };
    assert!(run.retest);
    assert_eq!(run.units[0].typed_label.as_deref(), Some("B958888F"));
}

#[test]
fn a_wrong_label_for_rdp_level_2_refuses_and_f5_leaves_such_fixtures_out() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::F(6));
    type_text(&mut app, "not-it");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    assert!(app.modal.is_none());
    assert!(
        app.notice
            .as_deref()
            .unwrap_or_default()
            .starts_with("Refused")
    );
    assert!(!app.fixture("sim-2").unwrap().busy);

    let Action::Start(run) = press(&mut app, KeyCode::F(5)) else {
        panic!("F5 starts the others");
    };
    let started: Vec<&str> = run.units.iter().map(|u| u.fixture.as_str()).collect();
    assert_eq!(started, ["sim-1", "sim-3"]);
    assert!(app.notice.as_deref().unwrap_or_default().contains("sim-2"));
}

#[test]
fn recovery_needs_an_inspection_then_the_label_and_refuses_a_wrong_one() {
    let mut app = app();
    press(&mut app, KeyCode::F(4));
    assert_eq!(press(&mut app, KeyCode::F(7)), Action::None);
    assert!(app.modal.is_none());
    assert!(
        app.notice
            .as_deref()
            .unwrap_or_default()
            .contains("Inspect")
    );

    assert_eq!(
        press(&mut app, KeyCode::F(5)),
        Action::Inspect("sim-1".into(), Via::Swd)
    );
    assert_eq!(press(&mut app, KeyCode::F(5)), Action::None, "busy");
    inspected(&mut app, "sim-1");
    assert_eq!(app.job("sim-1"), None);

    press(&mut app, KeyCode::F(7));
    let prompt = app.modal.as_ref().unwrap().prompt().join(" ");
    assert!(prompt.contains("ERASES THE WHOLE FLASH"), "{prompt}");
    type_text(&mut app, "B958888E");
    assert_eq!(press(&mut app, KeyCode::Enter), Action::None);
    let refused = app.rma["sim-1"].refused.clone().unwrap_or_default();
    assert!(refused.contains("nothing was changed"), "{refused}");
    assert_eq!(app.job("sim-1"), None);

    press(&mut app, KeyCode::F(7));
    type_text(&mut app, "b958888f");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Action::Recover {
            fixture: "sim-1".into(),
            // Typed in any case; the engine gets the label as recorded.
            typed: "B958888F".into()
        }
    );
    assert!(app.working());
    // Busy: no retest, inspection or production unit on it until it ends.
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None);
    press(&mut app, KeyCode::F(2));
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None);
    app.on_message(&EngineMessage::Recovered {
        fixture: "sim-1".into(),
        end: JobEnd {
            outcome: Outcome::Pass,
            text: "recovered".into(),
            record: Some("r.json".into()),
        },
        after: None,
    });
    assert!(!app.working());
    press(&mut app, KeyCode::F(4));
    // The inspection saw RDP level 1: the retest asks for the label first (it reopens the
    // unit), then starts.
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None);
    type_text(&mut app, "B958888F");
    let Action::Start(run) = press(&mut app, KeyCode::Enter) else {
        panic!("F6 retests");
    };
    assert!(run.retest);
    assert_eq!(run.units[0].fixture, "sim-1");
}

#[test]
fn esc_cancels_a_confirmation_and_quit_still_works_behind_it() {
    let mut app = app();
    press(&mut app, KeyCode::F(4));
    inspected(&mut app, "sim-1");
    press(&mut app, KeyCode::F(7));
    press(&mut app, KeyCode::Esc);
    assert!(app.modal.is_none());
    press(&mut app, KeyCode::F(7));
    assert_eq!(press(&mut app, KeyCode::F(10)), Action::Exit);
}

#[test]
fn a_campaign_needs_a_torture_profile_and_holds_its_fixture() {
    let mut app = app();
    press(&mut app, KeyCode::F(3));
    assert_eq!(press(&mut app, KeyCode::F(5)), Action::None);
    assert!(
        app.notice
            .as_deref()
            .unwrap_or_default()
            .contains("[torture]")
    );
    press(&mut app, KeyCode::Left);
    assert_eq!(app.selected, 2);
    assert_eq!(
        press(&mut app, KeyCode::F(5)),
        Action::Torture("sim-3".into())
    );
    assert_eq!(press(&mut app, KeyCode::F(5)), Action::None);
    press(&mut app, KeyCode::F(2));
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None);
    assert!(
        app.notice
            .as_deref()
            .unwrap_or_default()
            .contains("torture")
    );
    // Quitting waits for the campaign.
    assert_eq!(press(&mut app, KeyCode::F(10)), Action::Abort);
    assert!(!app.should_exit());
    app.on_message(&EngineMessage::TortureEnded {
        fixture: "sim-3".into(),
        end: station::tui::CampaignEnd {
            outcome: Outcome::Aborted,
            text: Some("stopped".into()),
            record: None,
            needs_boot0: false,
        },
    });
    assert!(app.should_exit());
}

#[test]
fn a_retest_of_a_locked_unit_asks_for_the_label_it_carries_before_starting() {
    // sim-1's profile locks nothing for good; its unit is at RDP level 1: a retest regresses
    // RDP (erasing the unit), which the engine allows only behind the unit's label.
    let mut app = app();
    press(&mut app, KeyCode::F(4));
    let view = UnitView {
        uid: Some(UID.into()),
        label: Some("SN-77".into()),
        label_source: Some("the label on the unit, as scanned at production".into()),
        rdp_level: Some(1),
        ..UnitView::default()
    };
    app.on_message(&EngineMessage::Inspected {
        fixture: "sim-1".into(),
        result: Ok(view),
    });
    assert_eq!(press(&mut app, KeyCode::F(6)), Action::None, "asks first");
    let modal = app.modal.as_ref().expect("a confirmation");
    assert!(
        modal.title().contains("Erases the unit"),
        "{}",
        modal.title()
    );
    assert!(modal.prompt().join(" ").contains("RDP level 1"));
    type_text(&mut app, "B958888F");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Action::None,
        "not its label"
    );
    press(&mut app, KeyCode::F(6));
    type_text(&mut app, "sn-77");
    let Action::Start(run) = press(&mut app, KeyCode::Enter) else {
        panic!("its label starts the retest");
    };
    assert!(run.retest);
    assert_eq!(run.units[0].typed_label.as_deref(), Some("SN-77"));
}

#[test]
fn a_retest_of_an_unlocked_unit_starts_at_once() {
    let mut app = app();
    press(&mut app, KeyCode::F(4));
    let view = UnitView {
        uid: Some(UID.into()),
        label: Some("SN-77".into()),
        rdp_level: Some(0),
        ..UnitView::default()
    };
    app.on_message(&EngineMessage::Inspected {
        fixture: "sim-1".into(),
        result: Ok(view),
    });
    assert!(matches!(press(&mut app, KeyCode::F(6)), Action::Start(_)));
}
