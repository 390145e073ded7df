//! End to end through the real binary in tmux (send-keys, capture-pane), at a high time scale,
//! polling the screen with a deadline: four units start on a virtual bench in a temp dir, one
//! arrives locked (the `rdp1` fault) and fails; its reason is on screen; the RMA view
//! inspects it, refuses a wrong label, recovers it with the right one, and its retest passes.
//! A station that requires an operator, started without `--operator`, asks for the name first
//! and records it. Skips, saying so, only when tmux is not installed.

mod tui_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(50);
const SESSION: &str = "e2e";

/// A tmux server of its own (its socket in the test's temp dir), killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env_remove("TMUX").arg("-S").arg(&self.socket);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.tmux().args(args).output().expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        out
    }

    fn start(&self, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "160",
            "-y",
            "48",
            command,
        ]);
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", SESSION, key]);
        }
    }

    /// Typed as characters, never read as key names.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", SESSION, "-l", text]);
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll the screen until `done` holds for it; fail with the screen after the deadline.
    fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {DEADLINE:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

fn tmux_installed() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The unit's label as the RMA view shows it: "· label 1F8CBEF3".
fn label_on(screen: &str) -> String {
    let at = screen.find("· label ").expect("the label is shown") + "· label ".len();
    screen[at..at + 8].to_string()
}

/// "kind outcome" of each record of sim-4's units in `records`, oldest first.
fn records_of(records: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for unit in std::fs::read_dir(records).unwrap().flatten() {
        if unit.file_name().to_string_lossy().starts_with('.') || !unit.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(unit.path()).unwrap().flatten() {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
            if v["fixture"] == "sim-4" {
                let id = v["record_id"].as_str().unwrap_or_default().to_string();
                out.push((id, format!("{} {}", v["kind"], v["outcome"])));
            }
        }
    }
    // Record ids sort by time.
    out.sort();
    out.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn four_units_one_locked_read_its_reason_recover_it_and_pass_the_retest() {
    if !tmux_installed() {
        println!("SKIPPED tui_tmux: tmux is not installed (.ci/run installs it when root)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let station = tui_support::station(tmp.path(), "TUI-TMUX");
    let tmux = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    let command = format!(
        "env STATION_KEY_DIR='{}' NO_COLOR=1 '{}' tui --station '{}' --time realtime:50; \
         echo EXITED $?; sleep 600",
        tui_support::key_dir().display(),
        env!("CARGO_BIN_EXE_station"),
        station.display()
    );
    tmux.start(&command);
    tmux.wait_for("Scan → sim-1");

    // Four units; the locked one fails and says why, in plain words.
    tmux.keys(&["F5"]);
    // Counters and panels are one frame, but a capture can land while the terminal is still
    // drawing it: wait for the whole frame.
    let line = tmux.wait("four verdicts", |s| {
        s.contains("Tested 4  Passed 3  Failed 1") && s.matches("✓ PASS ·").count() == 3
    });
    assert!(
        line.contains("The chip is read-protected (locked)"),
        "{line}"
    );
    assert!(line.contains("aside for RMA"), "{line}");
    assert_eq!(line.matches("✓ PASS ·").count(), 3, "{line}");

    // The RMA view on sim-4: inspect.
    tmux.keys(&["F4", "BTab", "F5"]);
    let rma = tmux.wait_for("level 1: flash read-protected");
    assert!(rma.contains("▶sim-4"), "{rma}");
    assert!(rma.contains("History: 1 record(s)"), "{rma}");
    let label = label_on(&rma);

    // A wrong label refuses and changes nothing.
    tmux.keys(&["F7"]);
    tmux.wait_for("Recover the unit on sim-4?");
    tmux.type_text("0BADF00D");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Refused: you typed \"0BADF00D\"");

    // The right one (in lower case) recovers it: RDP regressed, bootloader back.
    tmux.keys(&["F7"]);
    tmux.wait_for("Recover the unit on sim-4?");
    tmux.type_text(&label.to_lowercase());
    tmux.keys(&["Enter"]);
    let recovered = tmux.wait_for("✓ Recovered");
    tmux.wait_for("level 0: open");
    assert!(!recovered.contains("Recover the unit on"), "{recovered}");

    // The retest of the same unit passes, here and on the Line view.
    tmux.keys(&["F6"]);
    tmux.wait_for("✓ Production test PASS");
    tmux.keys(&["F2"]);
    let line = tmux.wait("four passes", |s| s.matches("✓ PASS ·").count() == 4);
    assert!(line.contains("Passed 4  Failed 1"), "{line}");

    // Quitting: the session's worst unit failed, so exit 1, as `station run` would.
    tmux.keys(&["F10"]);
    tmux.wait_for("EXITED 1");
    assert_eq!(
        records_of(&tmp.path().join("records")),
        [
            "\"production\" \"FAIL\"",
            "\"rma\" \"PASS\"",
            "\"production\" \"PASS\""
        ]
    );
}

#[test]
fn a_station_that_requires_an_operator_asks_for_the_name_and_records_it() {
    if !tmux_installed() {
        println!("SKIPPED tui_tmux: tmux is not installed (.ci/run installs it when root)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let top = "[operator]\nrequired = true";
    let station = tui_support::policy_station(tmp.path(), "TUI-TMUX-OPERATOR", top, "");
    let tmux = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    let command = format!(
        "env STATION_KEY_DIR='{}' NO_COLOR=1 '{}' tui --station '{}' --time realtime:50; \
         echo EXITED $?; sleep 600",
        tui_support::key_dir().display(),
        env!("CARGO_BIN_EXE_station"),
        station.display()
    );
    tmux.start(&command);
    tmux.wait_for("Who is operating this station?");
    // Nothing starts before a name is given.
    tmux.keys(&["F6"]);
    tmux.type_text("Ana Lima");
    tmux.keys(&["Enter"]);
    let line = tmux.wait_for("operator Ana Lima");
    assert!(!line.contains("Who is operating"), "{line}");
    assert!(line.contains("○ Ready"), "{line}");
    tmux.keys(&["F6"]);
    tmux.wait_for("✓ PASS ·");
    tmux.keys(&["F10"]);
    tmux.wait_for("EXITED 0");
    let unit = std::fs::read_dir(tmp.path().join("records"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("UID-"))
        .expect("the unit's records");
    let record = std::fs::read_dir(unit.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record.path()).unwrap()).unwrap();
    assert_eq!(v["operator"], "Ana Lima");
}

#[test]
fn a_key_typed_after_a_resize_shows_at_once() {
    let Some((_tmp, tmux)) = tui_on_one_fixture("TUI-TMUX-RESIZE", "") else {
        return;
    };
    tmux.type_text("SN-1");
    tmux.wait_for("SN-1");
    for (x, y) in [("120", "40"), ("100", "30"), ("140", "44")] {
        tmux.run(&["resize-window", "-t", SESSION, "-x", x, "-y", y]);
    }
    tmux.type_text("X");
    // The key used to stay held (the loop spinning) until the next key arrived.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let screen = tmux.screen();
        if screen.contains("SN-1X") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key after a resize is held:\n{screen}"
        );
        std::thread::sleep(POLL);
    }
    tmux.keys(&["F10"]);
    tmux.wait_for("EXITED 0");
}

#[test]
fn quitting_mid_unit_closes_it_as_aborted_at_once_and_exits_4() {
    // The unit's USB hangs in the DFU download (only the watchdog would end it): the first
    // F10 cannot stop it after its step, the second quits with it in flight.
    let Some((tmp, tmux)) = tui_on_one_fixture("TUI-TMUX-QUIT", "\"hang-at-request:3\"") else {
        return;
    };
    tmux.keys(&["F6"]);
    tmux.wait_for("▶ Downloading application");
    tmux.keys(&["F10"]);
    tmux.wait_for("F10 again");
    tmux.keys(&["F10"]);
    tmux.wait_for("EXITED 4");
    let records = tmp.path().join("records");
    let aborted: Vec<serde_json::Value> = std::fs::read_dir(&records)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir())
        .flat_map(|unit| std::fs::read_dir(unit.path()).unwrap().flatten())
        .map(|r| serde_json::from_slice(&std::fs::read(r.path()).unwrap()).unwrap())
        .collect();
    let listing: Vec<_> = walk(&records);
    assert_eq!(aborted.len(), 1, "{aborted:?} {listing:?}");
    assert_eq!(aborted[0]["outcome"], "ABORTED");
    let failure = aborted[0]["failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("aborted by the operator") || failure.contains("the station was quit"),
        "{failure}"
    );
    let journals = records.join(".station").join("journal");
    let open = std::fs::read_dir(&journals)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(open, 0, "a unit was left open in the journal");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The TUI in tmux on a one-fixture station with `faults`, waiting at the Line view; None (and
/// says so) when tmux is not installed. The temp dir holds the station and its records.
fn tui_on_one_fixture(tag: &str, faults: &str) -> Option<(tempfile::TempDir, Tmux)> {
    if !tmux_installed() {
        println!("SKIPPED tui_tmux: tmux is not installed (.ci/run installs it when root)");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let station = tui_support::policy_station(tmp.path(), tag, "", faults);
    let tmux = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    let command = format!(
        "env STATION_KEY_DIR='{}' NO_COLOR=1 '{}' tui --station '{}'; echo EXITED $?; sleep 600",
        tui_support::key_dir().display(),
        env!("CARGO_BIN_EXE_station"),
        station.display()
    );
    tmux.start(&command);
    tmux.wait_for("Scan");
    Some((tmp, tmux))
}
