//! The DFU benchmark's measure on the virtual clock: the station's host reaches the physical
//! limit in fast mode and the spec's limit in strict mode, and the measure has teeth.

use std::time::Duration;

use station::dfu_bench as bench;

#[test]
fn both_modes_reach_their_limit_on_every_run() {
    let runs = bench::dfu_runs(Duration::ZERO);
    assert_eq!(runs.len(), 6);
    assert!(
        runs.iter()
            .any(|r| r.part == "STM32H743ZI" && r.image_bytes == 2 * 1024 * 1024),
        "{runs:#?}"
    );
    for r in &runs {
        assert!(
            r.note.as_deref().is_none_or(|n| !n.starts_with("failed")),
            "{r:?}"
        );
        assert!(r.ratio >= 0.98 && r.ratio <= 1.0001, "{r:?}");
        assert!(r.image_bytes > 400 * 1024);
    }
    // Strict hosts pay ST's advertised 50 ms per block on a Cube bootloader; fast ones do not.
    let ab = |mode: &str| {
        runs.iter()
            .find(|r| r.bootloader == "ab-slots" && r.mode == mode)
            .unwrap()
            .station_s
    };
    assert!(
        ab("strict") > 3.0 * ab("fast"),
        "strict {} vs fast {}",
        ab("strict"),
        ab("fast")
    );
}

#[test]
fn one_millisecond_too_long_per_block_falls_below_the_goal() {
    let runs = bench::dfu_runs(Duration::from_millis(1));
    assert!(runs.iter().any(|r| r.ratio < 0.98), "{runs:#?}");
    let fast_ab = runs
        .iter()
        .find(|r| r.bootloader == "ab-slots" && r.mode == "fast")
        .unwrap();
    assert!(fast_ab.ratio < 0.98, "{fast_ab:?}");
}
