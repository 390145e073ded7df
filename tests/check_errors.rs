//! `station check` names the file, line, column and key of every config error, says what was
//! expected, and exits 2. Each test runs the real binary on a scratch copy of the virtual bench
//! with one thing broken.

mod common;

use sha2::{Digest, Sha256};

use common::check::*;

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
