//! `station dfu pack` and `station dfu info` through the real binary: UM0391 layout, round
//! trip through the image loader, dfu-util's own suffix check, and refusals with exit 2.

mod common;

use std::process::Command;

use std::path::{Path, PathBuf};
use std::process::Output;

use station::image::dfuse::dfu_crc;
use station::image::{Format, Image, Segment};

fn station(args: &[&str], dir: &Path) -> Output {
    common::station()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("station runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Three raw binaries: two for internal flash (alt 0), one for QSPI (alt 1).
fn inputs(dir: &Path) -> Vec<(u32, Vec<u8>, u8, &'static str)> {
    let pattern = |n: usize, seed: u8| -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    };
    let files = vec![
        (0x0800_8000, pattern(5000, 1), 0, "app.bin"),
        (0x0800_0000, pattern(300, 2), 0, "boot.bin"),
        (0x9000_0000, pattern(1027, 3), 1, "assets.bin"),
    ];
    for (_, data, _, name) in &files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    files
}

fn pack(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = station(
        &[
            &["dfu", "pack", "-o", "out.dfu"][..],
            extra,
            &[
                "0x08008000:app.bin",
                "134217728:boot.bin@0",
                "0x90000000:assets.bin@1",
            ],
        ]
        .concat(),
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    dir.join("out.dfu")
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn packed_files_follow_um0391_and_round_trip_through_the_loader() {
    for (extra, ids) in [
        (&[][..], (0x0483, 0xdf11)),
        (&["--vid", "1209", "--pid", "0xdf00"][..], (0x1209, 0xdf00)),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let files = inputs(tmp.path());
        let path = pack(tmp.path(), extra);

        let image = Image::load(&path, None).unwrap();
        assert_eq!(image.format, Format::Dfu);
        let dfu = image.dfu.unwrap();
        assert_eq!((dfu.vendor_id, dfu.product_id), ids);
        assert_eq!(dfu.targets.len(), 2);
        for (target, alt) in dfu.targets.iter().zip([0, 1]) {
            assert_eq!(target.alt, alt);
            let expected: Vec<Segment> = files
                .iter()
                .filter(|f| f.2 == alt)
                .map(|(address, data, ..)| Segment::new(*address, data.clone()))
                .collect();
            assert_eq!(target.elements, expected, "alt {alt}: one element per file");
        }

        // Byte for byte: prefix, target prefix with its name field, element header, suffix.
        let b = std::fs::read(&path).unwrap();
        let len = b.len();
        assert_eq!(&b[..6], b"DfuSe\x01");
        assert_eq!(u32_at(&b, 6) as usize, len - 16, "DFUImageSize");
        assert_eq!(b[10], 2, "bTargets");
        assert_eq!(&b[11..17], b"Target");
        assert_eq!((b[17], u32_at(&b, 18)), (0, 1), "alt 0, named");
        assert_eq!(&b[22..28], b"ST...\0");
        assert_eq!(u32_at(&b, 277) as usize, 8 + 5000 + 8 + 300, "dwTargetSize");
        assert_eq!(u32_at(&b, 281), 2, "dwNbElements");
        assert_eq!((u32_at(&b, 285), u32_at(&b, 289)), (0x0800_8000, 5000));
        let suffix = &b[len - 16..];
        assert_eq!(&suffix[..2], &[0xFF, 0xFF], "bcdDevice wildcard");
        assert_eq!(&suffix[2..4], &ids.1.to_le_bytes());
        assert_eq!(&suffix[4..6], &ids.0.to_le_bytes());
        assert_eq!(&suffix[6..12], b"\x1a\x01UFD\x10");
        assert_eq!(u32_at(suffix, 12), dfu_crc(&b[..len - 4]));
    }
}

#[test]
fn dfu_util_accepts_the_suffix_of_packed_files() {
    match Command::new("dfu-suffix").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!(
                "SKIPPED dfu_util_accepts_the_suffix_of_packed_files: no `dfu-suffix` on PATH \
                 (install the Debian package dfu-util)"
            );
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    inputs(tmp.path());
    let path = pack(tmp.path(), &[]);
    let check = |p: &Path| Command::new("dfu-suffix").arg("--check").arg(p).output();
    let good = check(&path).unwrap();
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert!(text(&good.stdout).contains("BCD DFU:\t0x011A"));
    // The check has teeth: one flipped byte fails it.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[300] ^= 0xFF;
    let bad_path = tmp.path().join("bad.dfu");
    std::fs::write(&bad_path, bytes).unwrap();
    assert!(!check(&bad_path).unwrap().status.success());
}

#[test]
fn info_lists_targets_and_refuses_a_bad_suffix_crc_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    inputs(tmp.path());
    let path = pack(tmp.path(), &[]);
    let out = station(&["dfu", "info", "out.dfu"], tmp.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("target 1: alt 1"), "{stdout}");
    assert!(stdout.contains("element 0: 0x90000000..0x90000403 (1027 bytes)"));
    assert!(stdout.contains("idVendor 0483, idProduct df11"), "{stdout}");

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[300] ^= 0xFF;
    std::fs::write(tmp.path().join("corrupt.dfu"), bytes).unwrap();
    let out = station(&["dfu", "info", "corrupt.dfu"], tmp.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("corrupt.dfu") && stderr.contains("CRC mismatch"),
        "{stderr}"
    );
}

#[test]
fn info_shows_the_segments_of_other_images() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/f407");
    let out = station(&["dfu", "info", "app-1.0.0.elf"], &fixtures);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("segment 0: 0x08008000"));
    let out = station(&["dfu", "info", "app-1.0.0.bin"], &fixtures);
    assert_eq!(out.status.code(), Some(2), "a raw binary needs --address");
}

#[test]
fn pack_refuses_bad_input_with_exit_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    inputs(tmp.path());
    std::fs::write(tmp.path().join("empty.bin"), b"").unwrap();
    for (args, says) in [
        (&["nonsense"][..], "ADDR:FILE"),
        (&["0x08000000:missing.bin"][..], "missing.bin"),
        (&["0x08000000:empty.bin"][..], "empty"),
        (&["0x08000000:app.bin@256"][..], "0-255"),
        (&["0xZZ:app.bin"][..], "address"),
        (&["0xFFFFFF00:app.bin"][..], "32-bit address space"),
        (
            &["0x08000000:app.bin", "0x08001000:boot.bin@1"][..],
            "boot.bin at 0x08001000 overlaps app.bin",
        ),
    ] {
        let out = station(
            &[&["dfu", "pack", "-o", "out.dfu"][..], args].concat(),
            tmp.path(),
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!tmp.path().join("out.dfu").exists(), "{args:?}");
    }
}

#[test]
fn dfu_list_still_answers_without_panicking() {
    // No USB stack here is a station error (3), not a crash.
    let out = station(&["dfu", "list"], Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
}
