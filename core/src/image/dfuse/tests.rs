use proptest::prelude::*;

use super::*;

fn sample() -> DfuseFile {
    DfuseFile {
        targets: vec![
            DfuseTarget {
                alt: 0,
                name: Some("Internal Flash".into()),
                elements: vec![
                    Segment::new(0x0800_0000, vec![1, 2, 3, 4]),
                    Segment::new(0x0800_4000, vec![5; 9]),
                ],
            },
            DfuseTarget {
                alt: 1,
                name: None,
                elements: vec![Segment::new(0x1FFF_C000, vec![0xAA; 16])],
            },
        ],
        vendor_id: 0x0483,
        product_id: 0xDF11,
        bcd_device: WILDCARD_ID,
    }
}

/// Recomputes the suffix CRC after a deliberate structural edit.
fn reseal(bytes: &mut [u8]) {
    let len = bytes.len();
    let crc = dfu_crc(&bytes[..len - 4]);
    bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn crc_check_value() {
    assert_eq!(dfu_crc(b"123456789"), 0x340B_C6D9);
}

#[test]
fn pack_layout_and_round_trip() {
    let file = sample();
    let bytes = pack(&file);
    let expected_len = 11 + 2 * 274 + (8 + 4) + (8 + 9) + (8 + 16) + 16;
    assert_eq!(bytes.len(), expected_len);
    assert_eq!(&bytes[..5], b"DfuSe");
    let image_size = u32::from_le_bytes(bytes[6..10].try_into().unwrap());
    assert_eq!(image_size as usize, bytes.len() - 16);
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 5], b"UFD");
    assert!(suffix_ok(&bytes));
    assert_eq!(parse(&bytes).unwrap(), file);
}

#[test]
fn image_size_equal_to_file_length_is_accepted() {
    let mut bytes = pack(&sample());
    let len = bytes.len() as u32;
    bytes[6..10].copy_from_slice(&len.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(parse(&bytes).unwrap(), sample());
}

#[test]
fn wrong_image_size_is_refused() {
    let mut bytes = pack(&sample());
    bytes[6..10].copy_from_slice(&7u32.to_le_bytes());
    reseal(&mut bytes);
    let err = parse(&bytes).unwrap_err();
    assert!(err.contains("DFUImageSize at offset 6"), "{err}");
}

#[test]
fn bad_crc_message() {
    let mut bytes = pack(&sample());
    let len = bytes.len();
    bytes[len - 4..].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let err = parse(&bytes).unwrap_err();
    let computed = dfu_crc(&bytes[..len - 4]);
    assert_eq!(
        err,
        format!("DfuSe suffix CRC mismatch: file says 0x12345678, computed 0x{computed:08X}")
    );
    assert!(!suffix_ok(&bytes));
}

#[test]
fn oversized_target_size_names_offset() {
    let mut bytes = pack(&sample());
    // dwTargetSize of target 0 sits after prefix + "Target" + alt + named + name.
    let at = 11 + 6 + 1 + 4 + 255;
    bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    reseal(&mut bytes);
    let err = parse(&bytes).unwrap_err();
    assert!(err.contains("target 0 at offset 11"), "{err}");
    assert!(err.contains("dwTargetSize"), "{err}");
}

#[test]
fn oversized_element_names_offset() {
    let mut bytes = pack(&sample());
    let element_size_at = 11 + 274 + 4;
    bytes[element_size_at..element_size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    reseal(&mut bytes);
    let err = parse(&bytes).unwrap_err();
    assert!(err.contains("element data at offset 293"), "{err}");
}

#[test]
fn short_and_foreign_files_are_refused() {
    assert!(parse(b"").is_err());
    assert!(parse(b"DfuSe").unwrap_err().contains("shorter"));
    assert!(parse(&[0u8; 64]).unwrap_err().contains("offset 0"));
    assert!(!suffix_ok(b"UFD"));
}

#[test]
fn extra_bytes_after_targets_are_refused() {
    let file = sample();
    let mut bytes = pack(&file);
    let body_end = bytes.len() - 16;
    bytes.splice(body_end..body_end, [0u8; 3]);
    let size = (bytes.len() - 16) as u32;
    bytes[6..10].copy_from_slice(&size.to_le_bytes());
    reseal(&mut bytes);
    let err = parse(&bytes).unwrap_err();
    assert!(err.contains("3 unexpected bytes"), "{err}");
}

fn arb_element() -> impl Strategy<Value = Segment> {
    (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40))
        .prop_map(|(address, data)| Segment::new(address, data))
}

fn arb_target() -> impl Strategy<Value = DfuseTarget> {
    (
        any::<u8>(),
        proptest::option::of("[ -~]{0,254}"),
        proptest::collection::vec(arb_element(), 0..4),
    )
        .prop_map(|(alt, name, elements)| DfuseTarget {
            alt,
            name,
            elements,
        })
}

fn arb_file() -> impl Strategy<Value = DfuseFile> {
    (
        proptest::collection::vec(arb_target(), 0..4),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(targets, vendor_id, product_id, bcd_device)| DfuseFile {
            targets,
            vendor_id,
            product_id,
            bcd_device,
        })
}

proptest! {
    #[test]
    fn pack_then_parse_round_trips(file in arb_file()) {
        let bytes = pack(&file);
        prop_assert!(suffix_ok(&bytes));
        prop_assert_eq!(parse(&bytes).unwrap(), file);
    }

    #[test]
    fn any_flipped_byte_is_caught(file in arb_file(), index in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let mut bytes = pack(&file);
        let at = index.index(bytes.len());
        bytes[at] ^= mask;
        prop_assert!(parse(&bytes).is_err());
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = parse(&bytes);
        let _ = suffix_ok(&bytes);
    }

    /// Edits that keep a valid CRC exercise every length check of the body.
    #[test]
    fn resealed_garbage_never_panics(
        file in arb_file(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = pack(&file);
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        reseal(&mut bytes);
        let _ = parse(&bytes);
    }
}
