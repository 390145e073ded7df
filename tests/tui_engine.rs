//! The TUI drives the real engine in this process, on virtual time: F5 on the virtual bench
//! starts four units on background threads and their events come back over the channel;
//! quitting closes running units as ABORTED; a locked unit fails, is inspected, recovered
//! (after a refused wrong label) and passes its retest; a torture campaign fills its map.

mod tui_support;

use std::path::Path;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use station::record::Outcome;
use station::station::torture::CutMode;
use station::tui::{Action, App, EngineMessage, PanelState};
use tui_support::engine::{BENCH, DEADLINE, bench, press, pump, record_outcome, repo, type_text};

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
    let (mut app, runner, messages) = bench(&repo("stations/virtual.toml"), records.path());
    let Action::Start(run) = press(&mut app, &runner, KeyCode::F(5)) else {
        panic!("F5 starts the free fixtures");
    };
    assert_eq!(run.units.len(), 4);
    pump(&mut app, &messages, |app| !app.working());

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
        assert_eq!(record_outcome(record), "PASS");
        // The six provisioning steps, the traceability check and the profile's console test.
        assert_eq!(fixture.finished_steps.len(), 8);
    }
    assert_eq!(app.exit_status(), station::error::ExitStatus::Pass);
}

#[test]
fn quitting_mid_run_closes_running_units_and_their_records_as_aborted() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let records = tempfile::tempdir().unwrap();
    let (mut app, runner, messages) = bench(&repo("stations/virtual.toml"), records.path());
    press(&mut app, &runner, KeyCode::F(5));
    // Quit once a unit is under way, so its record exists to be closed.
    pump(&mut app, &messages, |app| {
        app.fixtures
            .iter()
            .any(|f| f.state() == PanelState::Running)
    });
    assert_eq!(press(&mut app, &runner, KeyCode::F(10)), Action::Abort);
    pump(&mut app, &messages, App::should_exit);

    let mut aborted_records = 0;
    for fixture in &app.fixtures {
        let verdict = fixture.verdict.as_ref().expect("every unit closed");
        assert!(
            matches!(verdict.outcome, Outcome::Aborted | Outcome::Pass),
            "{verdict:?}"
        );
        if let Some(record) = &fixture.record {
            assert_eq!(record_outcome(record), verdict.outcome.to_string());
            aborted_records += usize::from(verdict.outcome == Outcome::Aborted);
        }
    }
    assert!(aborted_records > 0, "{:#?}", app.fixtures);
    // No provisional record is left for the next start to close.
    let journal = records.path().join(".station").join("journal");
    let left = std::fs::read_dir(&journal).map_or(0, |d| d.count());
    assert_eq!(left, 0, "{}", journal.display());
}

#[test]
fn a_locked_unit_fails_is_recovered_after_a_refused_label_and_passes_its_retest() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let path = tui_support::station(tmp.path(), "TUI-ENGINE");
    let (mut app, runner, messages) = bench(&path, &tmp.path().join("records"));
    press(&mut app, &runner, KeyCode::F(5));
    pump(&mut app, &messages, |app| !app.working());
    let failed = app.fixture("sim-4").unwrap().verdict.clone().unwrap();
    assert_eq!(failed.outcome, Outcome::Fail);
    assert!(failed.failure.unwrap_or_default().contains("protected"));
    assert_eq!(app.counters.passed, 3);

    press(&mut app, &runner, KeyCode::F(4));
    press(&mut app, &runner, KeyCode::BackTab);
    assert_eq!(app.selected, 3);
    press(&mut app, &runner, KeyCode::F(5));
    pump(&mut app, &messages, |app| !app.working());
    let view = app.rma["sim-4"].inspection.clone().expect("inspected");
    assert_eq!(view.rdp_level, Some(1));
    let (uid, label) = (view.uid.unwrap(), view.label.unwrap());
    assert_eq!(label, uid[uid.len() - 8..]);
    assert_eq!(view.history.len(), 1, "the failed production record");

    press(&mut app, &runner, KeyCode::F(7));
    type_text(&mut app, &runner, "0BADF00D");
    assert_eq!(press(&mut app, &runner, KeyCode::Enter), Action::None);
    assert!(app.rma["sim-4"].refused.is_some());

    press(&mut app, &runner, KeyCode::F(7));
    type_text(&mut app, &runner, &label.to_lowercase());
    assert!(matches!(
        press(&mut app, &runner, KeyCode::Enter),
        Action::Recover { .. }
    ));
    pump(&mut app, &messages, |app| !app.working());
    let recovered = app.rma["sim-4"].recover.clone().unwrap().end.unwrap();
    assert_eq!(recovered.outcome, Outcome::Pass, "{recovered:?}");
    assert_eq!(record_outcome(recovered.record.as_deref().unwrap()), "PASS");
    let after = app.rma["sim-4"].inspection.clone().unwrap();
    assert_eq!(after.rdp_level, Some(0));
    assert_eq!(after.history.len(), 2);

    let Action::Start(run) = press(&mut app, &runner, KeyCode::F(6)) else {
        panic!("F6 retests");
    };
    assert!(run.retest);
    pump(&mut app, &messages, |app| !app.working());
    let retest = app.fixture("sim-4").unwrap();
    assert_eq!(
        retest.verdict.as_ref().map(|v| v.outcome),
        Some(Outcome::Pass)
    );
    assert_eq!(
        retest.serial.as_deref(),
        Some(format!("UID-{uid}").as_str())
    );
    assert_eq!(record_outcome(retest.record.as_deref().unwrap()), "PASS");
}

#[test]
fn a_torture_campaign_fills_its_map_and_names_the_reproducer() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let records = tempfile::tempdir().unwrap();
    let (mut app, runner, messages) = bench(&repo("stations/zoo.toml"), records.path());
    press(&mut app, &runner, KeyCode::F(3));
    while app.selected_fixture().unwrap().id != "naive" {
        press(&mut app, &runner, KeyCode::Tab);
    }
    assert_eq!(
        press(&mut app, &runner, KeyCode::F(5)),
        Action::Torture("naive".into())
    );
    pump(&mut app, &messages, |app| !app.working());
    let c = &app.campaigns["naive"];
    let end = c.end.clone().unwrap();
    assert_eq!(end.outcome, Outcome::Fail, "{end:?}");
    assert_eq!(record_outcome(end.record.as_deref().unwrap()), "FAIL");
    assert!(c.total() > 0);
    assert_eq!(c.done(), c.total(), "every planned point has a result");
    let (point, _) = c.reproducer().expect("naive bricks");
    assert_eq!(point.mode, CutMode::HostAbort);
    let failure = end.text.unwrap_or_default();
    assert!(
        failure.contains(&format!("first: host-abort at operation {}", point.index)),
        "{failure}"
    );
}

#[test]
fn quitting_stops_a_campaign_after_its_point_and_it_resumes_from_its_journal() {
    let _bench = BENCH.lock().unwrap_or_else(PoisonError::into_inner);
    let records = tempfile::tempdir().unwrap();
    let (mut app, runner, messages) = bench(&repo("stations/zoo.toml"), records.path());
    press(&mut app, &runner, KeyCode::F(3));
    press(&mut app, &runner, KeyCode::F(5));
    // Quit once a point has run, so that the journal has something to resume.
    pump(&mut app, &messages, |app| {
        app.campaigns["crc-single"].done() > 0 || !app.working()
    });
    press(&mut app, &runner, KeyCode::F(10));
    pump(&mut app, &messages, App::should_exit);
    let c = &app.campaigns["crc-single"];
    let end = c.end.clone().unwrap();
    // The campaign sees the flag before its next point, unless it had already finished.
    if end.outcome != Outcome::Aborted {
        assert_eq!(end.outcome, Outcome::Pass, "{end:?}");
        return;
    }
    let text = end.text.unwrap_or_default();
    assert!(text.contains("run it again to resume"), "{text}");
    assert!(end.record.is_none());
    let done_before = c.done();
    assert!(done_before > 0 && done_before < c.total());

    // A new session: the points already run come back from the journal, not run again.
    let (mut app, runner, messages) = bench(&repo("stations/zoo.toml"), records.path());
    press(&mut app, &runner, KeyCode::F(3));
    press(&mut app, &runner, KeyCode::F(5));
    let mut resumed = 0;
    let deadline = Instant::now() + DEADLINE;
    while app.working() {
        assert!(Instant::now() < deadline, "the campaign still runs");
        if let Ok(message) = messages.recv_timeout(Duration::from_millis(200)) {
            if let EngineMessage::Event(station::station::Event::TorturePoint {
                resumed: true,
                ..
            }) = &message
            {
                resumed += 1;
            }
            app.on_message(&message);
        }
    }
    assert_eq!(resumed, done_before);
    let c = &app.campaigns["crc-single"];
    assert_eq!(c.end.as_ref().map(|e| e.outcome), Some(Outcome::Pass));
    assert_eq!(c.done(), c.total());
}
