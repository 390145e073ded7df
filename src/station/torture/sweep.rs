//! The snapshot sweep on every core: each cut point starts from its own copy of the base
//! unit and depends on nothing else, so workers take points in turn and the results come back
//! to the calling thread (which journals them and reports progress) in the order they finish.
//! A point's result does not depend on which worker ran it or when.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::{self as torture, Calibration, Point, PointResult, Setup};
use crate::hw::bench::BenchUnit;
use crate::image::header::Version;

/// Workers for a sweep: the machine's cores, at most `MAX_WORKERS`.
pub fn workers() -> usize {
    const MAX_WORKERS: usize = 8;
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS))
}

/// Run `points`, each from a copy of `base`, on `threads` workers. `each` receives every result
/// on this thread and answers whether to go on; once it says no (or fails), no new point
/// starts, and the points already under way still reach it.
#[allow(clippy::too_many_arguments)]
pub fn run<E>(
    base: &dyn BenchUnit,
    setup: &Setup,
    cal: &Calibration,
    points: &[Point],
    (old, new): (Version, Version),
    threads: usize,
    each: &mut dyn FnMut(PointResult) -> Result<bool, E>,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(point) = points.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        break;
                    };
                    // A copy of the base unit's state: no console, no probe, its own clock.
                    let result = torture::run_point_on(base.copy(), setup, cal, *point, old, new);
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for result in rx {
            if outcome.is_err() {
                continue;
            }
            match each(result) {
                Ok(true) => {}
                Ok(false) => stop.store(true, Ordering::SeqCst),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    outcome = Err(e);
                }
            }
        }
        outcome
    })
}
