//! `station bench tui`: frame render time and idle CPU of the TUI, against their goals.

use std::time::Duration;

use crate::error::{ExitStatus, StationError};
use crate::tui::View;
use crate::tui::frame_bench::{self as bench, FRAME_GOAL, IDLE_CPU_GOAL};

pub fn run(frames: usize, idle_seconds: f64, json: bool) -> Result<ExitStatus, StationError> {
    if frames == 0 || !(idle_seconds.is_finite() && idle_seconds > 0.0) {
        return Err(StationError::usage(
            "--frames must be at least 1 and --idle-seconds a positive number",
        ));
    }
    let io = |e: std::io::Error| StationError::station(format!("rendering: {e}"));
    let mut app = bench::sample_app(8);
    let mut met = true;
    for view in [View::Line, View::Torture, View::Rma] {
        let s = bench::frames(&mut app, view, (200, 60), frames).map_err(io)?;
        met &= s.met;
        if json {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
        } else {
            println!(
                "render {:<8} {} fixtures {}x{}: {} frames, mean {:.3} ms, p99 {:.3} ms, max {:.3} ms; goal p99 <= {} ms: {}",
                s.view,
                s.fixtures,
                s.width,
                s.height,
                s.frames,
                s.mean_ms,
                s.p99_ms,
                s.max_ms,
                FRAME_GOAL.as_millis(),
                verdict(s.met)
            );
        }
    }
    let idle = bench::idle(&mut app, Duration::from_secs_f64(idle_seconds)).map_err(io)?;
    met &= idle.met.unwrap_or(true);
    if json {
        println!("{}", serde_json::to_string(&idle).unwrap_or_default());
    } else {
        let cpu = match (idle.cpu_ms, idle.cpu_share) {
            (Some(ms), Some(share)) => format!(
                "CPU {ms:.1} ms = {:.3}%; goal < {}%: {}",
                share * 100.0,
                IDLE_CPU_GOAL * 100.0,
                verdict(share < IDLE_CPU_GOAL)
            ),
            _ => "CPU time not available on this platform".to_string(),
        };
        println!(
            "idle   event loop, no input, {:.1} s: {} frames drawn; {cpu}",
            idle.wall_s, idle.frames
        );
    }
    Ok(if met {
        ExitStatus::Pass
    } else {
        ExitStatus::Fail
    })
}

fn verdict(met: bool) -> &'static str {
    if met { "pass" } else { "MISS" }
}
