//! `station check` names the file, line, column and key of every config error, says what was
//! expected, and exits 2. Each test runs the real binary on a scratch copy of the virtual bench
//! with one thing broken.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};
use tempfile::TempDir;

const STATION: &str = "stations/virtual.toml";
const PROFILE: &str = "profiles/f407-demo.toml";

/// A copy of the virtual bench's station, profile and F407 images in a temporary directory,
/// laid out as in the repository so that the relative paths in the configs resolve.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("create a temporary directory");
        for (from, to) in [("stations", STATION), ("profiles", PROFILE)] {
            std::fs::create_dir_all(dir.path().join(from)).unwrap();
            std::fs::copy(repo.join(to), dir.path().join(to)).unwrap();
        }
        let images = dir.path().join("fixtures/f407");
        std::fs::create_dir_all(&images).unwrap();
        for entry in std::fs::read_dir(repo.join("fixtures/f407")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), images.join(entry.file_name())).unwrap();
            }
        }
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replace the first `old` in a file with `new`, and return the new text. Fails the test if
    /// `old` is not there, so that a test cannot pass on an unchanged file.
    fn edit(&self, rel: &str, old: &str, new: &str) -> String {
        let text = self.read(rel);
        assert!(text.contains(old), "{rel} does not contain {old:?}");
        let edited = text.replacen(old, new, 1);
        assert_ne!(edited, text, "editing {rel} changed nothing");
        std::fs::write(self.path(rel), &edited).unwrap();
        edited
    }

    /// `station check --station stations/virtual.toml`, run from the scratch directory.
    fn check(&self) -> Output {
        self.check_station(STATION)
    }

    fn check_station(&self, station: &str) -> Output {
        common::station()
            .args(["check", "--station", station])
            .current_dir(self.dir.path())
            .output()
            .expect("run station")
    }
}

/// How a file name appears in messages: as given, relative to the scratch directory.
fn shown(rel: &str) -> String {
    Path::new(rel).display().to_string()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, column)
}

/// Where `needle` first occurs after the first `anchor` (use "" for the file's start).
fn locate(text: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let from = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} not found"));
    let at = text[from..]
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found after {anchor:?}"))
        + from;
    line_col(text, at)
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect()
}

/// Assert that `station check` failed with exit status 2 and reported an error at exactly
/// `file:line:col` for `key` whose message contains every one of `phrases`.
#[track_caller]
fn assert_error(
    out: &Output,
    file: &str,
    (line, column): (usize, usize),
    key: &str,
    phrases: &[&str],
) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit status 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains(": ok"),
        "a failed check printed ok:\n{stdout}"
    );
    let prefix = format!("error: {}:{line}:{column}: key `{key}`: ", shown(file));
    let Some(found) = stderr.lines().find(|l| l.starts_with(&prefix)) else {
        panic!("no error starting with {prefix:?} in:\n{stderr}");
    };
    for phrase in phrases {
        assert!(
            found.contains(phrase),
            "the error does not say {phrase:?}:\n{found}"
        );
    }
}

/// Assert how many errors were reported, so that one mistake is not reported several times.
#[track_caller]
fn assert_error_count(out: &Output, n: usize) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        error_lines(&stderr).len(),
        n,
        "expected {n} error(s):\n{stderr}"
    );
}

#[test]
fn clean_copy_passes() {
    let s = Scratch::new();
    let out = s.check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{}: ok", shown(STATION))),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 fixtures, 1 profiles, 2 images"),
        "{stdout}"
    );
    assert!(error_lines(&stderr).is_empty(), "{stderr}");
}

#[test]
fn missing_station_file() {
    let s = Scratch::new();
    let out = s.check_station("stations/nope.toml");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    let expected = format!(
        "error: {}: cannot read the file",
        shown("stations/nope.toml")
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn unknown_top_level_key() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "mode = \"production\"\n",
        "mode = \"production\"\ncolour = \"red\"\n",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "colour ="),
        "colour",
        &["unknown field `colour`", "expected one of", "`fixtures`"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn unknown_key_in_a_fixture() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "id = \"sim-2\"\n",
        "id = \"sim-2\"\ncolour = \"red\"\n",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "colour ="),
        "fixtures[1].colour",
        &["unknown field `colour`", "expected one of", "`probe`"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn unknown_key_in_a_fixtures_inline_table() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "port = \"sim-1\" }",
        "port = \"sim-1\", colour = 1 }",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "colour ="),
        "fixtures[0].usb.colour",
        &["unknown field `colour`", "`application`"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn wrong_type_in_the_station() {
    let s = Scratch::new();
    let text = s.edit(STATION, "seed = 1 }", "seed = \"one\" }");
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "seed = \"one\"", "\"one\""),
        "fixtures[0].sim.seed",
        &["invalid type", "\"one\"", "expected u64"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn wrong_type_in_the_profile() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "rdp = 1", "rdp = \"high\"");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "rdp = ", "\"high\""),
        "option_bytes.rdp",
        &["invalid type", "\"high\"", "expected u8"],
    );
    // Four fixtures share the profile; its error is reported once.
    assert_error_count(&out, 1);
}

#[test]
fn wrong_type_in_a_memory_slot() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "size = 0x78000", "size = \"big\"");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "", "\"big\""),
        "memory.slots[0].size",
        &["\"big\"", "expected u32"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn unknown_key_in_the_bootloader_region() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "size = 0x8000 }", "size = 0x8000, end = 1 }");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "", "end = 1"),
        "memory.bootloader.end",
        &["unknown field `end`", "`start`", "`size`"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn missing_profile_file() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "id = \"sim-2\"\nbackend = \"sim\"\nprofile = \"../profiles/f407-demo.toml\"",
        "id = \"sim-2\"\nbackend = \"sim\"\nprofile = \"../profiles/nope.toml\"",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "\"../profiles/nope.toml\""),
        "fixtures[1].profile",
        &["cannot read", &shown("profiles/nope.toml")],
    );
    assert_error_count(&out, 1);
}

#[test]
fn missing_image_file() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "app-1.0.0.elf", "app-9.9.9.elf");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "", "\"../fixtures/f407/app-9.9.9.elf\""),
        "images.application.path",
        &["cannot read", &shown("fixtures/f407/app-9.9.9.elf")],
    );
    assert_error_count(&out, 1);
}

/// The 64 hex digits pinned for an image, found in the profile's text.
fn pinned_sha(text: &str, image: &str) -> String {
    let from = text.find(&format!("[images.{image}]")).unwrap();
    let at = text[from..].find("sha256 = \"").unwrap() + from + "sha256 = \"".len();
    text[at..at + 64].to_string()
}

#[test]
fn pin_does_not_match_the_image() {
    let s = Scratch::new();
    let actual = pinned_sha(&s.read(PROFILE), "application");
    let wrong = "0123456789abcdef".repeat(4);
    assert_ne!(actual, wrong);
    let text = s.edit(PROFILE, &actual, &wrong);
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "[images.application]", &format!("\"{wrong}\"")),
        "images.application.sha256",
        &[&actual, &wrong, "SHA-256"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn image_does_not_match_its_pin() {
    let s = Scratch::new();
    let text = s.read(PROFILE);
    let pinned = pinned_sha(&text, "bootloader");
    let image = s.path("fixtures/f407/bootloader-crc-single.bin");
    let mut bytes = std::fs::read(&image).unwrap();
    bytes[0x100] ^= 0xff;
    std::fs::write(&image, &bytes).unwrap();
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(actual, pinned);
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "[images.bootloader]", &format!("\"{pinned}\"")),
        "images.bootloader.sha256",
        &[&actual, &pinned, "SHA-256"],
    );
    assert_error_count(&out, 1);
}

#[test]
fn application_overlaps_the_bootloader() {
    let s = Scratch::new();
    let text = s.edit(
        PROFILE,
        "bootloader = { start = 0x08000000, size = 0x8000 }",
        "bootloader = { start = 0x08000000, size = 0x10000 }",
    );
    let out = s.check();
    // The application image, at 0x08008000, now reaches into the bootloader region...
    assert_error(
        &out,
        PROFILE,
        locate(
            &text,
            "[images.application]",
            "\"../fixtures/f407/app-1.0.0.elf\"",
        ),
        "images.application.path",
        &[
            "the application overlaps the bootloader region 0x08000000..0x08010000",
            "segment at 0x08008000..",
        ],
    );
    // ...and so does slot a, which is named where it is written.
    assert_error(
        &out,
        PROFILE,
        locate(&text, "slots = [", "{ name = \"a\""),
        "memory.slots[0]",
        &[
            "slot \"a\" 0x08008000..0x08080000 overlaps the bootloader region 0x08000000..0x08010000",
        ],
    );
    assert_error_count(&out, 2);
}

#[test]
fn image_larger_than_its_slot() {
    let s = Scratch::new();
    let text = s.edit(
        PROFILE,
        "{ name = \"a\", start = 0x08008000, size = 0x78000 }",
        "{ name = \"a\", start = 0x08008000, size = 0x1000 }",
    );
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "[images.application]", "\"a\""),
        "images.application.slot",
        &[
            "does not fit slot \"a\" 0x08008000..0x08009000 (4096 bytes)",
            "the image spans 0x08008000..",
        ],
    );
    assert_error_count(&out, 1);
}

#[test]
fn two_fixtures_claim_one_probe() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "probe = \"1209:5151:SIM-F407-2\"",
        "probe = \"1209:5151:SIM-F407-1\"",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "id = \"sim-2\"", "\"1209:5151:SIM-F407-1\""),
        "fixtures[1].probe",
        &[
            "probe 1209:5151:SIM-F407-1 is already claimed by fixture \"sim-1\"",
            "its own probe",
        ],
    );
    assert_error_count(&out, 1);
}

#[test]
fn two_fixtures_claim_one_usb_port() {
    let s = Scratch::new();
    let text = s.edit(STATION, "port = \"sim-3\"", "port = \"sim-1\"");
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "id = \"sim-3\"", "\"sim-1\""),
        "fixtures[2].usb.port",
        &[
            "USB port sim-1 is already claimed by fixture \"sim-1\"",
            "its own port",
        ],
    );
    assert_error_count(&out, 1);
}

#[test]
fn malformed_probe_selector() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "probe = \"1209:5151:SIM-F407-2\"",
        "probe = \"not-a-probe\"",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "\"not-a-probe\""),
        "fixtures[1].probe",
        &[
            "expected a probe selector VID:PID[:serial]",
            "\"not-a-probe\"",
        ],
    );
    assert_error_count(&out, 1);
}

#[test]
fn malformed_vid_pid() {
    let s = Scratch::new();
    let text = s.edit(
        STATION,
        "bootloader = \"1209:df00\", rom = \"0483:df11\", port = \"sim-2\"",
        "bootloader = \"12G9:df00\", rom = \"0483:df11\", port = \"sim-2\"",
    );
    let out = s.check();
    assert_error(
        &out,
        STATION,
        locate(&text, "", "\"12G9:df00\""),
        "fixtures[1].usb.bootloader",
        &["expected VID:PID in hex", "\"12G9:df00\""],
    );
    assert_error_count(&out, 1);
}

#[test]
fn a_cm4_image_on_a_single_core_part() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "slot = \"a\"", "slot = \"a\"\ncore = \"cm4\"");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "core = ", "\"cm4\""),
        "images.application.core",
        &[
            "core = \"cm4\" needs an application image on a dual-core part",
            "STM32F407",
        ],
    );
    assert_error_count(&out, 1);
}

#[test]
fn an_unknown_core() {
    let s = Scratch::new();
    let text = s.edit(PROFILE, "slot = \"a\"", "slot = \"a\"\ncore = \"m33\"");
    let out = s.check();
    assert_error(
        &out,
        PROFILE,
        locate(&text, "core = ", "\"m33\""),
        "images.application.core",
        &["expected \"cm7\" or \"cm4\", found \"m33\""],
    );
}

#[test]
fn unit_data_errors_name_the_field() {
    let s = Scratch::new();
    let text = s.edit(
        PROFILE,
        "[dfu]",
        "[unit_data]\narea = \"otp\"\naddress = 0x1FFF7810\nsize = 32\nfields = [\n  { name = \"mac\", offset = 0, kind = \"mac\" },\n  { name = \"x\", offset = 8, kind = \"u64\" },\n]\n\n[dfu]",
    );
    let out = s.check();
    // Not a block start, a MAC without a pool, and a kind that does not exist.
    assert_error(
        &out,
        PROFILE,
        locate(&text, "[unit_data]", "0x1FFF7810"),
        "unit_data.address",
        &["expected a 32-byte OTP block start within 0x1fff7800..0x1fff7a00"],
    );
    assert_error(
        &out,
        PROFILE,
        locate(&text, "fields = [", "{ name = \"mac\""),
        "unit_data.fields.mac",
        &["kind = \"mac\" needs unit_data.mac_pool"],
    );
    assert_error(
        &out,
        PROFILE,
        locate(&text, "name = \"x\"", "\"u64\""),
        "unit_data.fields.x.kind",
        &["expected label, mac, u32, i32, f32, file or crc32, found \"u64\""],
    );
    assert_error_count(&out, 3);
}
