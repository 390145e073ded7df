//! Instructions per second on a straight-line loop (printed; run with --release --nocapture).

mod support;

use std::time::Instant;
use support::programs::STRAIGHT;
use support::*;

/// Instructions to run: SPEED_BUDGET, else a short run in debug and 50 M in release.
fn budget() -> u64 {
    std::env::var("SPEED_BUDGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            200_000
        } else {
            50_000_000
        })
}

#[test]
fn straight_line_speed() {
    let (mut cpu, mut bus) = v7(STRAIGHT);
    let budget = budget();
    let t = Instant::now();
    let (ev, n) = cpu.run(&mut bus, budget);
    let dt = t.elapsed().as_secs_f64();
    assert_eq!((ev, n), (station_cpu::Event::None, budget));
    println!(
        "{:.1} M instructions/s ({n} in {dt:.3} s)",
        n as f64 / dt / 1e6
    );
}

#[test]
fn nop_loop_speed() {
    let mut prog = vec![NOP; 15];
    prog.push(0xE7F0); // b back to the first nop
    let (mut cpu, mut bus) = v7(&prog);
    let budget = budget();
    let t = Instant::now();
    let (_, n) = cpu.run(&mut bus, budget);
    let dt = t.elapsed().as_secs_f64();
    println!("nops: {:.1} M instructions/s", n as f64 / dt / 1e6);
}
