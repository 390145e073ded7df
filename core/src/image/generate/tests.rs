use std::path::Path;

use super::*;
use crate::image::Image;
use crate::image::header::{BootCheck, SlotCheck, check_app, check_bootloader};

const MANIFEST: &str = r#"
[[image]]
file = "app/blinky.bin"
kind = "app"
base = 0x08020000
version = "1.2.3"
name = "blinky"
body_size = 1000
seed = 1

[[image]]
file = "app/blinky.hex"
kind = "app"
base = 0x0801FFF0
version = "1.2.3"
name = "blinky"
body_size = 70000
seed = 1
format = "hex"

[[image]]
file = "app/blinky.elf"
kind = "app"
base = 0x08020000
version = "2.0.0"
name = "blinky-elf"
body_size = 333
seed = 2
format = "elf"

[[image]]
file = "boot/ab.dfu"
kind = "bootloader"
base = 0x08000000
version = "0.9.1"
design = "ab-slots"
knobs = { slots = "2", slot_size = "0x20000" }
body_size = 4096
seed = 3
format = "dfu"
alt = 0
target_name = "Internal Flash"
"#;

fn write_manifest(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("fixtures.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn generate_text(text: &str) -> Result<Vec<(PathBuf, String)>, ImageError> {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), text);
    generate(&manifest, &dir.path().join("out"))
}

fn error_text(text: &str) -> String {
    generate_text(text).unwrap_err().to_string()
}

#[test]
fn splitmix_matches_published_reference() {
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    assert_eq!(SplitMix64::new(0).bytes(3), vec![0xAF, 0xCD, 0x1D]);
}

#[test]
fn generating_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), MANIFEST);
    let first = generate(&manifest, &dir.path().join("a")).unwrap();
    let second = generate(&manifest, &dir.path().join("b")).unwrap();
    assert_eq!(first.len(), 4);
    for ((path_a, hash_a), (path_b, hash_b)) in first.iter().zip(&second) {
        assert_eq!(hash_a, hash_b);
        assert_eq!(
            std::fs::read(path_a).unwrap(),
            std::fs::read(path_b).unwrap()
        );
        assert_eq!(&sha256_hex(&std::fs::read(path_a).unwrap()), hash_a);
    }
}

#[test]
fn every_format_loads_back_to_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), MANIFEST);
    let outputs = generate(&manifest, &dir.path().join("out")).unwrap();
    let load = |i: usize, base: Option<u32>| Image::load(&outputs[i].0, base).unwrap();

    let bin = load(0, Some(0x0802_0000));
    let raw = std::fs::read(&outputs[0].0).unwrap();
    assert_eq!(bin.segments, vec![Segment::new(0x0802_0000, raw.clone())]);
    assert_eq!(bin.sha256, outputs[0].1);
    assert!(matches!(check_app(0x0802_0000, &raw), SlotCheck::Valid(h) if h.name == "blinky"));

    // Same body and header as the bin, placed across a 64 KiB boundary.
    let hex = load(1, None);
    assert_eq!(hex.format, Format::Hex);
    assert_eq!(hex.segments.len(), 1);
    let hex_image = &hex.segments[0];
    assert_eq!(hex_image.address, 0x0801_FFF0);
    assert!(matches!(
        check_app(0x0801_FFF0, &hex_image.data),
        SlotCheck::Valid(_)
    ));

    let elf = load(2, None);
    assert_eq!(elf.format, Format::Elf);
    let elf_image = &elf.segments[0];
    assert_eq!(elf_image.address, 0x0802_0000);
    match check_app(0x0802_0000, &elf_image.data) {
        SlotCheck::Valid(h) => assert_eq!(h.version.to_string(), "2.0.0"),
        other => panic!("{other:?}"),
    }

    let dfu = load(3, None);
    assert_eq!(dfu.format, Format::Dfu);
    let file = dfu.dfu.as_ref().unwrap();
    assert_eq!((file.vendor_id, file.product_id), (0x0483, 0xDF11));
    assert_eq!(file.targets[0].name.as_deref(), Some("Internal Flash"));
    let boot = &dfu.segments[0];
    assert_eq!(boot.address, 0x0800_0000);
    match check_bootloader(0x0800_0000, &boot.data) {
        BootCheck::Valid(d) => {
            assert_eq!(d.design, "ab-slots");
            assert_eq!(d.knobs["slot_size"], "0x20000");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn write_elf_parses_with_object() {
    use object::{Object, ObjectSegment};
    let segments = vec![
        Segment::new(0x0800_0000, vec![1, 2, 3]),
        Segment::new(0x0800_1001, vec![4, 5]),
    ];
    let bytes = write_elf(&segments, 0x0800_0001);
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.architecture(), object::Architecture::Arm);
    assert!(file.is_little_endian());
    assert_eq!(file.entry(), 0x0800_0001);
    let loaded: Vec<(u64, Vec<u8>)> = file
        .segments()
        .map(|s| (s.address(), s.data().unwrap().to_vec()))
        .collect();
    assert_eq!(
        loaded,
        vec![(0x0800_0000, vec![1, 2, 3]), (0x0800_1001, vec![4, 5])]
    );
    let image = Image::from_bytes(Path::new("x.elf"), &bytes, Format::Elf, None).unwrap();
    assert_eq!(image.segments, segments);
}

#[test]
fn write_hex_splits_at_64k_and_round_trips() {
    let data: Vec<u8> = (0..40u8).collect();
    let segments = vec![
        Segment::new(0x0800_FFF8, data.clone()),
        Segment::new(0x2000_0000, vec![0xAB]),
    ];
    let text = write_hex(&segments);
    assert!(text.starts_with(":020000040800F2\n"));
    assert!(text.contains(":020000040801F1\n"));
    assert!(text.ends_with(":00000001FF\n"));
    let image = Image::from_bytes(Path::new("x.hex"), text.as_bytes(), Format::Hex, None).unwrap();
    assert_eq!(image.segments, segments);
}

#[test]
fn manifest_errors_name_file_entry_and_key() {
    let err = error_text(
        "[[image]]\nfile = \"a.bin\"\nkind = \"app\"\nbase = 0\nversion = \"1.0.0\"\nbody_size = 1\nseed = 1\n",
    );
    assert!(err.contains("fixtures.toml"), "{err}");
    assert!(err.contains("image[0] (file \"a.bin\")"), "{err}");
    assert!(err.contains("`name` is required"), "{err}");

    let err = error_text(
        "[[image]]\nfile = \"a.bin\"\nkind = \"app\"\nbase = 0\nversion = \"1.0\"\nname = \"x\"\nbody_size = 1\nseed = 1\n",
    );
    assert!(err.contains("version"), "{err}");

    let err = error_text("[[image]]\nfile = \"a.bin\"\ncolour = \"red\"\n");
    assert!(err.contains("colour"), "{err}");

    assert!(error_text("").contains("no [[image]] entries"));
}

#[test]
fn manifest_rejects_unsafe_or_duplicate_paths_and_misplaced_keys() {
    let entry = |file: &str, extra: &str| {
        format!(
            "[[image]]\nfile = \"{file}\"\nkind = \"app\"\nbase = 0x08000000\nversion = \"1.0.0\"\n\
             name = \"x\"\nbody_size = 8\nseed = 1\n{extra}\n"
        )
    };
    assert!(error_text(&entry("../escape.bin", "")).contains("relative path"));
    assert!(error_text(&entry("/abs.bin", "")).contains("relative path"));
    let twice = format!("{}{}", entry("a.bin", ""), entry("a.bin", ""));
    assert!(error_text(&twice).contains("image[1]"));
    assert!(error_text(&entry("a.bin", "alt = 1")).contains("only apply to format = \"dfu\""));
    assert!(error_text(&entry("a.bin", "design = \"naive\"")).contains("only apply to kind"));
    assert!(generate_text(&entry("a.bin", "")).is_ok());
}
