//! `station bench torture` and `station bench fixtures` at tiny sizes, through the binary:
//! the structure of their JSON reports, never their times.

mod common;

use serde_json::Value;

fn bench(args: &[&str]) -> (Option<i32>, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::station()
        .arg("bench")
        .args(args)
        .arg("--json")
        // The benches' scratch stations and records go to this test's temp dir.
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "the bench left {left:?} behind");
    (out.status.code(), report)
}

#[test]
fn the_torture_bench_sweeps_by_points_and_by_size() {
    let (code, r) = bench(&["torture", "--kib", "16"]);
    assert!(r["design"].as_str().unwrap().contains("crc-single"));
    assert_eq!(r["modes"].as_array().unwrap().len(), 6);
    let by_points = r["by_points"].as_array().unwrap();
    let plans: Vec<&str> = by_points
        .iter()
        .map(|s| s["plan"].as_str().unwrap())
        .collect();
    assert_eq!(plans, ["every:8", "every:4", "every:2", "exhaustive"]);
    let points: Vec<u64> = by_points
        .iter()
        .map(|s| s["points"].as_u64().unwrap())
        .collect();
    assert!(points.windows(2).all(|w| w[0] < w[1]), "{points:?}");
    // Exhaustive: every plan operation in three host modes, every flash operation in three
    // power modes.
    let all = &by_points[3];
    assert_eq!(
        all["points"].as_u64().unwrap(),
        3 * all["plan_operations"].as_u64().unwrap()
            + 3 * all["flash_operations"].as_u64().unwrap()
    );
    let sizes: Vec<u64> = r["by_size"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kib"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [2, 4, 8, 16]);
    for s in by_points.iter().chain(r["by_size"].as_array().unwrap()) {
        assert_eq!(s["outcome"], "Pass", "crc-single never bricks: {s}");
        assert!(s["wall_s"].as_f64().unwrap() > 0.0);
    }
    assert!(r["points_fit"]["r2"].is_number() && r["size_exponent"].is_number());
    // The 10 s goal is judged at 512 KiB only.
    assert!(r.get("goal_met").is_none(), "{r}");
    // Linearity is reported, never judged: with no goal to miss, the bench passes.
    assert!(r["linear_in_points"].is_boolean(), "{r}");
    assert_eq!(code, Some(0), "{r}");
}

#[test]
fn the_torture_bench_refuses_a_size_its_design_cannot_take() {
    let out = common::station()
        .args(["bench", "torture", "--kib", "2000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("992 KiB"));
}

#[test]
fn the_fixtures_bench_runs_one_then_many() {
    let (code, r) = bench(&[
        "fixtures",
        "--fixtures",
        "2",
        "--scale",
        "200",
        "--repeat",
        "1",
    ]);
    let runs = r["runs"].as_array().unwrap();
    let counts: Vec<u64> = runs
        .iter()
        .map(|x| x["fixtures"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2]);
    for run in runs {
        assert_eq!(run["passed"], run["fixtures"], "{run}");
        assert_eq!(
            run["unit_wall_s"].as_array().unwrap().len() as u64,
            run["fixtures"].as_u64().unwrap()
        );
        let steps: Vec<&str> = run["step_wall_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[0].as_str().unwrap())
            .collect();
        assert!(steps.contains(&"dfu_download"), "{steps:?}");
    }
    assert_eq!(r["goal"], 1.1);
    let met = r["met"].as_bool().unwrap();
    let ratio = r["ratio"].as_f64().unwrap();
    assert_eq!(met, ratio <= 1.1);
    assert_eq!(code, Some(if met { 0 } else { 1 }));
}
