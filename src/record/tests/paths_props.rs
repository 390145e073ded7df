use std::path::{Component, Path};

use proptest::prelude::*;

use crate::record::paths::safe_component;

fn assert_single_plain_component(input: &str) {
    let out = safe_component(input);
    let components: Vec<_> = Path::new(&out).components().collect();
    assert!(
        matches!(components[..], [Component::Normal(_)]),
        "{input:?} -> {out:?}"
    );
    assert!(!out.contains(['/', '\\', '\0']), "{input:?} -> {out:?}");
    assert!(!out.is_empty() && out.len() <= 64, "{input:?} -> {out:?}");
    assert!(!out.starts_with(['.', '-']), "{input:?} -> {out:?}");
    assert!(
        out.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    );
}

#[test]
fn known_nasty_inputs() {
    let long = "é".repeat(300);
    for input in [
        "",
        ".",
        "..",
        "...",
        "\0",
        "/",
        "\\",
        "a/b",
        "../../etc/passwd",
        "ÿ/ü",
        "-rf",
        &long,
    ] {
        assert_single_plain_component(input);
    }
}

#[test]
fn safe_names_are_kept_and_unsafe_ones_tagged() {
    assert_eq!(safe_component("SN-0001_a.b"), "SN-0001_a.b");
    let tagged = safe_component("a/b");
    assert!(tagged.starts_with("a_b-") && tagged.len() == 12, "{tagged}");
    // An input that looks like a tagged name is tagged again, so no clash.
    assert_ne!(safe_component(&tagged), tagged);
    assert_ne!(safe_component("a_b"), tagged);
    assert_ne!(safe_component(""), safe_component("_"));
    assert_ne!(safe_component(".."), safe_component("__"));
    let long = "x".repeat(65);
    assert_ne!(safe_component(&long), safe_component(&"x".repeat(66)));
    assert_eq!(safe_component(&long).len(), 64);
}

fn unsafe_char() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("unsafe", |c| {
        !c.is_ascii_alphanumeric() && !"._-".contains(*c)
    })
}

proptest! {
    #[test]
    fn any_string_is_one_plain_component(input in any::<String>()) {
        assert_single_plain_component(&input);
    }

    #[test]
    fn ascii_punctuation_is_one_plain_component(input in "[ -~\\x00]{0,80}") {
        assert_single_plain_component(&input);
    }

    #[test]
    fn differing_only_in_unsafe_chars_never_collide(
        prefix in "[A-Za-z0-9._-]{0,70}",
        suffix in "[A-Za-z0-9._-]{0,10}",
        a in unsafe_char(),
        b in unsafe_char(),
    ) {
        prop_assume!(a != b);
        let left = safe_component(&format!("{prefix}{a}{suffix}"));
        let right = safe_component(&format!("{prefix}{b}{suffix}"));
        prop_assert_ne!(left, right);
    }

    #[test]
    fn distinct_inputs_map_to_distinct_outputs(a in "[a-c/._-]{0,12}", b in "[a-c/._-]{0,12}") {
        prop_assume!(a != b);
        prop_assert_ne!(safe_component(&a), safe_component(&b));
    }
}
