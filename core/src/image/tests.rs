use std::path::Path;

use super::generate::{write_elf, write_hex};
use super::*;

fn from(name: &str, bytes: &[u8], format: Format, base: Option<u32>) -> Result<Image, ImageError> {
    Image::from_bytes(Path::new(name), bytes, format, base)
}

fn format_message(err: ImageError) -> String {
    match err {
        ImageError::Format { message, .. } => message,
        other => panic!("expected a Format error, got {other:?}"),
    }
}

#[test]
fn sha256_known_value() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn format_display_is_lowercase() {
    let names: Vec<String> = [Format::Elf, Format::Hex, Format::Bin, Format::Dfu]
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(names, ["elf", "hex", "bin", "dfu"]);
}

#[test]
fn detects_by_extension_first() {
    let cases = [
        ("a.elf", Format::Elf),
        ("a.AXF", Format::Elf),
        ("a.out", Format::Elf),
        ("a.hex", Format::Hex),
        ("a.ihex", Format::Hex),
        ("a.dfu", Format::Dfu),
        ("a.bin", Format::Bin),
    ];
    for (name, format) in cases {
        assert_eq!(
            detect_format(Path::new(name), b"\x7fELF"),
            Some(format),
            "{name}"
        );
    }
}

#[test]
fn detects_by_content_without_extension() {
    let detect = |bytes: &[u8]| detect_format(Path::new("firmware"), bytes);
    assert_eq!(detect(b"\x7fELF\x01\x01"), Some(Format::Elf));
    assert_eq!(detect(b"DfuSe\x01"), Some(Format::Dfu));
    assert_eq!(detect(b"\r\n:020000040800F2\r\n"), Some(Format::Hex));
    assert_eq!(detect(b":\x00\x01binary"), None);
    assert_eq!(detect(b"\x00\x00\x02\x20"), None);
    assert_eq!(detect(b""), None);
}

#[test]
fn bin_needs_and_uses_a_base_address() {
    let err = from("fw.bin", &[1, 2], Format::Bin, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "raw binary fw.bin needs a load address (--address or `address` in the profile)"
    );
    let image = from("dir/fw.bin", &[1, 2, 3], Format::Bin, Some(0x0800_0000)).unwrap();
    assert_eq!(image.name, "fw.bin");
    assert_eq!(
        image.segments,
        vec![Segment::new(0x0800_0000, vec![1, 2, 3])]
    );
    assert_eq!(image.span(), Some((0x0800_0000, 0x0800_0003)));
    assert_eq!(image.total_bytes(), 3);
    assert!(image.dfu.is_none());
}

#[test]
fn empty_and_overflowing_bins_are_refused() {
    let empty = from("e.bin", &[], Format::Bin, Some(0)).unwrap_err();
    assert!(matches!(empty, ImageError::Empty { .. }));
    assert!(empty.to_string().contains("e.bin"));
    let overflow = from("o.bin", &[0; 16], Format::Bin, Some(0xFFFF_FFF8)).unwrap_err();
    assert!(
        matches!(overflow, ImageError::AddressOverflow { .. }),
        "{overflow}"
    );
    assert!(from("top.bin", &[0; 8], Format::Bin, Some(0xFFFF_FFF8)).is_ok());
}

#[test]
fn hex_handles_all_record_types() {
    let text = "\
:020000021000EC
:0400000001020304F2
:0400000300001000E9
:020000040800F2
:04000000AABBCCDDEE
:0400000508000101ED
:00000001FF
";
    let image = from("t.hex", text.as_bytes(), Format::Hex, None).unwrap();
    assert_eq!(
        image.segments,
        vec![
            Segment::new(0x0001_0000, vec![1, 2, 3, 4]),
            Segment::new(0x0800_0000, vec![0xAA, 0xBB, 0xCC, 0xDD]),
        ]
    );
}

#[test]
fn hex_errors_name_the_line() {
    let bad_sum = ":020000040800F2\n:0400000001020304F3\n:00000001FF\n";
    let message = format_message(from("t.hex", bad_sum.as_bytes(), Format::Hex, None).unwrap_err());
    assert!(
        message.starts_with("line 2: record checksum is 0xF3, but its bytes need 0xF2"),
        "{message}"
    );

    let truncated = ":020000040800F2\n:0400000001020304F2\n";
    let message =
        format_message(from("t.hex", truncated.as_bytes(), Format::Hex, None).unwrap_err());
    assert!(message.contains("end-of-file"), "{message}");

    let after_eof = ":00000001FF\n:0400000001020304F2\n";
    let message =
        format_message(from("t.hex", after_eof.as_bytes(), Format::Hex, None).unwrap_err());
    assert!(message.contains("line 2"), "{message}");

    let message = format_message(from("t.hex", b"\xff\xfe", Format::Hex, None).unwrap_err());
    assert!(message.contains("offset 0"), "{message}");
}

#[test]
fn hex_overlap_is_refused() {
    let text = write_hex(&[Segment::new(0x100, vec![1; 8])]);
    let twice = text.replace(":00000001FF\n", "") + &text;
    let err = from("o.hex", twice.as_bytes(), Format::Hex, None).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::Overlap {
                first: 0x100,
                second: 0x100,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn segments_are_sorted_and_merged() {
    let text = write_hex(&[
        Segment::new(0x2000, vec![3]),
        Segment::new(0x1000, vec![1, 1]),
        Segment::new(0x1002, vec![2]),
    ]);
    let image = from("m.hex", text.as_bytes(), Format::Hex, None).unwrap();
    assert_eq!(
        image.segments,
        vec![
            Segment::new(0x1000, vec![1, 1, 2]),
            Segment::new(0x2000, vec![3])
        ]
    );
}

#[test]
fn flatten_and_windows_fill_gaps() {
    let elf = write_elf(
        &[Segment::new(0x10, vec![1, 2]), Segment::new(0x14, vec![3])],
        0x11,
    );
    let image = from("w.elf", &elf, Format::Elf, None).unwrap();
    assert_eq!(
        image.flatten(0xFF),
        Some(Segment::new(0x10, vec![1, 2, 0xFF, 0xFF, 3]))
    );
    assert_eq!(image.bytes_at(0x0E, 4, 0), vec![0, 0, 1, 2]);
    assert_eq!(image.bytes_at(0x14, 3, 9), vec![3, 9, 9]);
    assert_eq!(image.bytes_at(0xFFFF_FFFF, 2, 7), vec![7, 7]);
    assert_eq!(image.bytes_at(0x11, 0, 7), Vec::<u8>::new());
}

#[test]
fn flatten_refuses_huge_spans() {
    let text = write_hex(&[Segment::new(0, vec![1]), Segment::new(0x2000_0000, vec![2])]);
    let image = from("far.hex", text.as_bytes(), Format::Hex, None).unwrap();
    assert_eq!(image.flatten(0), None);
    assert_eq!(image.total_bytes(), 2);
}

#[test]
fn elf_uses_physical_addresses_and_skips_bss() {
    let mut elf = write_elf(
        &[
            Segment::new(0x2000_0000, vec![5; 4]),
            Segment::new(0x2000_1000, vec![]),
        ],
        0,
    );
    // Program header 0: p_paddr at 52 + 12 becomes the flash (load) address.
    elf[64..68].copy_from_slice(&0x0800_4000u32.to_le_bytes());
    let image = from("d.elf", &elf, Format::Elf, None).unwrap();
    assert_eq!(image.segments, vec![Segment::new(0x0800_4000, vec![5; 4])]);
}

#[test]
fn elf_rejections_say_why() {
    let good = write_elf(&[Segment::new(0x0800_0000, vec![1; 4])], 1);
    let cases: [(usize, u8, &str); 4] = [
        (0, b'X', "missing ELF magic"),
        (4, 2, "64-bit ELF"),
        (5, 2, "big-endian"),
        (18, 3, "expected 40 (ARM)"),
    ];
    for (at, value, expected) in cases {
        let mut bad = good.clone();
        bad[at] = value;
        let message = format_message(from("x.elf", &bad, Format::Elf, None).unwrap_err());
        assert!(message.contains(expected), "{message}");
    }
    let message = format_message(from("x.elf", &good[..60], Format::Elf, None).unwrap_err());
    assert!(message.contains("program header"), "{message}");
    let message = format_message(from("x.elf", &good[..86], Format::Elf, None).unwrap_err());
    assert!(message.contains("past the end of the file"), "{message}");
    // A misaligned caller slice still parses.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&good);
    assert!(from("x.elf", &shifted[1..], Format::Elf, None).is_ok());
}

#[test]
fn elf_without_loadable_data_is_empty() {
    let elf = write_elf(&[], 0);
    assert!(matches!(
        from("n.elf", &elf, Format::Elf, None),
        Err(ImageError::Empty { .. })
    ));
}

#[test]
fn dfu_image_collects_all_targets() {
    let file = dfuse::DfuseFile {
        targets: vec![
            dfuse::DfuseTarget {
                alt: 0,
                name: Some("Internal Flash".into()),
                elements: vec![Segment::new(0x0800_0000, vec![1, 2])],
            },
            dfuse::DfuseTarget {
                alt: 1,
                name: None,
                elements: vec![Segment::new(0x0800_0002, vec![3])],
            },
        ],
        vendor_id: 0x0483,
        product_id: 0xDF11,
        bcd_device: dfuse::WILDCARD_ID,
    };
    let bytes = dfuse::pack(&file);
    let image = from("f.dfu", &bytes, Format::Dfu, Some(0x1234)).unwrap();
    assert_eq!(
        image.segments,
        vec![Segment::new(0x0800_0000, vec![1, 2, 3])]
    );
    assert_eq!(image.dfu, Some(file));

    let mut corrupt = bytes;
    corrupt[20] ^= 1;
    let err = from("f.dfu", &corrupt, Format::Dfu, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("f.dfu") && err.contains("CRC mismatch"),
        "{err}"
    );
}

#[test]
fn load_reads_detects_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let hex_path = dir.path().join("app.hex");
    std::fs::write(
        &hex_path,
        write_hex(&[Segment::new(0x0800_0000, vec![9; 20])]),
    )
    .unwrap();
    let image = Image::load(&hex_path, None).unwrap();
    assert_eq!(image.format, Format::Hex);
    assert_eq!(image.sha256, sha256_hex(&std::fs::read(&hex_path).unwrap()));
    assert_eq!(image.path, hex_path);

    let missing = Image::load(&dir.path().join("nope.bin"), Some(0)).unwrap_err();
    assert!(matches!(missing, ImageError::Io { .. }));
    assert!(missing.to_string().contains("nope.bin"), "{missing}");

    let odd = dir.path().join("firmware.img");
    std::fs::write(&odd, [0u8, 1, 2]).unwrap();
    let unknown = Image::load(&odd, Some(0)).unwrap_err();
    assert!(
        matches!(unknown, ImageError::UnknownFormat { .. }),
        "{unknown}"
    );
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        for format in [Format::Elf, Format::Hex, Format::Bin, Format::Dfu] {
            let _ = from("fuzz", &bytes, format, Some(0));
        }
        let _ = detect_format(Path::new("fuzz"), &bytes);
    }

    #[test]
    fn hex_writer_round_trips(
        address in 0u32..0xFFFF_0000,
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..300),
    ) {
        let segment = Segment::new(address, data);
        let text = write_hex(std::slice::from_ref(&segment));
        let image = from("p.hex", text.as_bytes(), Format::Hex, None).unwrap();
        proptest::prop_assert_eq!(image.segments, vec![segment]);
    }
}
