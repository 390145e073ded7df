//! `station check` refuses what would fail or crash every unit later: limits no unit can meet
//! or that name no step, non-finite limits, a watchdog or golden period too long to be a
//! duration, a records path that is empty or a file. `run` refuses a pace it cannot keep.
//! Each is a located error, exit 2, before any unit is touched.

mod common;

use common::check::*;

const LIMITS: &str = "dfu_download_s = { high = 60.0 }";

#[test]
fn a_limit_with_low_above_high_is_refused() {
    let s = Scratch::new();
    let text = s.edit(
        PROFILE,
        LIMITS,
        "dfu_download_s = { low = 70.0, high = 60.0 }",
    );
    assert_error(
        &s.check(),
        PROFILE,
        locate(&text, "[limits]", "dfu_download_s"),
        "limits.dfu_download_s",
        &["low <= high", "70", "60", "no unit could pass"],
    );
    assert_error_count(&s.check(), 1);
}

#[test]
fn a_mistyped_limit_name_is_refused_with_the_step_names() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, LIMITS, "dfu_downlaod_s = { high = 60.0 }");
    assert_error(
        &s.check(),
        PROFILE,
        locate(&text, "[limits]", "dfu_downlaod_s"),
        "limits.dfu_downlaod_s",
        &[
            "<step>_s",
            "dfu_download",
            "console_<test name>",
            "\"dfu_downlaod_s\"",
        ],
    );
}

#[test]
fn a_console_tests_duration_is_a_known_limit() {
    let s = Scratch::new();
    s.edit(PROFILE, LIMITS, "console_version_s = { high = 2.0 }");
    let out = s.check();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn non_finite_limits_are_refused() {
    for (value, side) in [
        ("high = nan", "high"),
        ("low = -inf", "low"),
        ("high = inf", "high"),
    ] {
        let s = Scratch::new();
        let text = s.edit(PROFILE, LIMITS, &format!("dfu_download_s = {{ {value} }}"));
        assert_error(
            &s.check(),
            PROFILE,
            locate(&text, "[limits]", "dfu_download_s"),
            &format!("limits.dfu_download_s.{side}"),
            &["expected a finite number"],
        );
    }
}

#[test]
fn a_watchdog_longer_than_a_day_is_refused() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "mode = \"production\"\n",
        "mode = \"production\"\nwatchdog_s = 1e20\n",
    );
    assert_error(
        &s.check(),
        STATION,
        locate(&text, "", "1e20"),
        "watchdog_s",
        &["at most 86400", "(a day), found 100000000000000000000"],
    );
}

#[test]
fn a_golden_period_longer_than_a_year_is_refused() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "[operator]",
        "[golden]\nuid = \"0123456789abcdef01234567\"\nevery_hours = 1e10\n\n[operator]",
    );
    assert_error(
        &s.check(),
        STATION,
        locate(&text, "[golden]", "1e10"),
        "golden.every_hours",
        &["at most 8784", "a year"],
    );
}

#[test]
fn an_empty_records_path_is_refused() {
    let s = Scratch::new();
    let text = s.edit(STATION, "records = \"../logs\"", "records = \"\"");
    assert_error(
        &s.check(),
        STATION,
        locate(&text, "", "\"\""),
        "records",
        &["expected a records directory", "empty path"],
    );
}

#[test]
fn a_records_path_that_is_a_file_is_refused() {
    let s = Scratch::new();
    std::fs::write(s.path("records.txt"), "not a directory").unwrap();
    let text = s.edit(
        STATION,
        "records = \"../logs\"",
        "records = \"../records.txt\"",
    );
    assert_error(
        &s.check(),
        STATION,
        locate(&text, "", "\"../records.txt\""),
        "records",
        &["expected a directory, found a file", "records.txt"],
    );
}

#[test]
fn a_pace_that_cannot_be_kept_is_a_usage_error_before_any_unit() {
    let s = Scratch::new();
    let logs = s.path("logs");
    for pace in ["realtime:1e-308", "realtime:1e20"] {
        let out = common::station()
            .args([
                "run",
                "--headless",
                "--station",
                STATION,
                "--units",
                "1",
                "--time",
                pace,
            ])
            .current_dir(s.dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{pace}: {stderr}");
        assert!(
            stderr.contains("realtime:SCALE") && stderr.contains(pace),
            "{stderr}"
        );
        assert!(
            !logs.exists() || std::fs::read_dir(&logs).unwrap().next().is_none(),
            "{pace}: a record was written"
        );
    }
}

const SLOT_B: &str = "{ name = \"b\", start = 0x08080000, size = 0x80000 }";

/// The profile with slot b replaced by `slot`: the error is located at slot b, with `phrases`.
#[track_caller]
fn slot_b_refused(slot: &str, phrases: &[&str]) {
    let s = Scratch::new();
    let text = s.edit(PROFILE, SLOT_B, slot);
    let at = text.find(slot).expect("the edited slot");
    assert_error(
        &s.check(),
        PROFILE,
        line_col(&text, at),
        "memory.slots[1]",
        phrases,
    );
}

#[test]
fn a_slot_in_ram_is_refused() {
    slot_b_refused(
        "{ name = \"b\", start = 0x20000000, size = 0x8000 }",
        &["slot \"b\" 0x20000000..0x20008000 lies outside memory.flash"],
    );
}

#[test]
fn a_slot_past_the_end_of_flash_or_of_the_address_space_is_refused() {
    slot_b_refused(
        "{ name = \"b\", start = 0x08080000, size = 0xFFFFFFFF }",
        &["lies outside memory.flash 0x08000000..0x08100000"],
    );
    slot_b_refused(
        "{ name = \"b\", start = 0x080C0000, size = 0x80000 }",
        &["0x080c0000..0x08140000 lies outside memory.flash"],
    );
}

#[test]
fn an_empty_slot_is_refused() {
    slot_b_refused(
        "{ name = \"b\", start = 0x08080000, size = 0 }",
        &["slot \"b\" has size 0"],
    );
}

#[test]
fn overlapping_slots_are_refused() {
    slot_b_refused(
        "{ name = \"b\", start = 0x08070000, size = 0x80000 }",
        &["overlaps slot \"a\" 0x08008000..0x08080000"],
    );
}

#[test]
fn two_slots_with_one_name_are_refused() {
    slot_b_refused(
        "{ name = \"a\", start = 0x08080000, size = 0x80000 }",
        &["slot name \"a\" is used twice"],
    );
}

#[test]
fn a_chip_of_another_family_is_refused() {
    let s = Scratch::new();
    let text = s.edit(
        PROFILE,
        "chip = \"STM32F407VGTx\"",
        "chip = \"STM32H743ZITx\"",
    );
    assert_error(
        &s.check(),
        PROFILE,
        locate(&text, "", "\"STM32H743ZITx\""),
        "chip",
        &["family f4 expects an STM32F4... part", "STM32H743ZITx"],
    );
}

#[test]
fn a_simulated_fixture_with_a_real_probe_is_refused() {
    let s = Scratch::new();
    let station = s.read(STATION);
    let probe = station
        .lines()
        .find(|l| l.starts_with("probe = \"1209:5151:"))
        .expect("a simulated fixture's probe")
        .to_string();
    let text = s.edit(STATION, &probe, "probe = \"0483:374b:SIM0001\"");
    assert_error(
        &s.check(),
        STATION,
        locate(&text, "", "\"0483:374b:SIM0001\""),
        "fixtures[0].probe",
        &[
            "the virtual bench's",
            "1209:5151:SERIAL",
            "0483:374b:SIM0001",
        ],
    );
}

#[test]
fn a_profile_that_is_a_device_is_refused_without_reading_it_all() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "profile = \"../profiles/f407-demo.toml\"",
        "profile = \"/dev/zero\"",
    );
    let out = s.check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let (line, column) = locate(&text, "", "\"/dev/zero\"");
    assert!(
        stderr.contains(&format!("{STATION}:{line}:{column}"))
            && stderr.contains("cannot read /dev/zero: it is larger than 1048576 bytes"),
        "{stderr}"
    );
}

#[test]
fn a_byte_that_is_not_utf8_is_located() {
    let s = Scratch::new();
    let mut bytes = s.read(STATION).into_bytes();
    let at = s.read(STATION).find("mode =").unwrap();
    bytes.insert(at, 0xFF);
    std::fs::write(s.path(STATION), &bytes).unwrap();
    let out = s.check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let (line, column) = line_col(&s.read_lossy(STATION), at);
    assert!(
        stderr.contains(&format!("{STATION}:{line}:{column}"))
            && stderr.contains("byte 0xff is not UTF-8"),
        "{stderr}"
    );
}

#[test]
fn a_write_protected_sector_the_part_does_not_have_is_refused() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "write_protect = [0, 1]", "write_protect = [0, 12]");
    assert_error(
        &s.check(),
        PROFILE,
        locate(&text, "", "[0, 12]"),
        "option_bytes.write_protect",
        &[
            "sector 12 does not exist on this part",
            "expected 0 to 11",
            "12 sectors",
            "f4 family",
        ],
    );
}
