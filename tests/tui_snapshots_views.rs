//! Snapshots of the Torture and RMA views at 80x24 and 160x48, driven by synthetic engine
//! messages (no hardware): a campaign running, failing and passing; a returned unit that
//! failed, the recovery confirmation, and the unit recovered and passing its retest.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use station::record::Outcome;
use station::sim::outcome::BootOutcome;
use station::station::Event;
use station::station::torture::{CutMode, Point};
use station::tui::{
    Action, App, CampaignEnd, Check, CheckState, EngineMessage, HistoryRow, JobEnd, Theme,
    UnitView, render,
};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];
const UID: &str = "892B3F850C6F3C0EB958888F";

fn press(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|frame| render(app, frame)).expect("draws");
    terminal
}

fn assert_views(app: &App, state: &str) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{state}_{w}x{h}"), draw(app, w, h).backend());
    }
}

fn has_colour(buffer: &Buffer) -> bool {
    buffer
        .content
        .iter()
        .any(|cell| cell.fg != Color::Reset || cell.bg != Color::Reset)
}

/// Three zoo fixtures with torture profiles; the second is selected, in the Torture view.
fn zoo(theme: Theme, t0: Instant) -> App {
    let fixtures = ["crc-single", "naive", "ab-slots"]
        .map(|f| (f.to_string(), format!("f407-{f}")))
        .to_vec();
    let mut app = App::new("zoo-bench", "engineer", fixtures, theme, t0);
    for f in &mut app.fixtures {
        f.caps.torture = true;
    }
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::Tab);
    app
}

/// What a naive bootloader does at a cut: corrupt past the first blocks of each mode.
fn naive_outcome(p: Point) -> BootOutcome {
    match p.index {
        0 => BootOutcome::InBootloader,
        1 | 2 if !p.mode.is_power() => BootOutcome::OldImage,
        9 => BootOutcome::NewImage,
        _ => BootOutcome::CorruptApp,
    }
}

/// Start the campaign on naive at t0 and calibrate it 2 s later; run `n` points, one a second.
fn naive_campaign(app: &mut App, t0: Instant, n: usize) -> Vec<Point> {
    assert_eq!(press(app, KeyCode::F(5)), Action::Torture("naive".into()));
    app.tick(t0 + Duration::from_secs(2));
    let points: Vec<Point> = CutMode::ALL
        .iter()
        .flat_map(|&mode| {
            let ops = if mode.is_power() { 8 } else { 10 };
            (0..ops).map(move |index| Point { mode, index })
        })
        .collect();
    app.on_event(&Event::TorturePlanned {
        fixture: "naive".into(),
        unit: 4,
        plan_operations: 10,
        flash_operations: 8,
        points: points.clone(),
    });
    for (i, p) in points.iter().take(n).enumerate() {
        let outcome = naive_outcome(*p);
        app.tick(t0 + Duration::from_secs(3 + i as u64));
        app.on_event(&Event::TorturePoint {
            fixture: "naive".into(),
            unit: 4,
            mode: p.mode,
            index: p.index,
            operation: format!(
                "write block {} (1024 bytes at 0x{:08x})",
                p.index,
                0x0800_8000 + p.index * 1024
            ),
            outcome,
            recovered: outcome != BootOutcome::CorruptApp,
            bricks: outcome == BootOutcome::CorruptApp,
            resumed: false,
            done: i as u64 + 1,
            total: points.len() as u64,
        });
    }
    points
}

#[test]
fn torture_running() {
    let t0 = Instant::now();
    let mut app = zoo(Theme::plain(), t0);
    naive_campaign(&mut app, t0, 30);
    app.tick(t0 + Duration::from_secs(32));
    let c = &app.campaigns["naive"];
    assert_eq!((c.done(), c.total()), (30, 54));
    assert_eq!(c.eta(app.now()), Some(Duration::from_secs(24)));
    let (point, _) = c.reproducer().expect("found once a point bricks");
    assert_eq!((point.mode, point.index), (CutMode::HostAbort, 3));
    assert_views(&app, "torture_running");
}

fn naive_failed(theme: Theme) -> App {
    let t0 = Instant::now();
    let mut app = zoo(theme, t0);
    let points = naive_campaign(&mut app, t0, 54);
    assert_eq!(points.len(), 54);
    app.tick(t0 + Duration::from_secs(60));
    app.on_message(&EngineMessage::TortureEnded {
        fixture: "naive".into(),
        end: CampaignEnd {
            outcome: Outcome::Fail,
            text: Some("38 cut point(s) leave the unit beyond a field update; first: host-abort at operation 3 (write block 3 (1024 bytes at 0x08008c00)) → CorruptApp".into()),
            record: Some("logs/UID-35F0A079772320896C123EBC/20261121T073502957Z-bd08ce8d41.json".into()),
            needs_boot0: false,
        },
    });
    app
}

#[test]
fn torture_failing() {
    let app = naive_failed(Theme::plain());
    assert!(!app.working());
    assert_views(&app, "torture_failing");
}

#[test]
fn torture_passing() {
    let t0 = Instant::now();
    let mut app = zoo(Theme::plain(), t0);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::F(5));
    let points: Vec<Point> = CutMode::ALL
        .iter()
        .flat_map(|&mode| {
            let ops = if mode.is_power() { 18 } else { 10 };
            (0..ops).map(move |index| Point { mode, index })
        })
        .collect();
    app.on_event(&Event::TorturePlanned {
        fixture: "ab-slots".into(),
        unit: 2,
        plan_operations: 10,
        flash_operations: 18,
        points: points.clone(),
    });
    for (i, p) in points.iter().enumerate() {
        let outcome = if p.index < 8 {
            BootOutcome::OldImage
        } else {
            BootOutcome::NewImage
        };
        app.on_event(&Event::TorturePoint {
            fixture: "ab-slots".into(),
            unit: 2,
            mode: p.mode,
            index: p.index,
            operation: "erase sector 5".into(),
            outcome,
            recovered: true,
            bricks: false,
            // The first half came from the journal of an interrupted run.
            resumed: i < 40,
            done: i as u64 + 1,
            total: points.len() as u64,
        });
    }
    app.tick(t0 + Duration::from_secs(95));
    app.on_message(&EngineMessage::TortureEnded {
        fixture: "ab-slots".into(),
        end: CampaignEnd {
            outcome: Outcome::Pass,
            text: None,
            record: Some(
                "logs/UID-19E1F9A15272FA8B6FC7F672/20261121T073503571Z-fc40fffeab.json".into(),
            ),
            needs_boot0: false,
        },
    });
    assert!(app.campaigns["ab-slots"].reproducer().is_none());
    assert_views(&app, "torture_passing");
}

#[test]
fn the_torture_map_reads_the_same_without_colour() {
    let plain = draw(&naive_failed(Theme::plain()), 80, 24);
    let coloured = draw(&naive_failed(Theme::colour()), 80, 24);
    assert!(!has_colour(plain.backend().buffer()));
    assert!(has_colour(coloured.backend().buffer()));
    assert_eq!(plain.backend().to_string(), coloured.backend().to_string());
}

fn unknown(text: &str) -> Check {
    Check {
        state: CheckState::Unknown,
        text: text.into(),
    }
}

fn good(text: &str) -> Check {
    Check {
        state: CheckState::Good,
        text: text.into(),
    }
}

fn row(started: &str, kind: &str, outcome: Outcome, failure: Option<&str>) -> HistoryRow {
    HistoryRow {
        started: started.into(),
        kind: kind.into(),
        outcome,
        fixture: "sim-4".into(),
        failure: failure.map(str::to_string),
        record_id: "20261121T072329241Z-1feed98355".into(),
    }
}

const PROTECTED: &str = "flash_bootloader: target is protected: the flash algorithm failed (write or read protection?): Failed to erase flash sector at address 0x08000000.";

fn locked_unit() -> UnitView {
    let unreadable = "unreadable: rdp level 1 blocks debugger reads of the flash";
    UnitView {
        via: "swd".into(),
        uid: Some(UID.into()),
        chip: Some("IDCODE 0x10076413 (DEV_ID 0x413) · 1024 KiB flash".into()),
        label: Some("B958888F".into()),
        label_source: Some(format!("the last 8 hex digits of UID {UID}")),
        last_production_record: Some("20261121T072329241Z-1feed98355".into()),
        usb_now: "nothing (no application, bootloader or ST ROM enumerates)".into(),
        rdp_level: Some(1),
        option_bytes: vec![
            ("WRP sectors".into(), "none".into()),
            ("BOR".into(), "off".into()),
            ("OPTCR".into(), "0x0fff55ec".into()),
        ],
        bootloader: unknown(unreadable),
        slots: vec![("a".into(), unknown(unreadable)), ("b".into(), unknown(unreadable))],
        would_boot: unknown("unknown: the flash could not be read"),
        notes: vec!["RDP level 1: the flash cannot be read over SWD; `station recover` regresses RDP, which erases the flash".into()],
        history: vec![row("2026-11-21 07:23", "production", Outcome::Fail, Some(PROTECTED))],
        history_problems: 0,
    }
}

/// Four fixtures; sim-4's unit failed production, locked; the RMA view inspected it.
fn returned(t0: Instant) -> App {
    let fixtures = (1..=4)
        .map(|i| (format!("sim-{i}"), "f407-demo".to_string()))
        .collect();
    let mut app = App::new("test-bench", "technician", fixtures, Theme::plain(), t0);
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
    }
    press(&mut app, KeyCode::F(6));
    app.tick(t0 + Duration::from_secs(3));
    app.on_event(&Event::UnitFinished {
        fixture: "sim-4".into(),
        unit: 4,
        serial: format!("UID-{UID}"),
        outcome: Outcome::Fail,
        record: "records/UID/r.json".into(),
        failure: Some(PROTECTED.into()),
    });
    press(&mut app, KeyCode::F(4));
    // The start moved the selection on to the next free fixture.
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.selected, 3);
    press(&mut app, KeyCode::F(5));
    app.on_message(&EngineMessage::Inspected {
        fixture: "sim-4".into(),
        result: Ok(locked_unit()),
    });
    app
}

#[test]
fn rma_failing() {
    let app = returned(Instant::now());
    assert_views(&app, "rma_failing");
}

#[test]
fn rma_confirm() {
    let mut app = returned(Instant::now());
    press(&mut app, KeyCode::F(7));
    for c in "B9588".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    assert_views(&app, "rma_confirm");
}

#[test]
fn rma_passing() {
    let t0 = Instant::now();
    let mut app = returned(t0);
    press(&mut app, KeyCode::F(7));
    for c in "B958888F".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Action::Recover { .. }
    ));
    let mut after = locked_unit();
    after.rdp_level = Some(0);
    after.usb_now = "bootloader in DFU mode 1209:df00 \"crc-single DFU bootloader\"".into();
    after.bootloader = good("match: matches bootloader-crc-single.bin byte for byte");
    after.slots = vec![
        (
            "a".into(),
            Check {
                state: CheckState::Bad,
                text: "blank at 0x08008000: erased".into(),
            },
        ),
        (
            "b".into(),
            Check {
                state: CheckState::Bad,
                text: "blank at 0x08080000: erased".into(),
            },
        ),
    ];
    after.would_boot = Check {
        state: CheckState::Bad,
        text: "the bootloader, waiting in DFU mode: no valid application".into(),
    };
    after.notes.clear();
    after
        .history
        .insert(0, row("2026-11-21 07:25", "rma", Outcome::Pass, None));
    app.on_message(&EngineMessage::Recovered {
        fixture: "sim-4".into(),
        end: JobEnd {
            outcome: Outcome::Pass,
            text: "recovered".into(),
            record: Some("records/UID/rma.json".into()),
        },
        after: Some(Ok(after)),
    });
    app.tick(t0 + Duration::from_secs(5));
    let Action::Start(run) = press(&mut app, KeyCode::F(6)) else {
        panic!("F6 retests");
    };
    assert!(run.retest);
    app.tick(t0 + Duration::from_secs(20));
    app.on_event(&Event::UnitFinished {
        fixture: "sim-4".into(),
        unit: 5,
        serial: format!("UID-{UID}"),
        outcome: Outcome::Pass,
        record: "records/UID/r2.json".into(),
        failure: None,
    });
    app.on_run_ended(run.id, None);
    assert_views(&app, "rma_passing");
}

#[test]
fn every_view_and_the_confirmation_render_at_any_size_without_panicking() {
    let t0 = Instant::now();
    let mut running = zoo(Theme::colour(), t0);
    naive_campaign(&mut running, t0, 20);
    let mut confirm = returned(t0);
    press(&mut confirm, KeyCode::F(7));
    let mut help = returned(t0);
    press(&mut help, KeyCode::Char('?'));
    assert!(help.help);
    let apps = [
        running,
        naive_failed(Theme::colour()),
        returned(t0),
        confirm,
        help,
    ];
    for app in &apps {
        for (w, h) in [(1, 1), (10, 5), (40, 12), (79, 23), (80, 24), (200, 60)] {
            draw(app, w, h);
        }
    }
}
