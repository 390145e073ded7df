use proptest::prelude::*;

use super::*;

const BASE: u32 = 0x0800_0000;
const V: Version = Version::new(1, 2, 3);

fn app() -> Vec<u8> {
    build_app(BASE, V, "blinky", &[0x11; 100])
}

fn knobs() -> BTreeMap<String, String> {
    [("slots", "2"), ("crc", "iso-hdlc")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn bootloader() -> Vec<u8> {
    build_bootloader(BASE, V, "ab-slots", &knobs(), &[0x22; 300]).unwrap()
}

fn valid_app_header(image: &[u8]) -> AppHeader {
    match check_app(BASE, image) {
        SlotCheck::Valid(h) => h,
        other => panic!("expected Valid, got {other:?}"),
    }
}

#[test]
fn built_app_is_valid_and_decodes() {
    let image = app();
    assert_eq!(image.len() % FLASH_WORD, 0);
    let header = valid_app_header(&image);
    assert_eq!(header.version, V);
    assert_eq!(header.name, "blinky");
    assert_eq!(header.flags, 0);
    assert_eq!(header.length as usize, image.len());
    assert_eq!(&image[HEADER_OFFSET..HEADER_OFFSET + 4], b"STAP");
    assert_eq!(reset_handler(&image), Some(BASE + 0x441));
}

#[test]
fn slot_longer_than_image_is_valid() {
    let mut slot = app();
    slot.resize(64 * 1024, 0xFF);
    valid_app_header(&slot);
}

#[test]
fn blank_slot() {
    assert_eq!(check_app(BASE, &[0xFF; 4096]), SlotCheck::Blank);
    assert_eq!(check_bootloader(BASE, &[0xFF; 8]), BootCheck::Blank);
}

#[test]
fn short_slot_has_no_vector_table() {
    assert_eq!(check_app(BASE, &[]), SlotCheck::NoVectorTable);
    assert_eq!(check_app(BASE, &[0; 7]), SlotCheck::NoVectorTable);
}

#[test]
fn bad_vector_tables() {
    let image = app();
    let edits: [(usize, u32); 5] = [
        (0, 0x2002_0002),  // unaligned SP
        (0, 0x0800_0000),  // SP in flash
        (4, BASE + 0x440), // handler without the Thumb bit
        (4, BASE + 0x101), // handler inside the vector table
        (4, BASE + 0x411), // handler inside the header
    ];
    for (at, value) in edits {
        let mut bad = image.clone();
        bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
        assert_eq!(
            check_app(BASE, &bad),
            SlotCheck::NoVectorTable,
            "{at} {value:#x}"
        );
    }
    // Right image, wrong base: the handler points outside it.
    assert_eq!(check_app(0x0802_0000, &image), SlotCheck::NoVectorTable);
}

#[test]
fn handler_past_declared_length_is_no_vector_table() {
    let mut slot = app();
    let handler = BASE + slot.len() as u32 + 1;
    slot[4..8].copy_from_slice(&handler.to_le_bytes());
    slot.resize(slot.len() + 64, 0xFF);
    assert_eq!(check_app(BASE, &slot), SlotCheck::NoVectorTable);
}

#[test]
fn missing_header() {
    let mut image = app();
    image[HEADER_OFFSET] ^= 0xFF;
    assert_eq!(check_app(BASE, &image), SlotCheck::NoHeader);
    // A bootloader is not an application, and vice versa.
    assert_eq!(check_app(BASE, &bootloader()), SlotCheck::NoHeader);
    assert_eq!(check_bootloader(BASE, &app()), BootCheck::NoDescriptor);
}

#[test]
fn unknown_header_version_is_no_header() {
    let mut image = app();
    image[HEADER_OFFSET + 4] = 2;
    assert_eq!(check_app(BASE, &image), SlotCheck::NoHeader);
}

#[test]
fn corrupt_header_byte_is_bad_header_crc() {
    let mut image = app();
    image[HEADER_OFFSET + 0x18] ^= 0x01; // inside the name
    assert_eq!(check_app(BASE, &image), SlotCheck::BadHeaderCrc);
}

#[test]
fn corrupt_body_byte_is_bad_image_crc() {
    let mut image = app();
    let last = image.len() - 1;
    image[last] ^= 0x80;
    match check_app(BASE, &image) {
        SlotCheck::BadImageCrc(h) => assert_eq!(h.name, "blinky"),
        other => panic!("expected BadImageCrc, got {other:?}"),
    }
}

#[test]
fn truncated_slot_is_bad_length() {
    let image = app();
    assert_eq!(
        check_app(BASE, &image[..image.len() - 1]),
        SlotCheck::BadLength
    );
}

#[test]
fn empty_body_still_valid() {
    let image = build_app(BASE, V, "", &[]);
    assert_eq!(image.len(), HEADER_OFFSET + APP_HEADER_SIZE + FLASH_WORD);
    assert_eq!(valid_app_header(&image).name, "");
}

#[test]
fn long_and_non_ascii_names_are_cut() {
    let image = build_app(BASE, V, "ünïcode-name-that-is-far-too-long", &[1]);
    let name = valid_app_header(&image).name;
    assert_eq!(name.len(), 24);
    assert!(name.starts_with("?n?code"));
}

#[test]
fn built_bootloader_is_valid_and_decodes() {
    let image = bootloader();
    assert_eq!(&image[HEADER_OFFSET..HEADER_OFFSET + 4], b"STBL");
    match check_bootloader(BASE, &image) {
        BootCheck::Valid(d) => {
            assert_eq!(d.design, "ab-slots");
            assert_eq!(d.knobs, knobs());
            assert_eq!(d.version, V);
            assert_eq!(d.length as usize, image.len());
        }
        other => panic!("expected Valid, got {other:?}"),
    }
}

#[test]
fn bootloader_failure_variants() {
    let good = bootloader();
    let mut bad_crc = good.clone();
    bad_crc[HEADER_OFFSET + 0x30] ^= 1; // inside the knobs text
    assert_eq!(
        check_bootloader(BASE, &bad_crc),
        BootCheck::BadDescriptorCrc
    );

    let mut bad_body = good.clone();
    bad_body[0x200] ^= 1; // inside the vector table, still plausible
    assert!(matches!(
        check_bootloader(BASE, &bad_body),
        BootCheck::BadImageCrc(_)
    ));

    assert_eq!(check_bootloader(BASE, &good[..0x600]), BootCheck::BadLength);
    assert_eq!(check_bootloader(BASE, &[0; 16]), BootCheck::NoVectorTable);
}

#[test]
fn bootloader_builder_refuses_what_it_cannot_store() {
    let body = [0u8; 4];
    let build = |design: &str, knobs: &BTreeMap<String, String>| {
        build_bootloader(BASE, V, design, knobs, &body)
    };
    let none = BTreeMap::new();
    assert!(build("", &none).is_err());
    assert!(build("seventeen-bytes-x", &none).is_err());
    assert!(build("has space", &none).is_err());
    let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    assert!(build("naive", &one("a=b", "1")).is_err());
    assert!(build("naive", &one("a\nb", "1")).is_err());
    assert!(build("naive", &one("", "1")).is_err());
    assert!(build("naive", &one("a", "1\n")).is_err());
    assert!(build("naive", &one("k", &"v".repeat(210))).is_err());
    assert!(build("naive", &one("k", &"v".repeat(209))).is_ok()); // exactly 212 bytes
    assert!(build("naive", &one("k", "a=b")).is_ok());
}

#[test]
fn version_text_round_trip_and_errors() {
    assert_eq!("1.2.3".parse::<Version>().unwrap(), V);
    assert_eq!(V.to_string(), "1.2.3");
    assert_eq!(
        "255.255.65535".parse::<Version>().unwrap(),
        Version::new(255, 255, 65535)
    );
    for bad in [
        "",
        "1.2",
        "1.2.3.4",
        "1.2.x",
        "256.0.0",
        "1.2.65536",
        "+1.2.3",
        " 1.2.3",
    ] {
        let err = bad.parse::<Version>().unwrap_err().to_string();
        assert!(err.contains("expected MAJOR.MINOR.PATCH"), "{err}");
    }
    assert!(Version::new(1, 10, 0) > Version::new(1, 9, 65535));
}

#[test]
fn version_serde_is_a_string() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Doc {
        version: Version,
    }
    let doc: Doc = toml::from_str("version = \"2.0.7\"").unwrap();
    assert_eq!(doc.version, Version::new(2, 0, 7));
    assert_eq!(toml::to_string(&doc).unwrap().trim(), "version = \"2.0.7\"");
    assert!(toml::from_str::<Doc>("version = \"2.0\"").is_err());
}

proptest! {
    #[test]
    fn built_app_always_checks_valid(
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        (major, minor, patch) in any::<(u8, u8, u16)>(),
        name in "[ -~]{0,24}",
        base in (0u32..0x1000_0000).prop_map(|b| b & !3),
    ) {
        let version = Version::new(major, minor, patch);
        let image = build_app(base, version, &name, &body);
        prop_assert_eq!(image.len() % FLASH_WORD, 0);
        prop_assert_eq!(&image[HEADER_OFFSET + APP_HEADER_SIZE..][..body.len()], &body[..]);
        let expected = AppHeader {
            version,
            length: image.len() as u32,
            image_crc: image_crc(&image, HEADER_OFFSET + APP_HEADER_SIZE, image.len()),
            flags: 0,
            name,
        };
        prop_assert_eq!(check_app(base, &image), SlotCheck::Valid(expected));
    }

    #[test]
    fn built_bootloader_always_checks_valid(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        (major, minor, patch) in any::<(u8, u8, u16)>(),
        design in "[!-~]{1,16}",
        knobs in proptest::collection::btree_map("[a-z_]{1,8}", "[ -~]{0,8}", 0..8),
    ) {
        let version = Version::new(major, minor, patch);
        let image = build_bootloader(BASE, version, &design, &knobs, &body).unwrap();
        match check_bootloader(BASE, &image) {
            BootCheck::Valid(d) => {
                prop_assert_eq!(d.version, version);
                prop_assert_eq!(d.design, design);
                prop_assert_eq!(d.knobs, knobs);
            }
            other => prop_assert!(false, "expected Valid, got {:?}", other),
        }
    }

    #[test]
    fn checks_never_panic(slot in proptest::collection::vec(any::<u8>(), 0..1600), base in any::<u32>()) {
        let _ = check_app(base, &slot);
        let _ = check_bootloader(base, &slot);
    }
}

#[test]
fn image_crc_is_crc32_iso_hdlc() {
    // The check value of CRC-32/ISO-HDLC, and the same CRC over a split input.
    assert_eq!(image_crc(b"123456789", 0, 9), 0xCBF4_3926);
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let expected = CRC32.checksum(&[&bytes[..HEADER_OFFSET], &bytes[300..]].concat());
    assert_eq!(image_crc(&bytes, 300, bytes.len()), expected);
}
