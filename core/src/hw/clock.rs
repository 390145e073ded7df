use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Time as the station sees it. Simulated fixtures use a [`VirtualClock`] so that tests and
/// headless dry runs never sleep in real time; real fixtures use the [`SystemClock`].
pub trait Clock: Send + Sync {
    /// Time elapsed since the clock was created.
    fn now(&self) -> Duration;
    /// Wait for `d`: really, or by advancing virtual time.
    fn sleep(&self, d: Duration);
}

#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// How simulated time relates to the wall clock: a run option (`--time`), not a config key.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum TimeMode {
    /// As fast as the host can go; the default for headless runs and tests.
    #[default]
    Virtual,
    /// Paced to the wall clock, `scale` times faster (1.0 = real time): for watching the TUI.
    Realtime { scale: f64 },
}

/// Paced time from a thousandth of real time (a second's work watched for 16 minutes) to a
/// million times faster: beyond these, durations overflow.
const MIN_SCALE: f64 = 0.001;
const MAX_SCALE: f64 = 1_000_000.0;

impl std::str::FromStr for TimeMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "expected virtual, realtime or realtime:SCALE (e.g. realtime:20, a SCALE from \
                 {MIN_SCALE} to {MAX_SCALE}), found {s:?}"
            )
        };
        match s.split_once(':') {
            None if s == "virtual" => Ok(TimeMode::Virtual),
            None if s == "realtime" => Ok(TimeMode::Realtime { scale: 1.0 }),
            Some(("realtime", scale)) => match scale.parse::<f64>() {
                Ok(x) if (MIN_SCALE..=MAX_SCALE).contains(&x) => {
                    Ok(TimeMode::Realtime { scale: x })
                }
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// A clock that only moves when someone sleeps on it or charges work to it. Paced, it also
/// waits out each step on the wall clock (scaled), so a person can watch a simulated run.
#[derive(Debug, Default)]
pub struct VirtualClock {
    now: Mutex<Duration>,
    pace: Option<f64>,
    /// Paced: (wall, virtual) where the current schedule starts. Each step sleeps until its
    /// place on that schedule, so the wake-up latency of thousands of short sleeps does not
    /// add up (and fixtures in parallel do not fall behind one alone).
    anchor: Mutex<Option<(Instant, Duration)>>,
}

/// Lateness paced time makes up in the steps that follow (sleep overshoot, a busy machine);
/// a clock further behind (a fixture that sat idle) starts a new schedule instead of racing.
const PACE_SLACK: Duration = Duration::from_millis(25);

impl VirtualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that starts at `now` (a snapshot of a simulated device carries its time).
    pub fn starting_at(now: Duration) -> Self {
        Self {
            now: Mutex::new(now),
            pace: None,
            anchor: Mutex::new(None),
        }
    }

    pub fn with_mode(mode: TimeMode) -> Self {
        let pace = match mode {
            TimeMode::Virtual => None,
            TimeMode::Realtime { scale } => Some(scale),
        };
        Self {
            now: Mutex::new(Duration::ZERO),
            pace,
            anchor: Mutex::new(None),
        }
    }

    /// A clock in `mode` that starts at `now` (a served unit restored from its saved state).
    pub fn with_mode_at(mode: TimeMode, now: Duration) -> Self {
        Self {
            now: Mutex::new(now),
            ..Self::with_mode(mode)
        }
    }

    /// Move to `t` if it lies in the future, without pacing: the wall clock already spent that
    /// time (a served device follows real time while its host sleeps).
    pub fn catch_up(&self, t: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if t > *now {
            *now = t;
            // The wall clock spent that time: pacing starts again from here.
            *self.anchor.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// The wall-clock speed-up when paced (`None`: virtual time).
    pub fn scale(&self) -> Option<f64> {
        self.pace
    }

    /// Paced: wait until virtual time `to` (moved from `from`) is due on the wall clock.
    fn pace(&self, from: Duration, to: Duration) {
        let Some(scale) = self.pace else {
            return;
        };
        if to <= from {
            return;
        }
        let wall = Instant::now();
        let due = {
            let mut anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
            let (next, due) = schedule(*anchor, wall, from, to, scale);
            *anchor = Some(next);
            due
        };
        if let Some(wait) = due.checked_duration_since(wall)
            && !wait.is_zero()
        {
            std::thread::sleep(wait);
        }
    }

    /// Charge `d` of simulated work (a flash erase, a USB transfer) to the clock.
    pub fn advance(&self, d: Duration) {
        let (from, to) = {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            let from = *now;
            *now += d;
            (from, *now)
        };
        self.pace(from, to);
    }

    /// Move to `t` if it lies in the future.
    pub fn advance_to(&self, t: Duration) {
        let from = {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            let from = *now;
            if t > *now {
                *now = t;
            }
            from
        };
        self.pace(from, t);
    }
}

/// When virtual time `to` (moved from `from`) is due on the wall clock at `scale`, and the
/// schedule to keep: the one given, or a new one from `wall` when there is none or the clock
/// is more than [`PACE_SLACK`] behind it.
fn schedule(
    anchor: Option<(Instant, Duration)>,
    wall: Instant,
    from: Duration,
    to: Duration,
    scale: f64,
) -> ((Instant, Duration), Instant) {
    let on = |(a_wall, a_virtual): (Instant, Duration), t: Duration| {
        a_wall + t.saturating_sub(a_virtual).div_f64(scale)
    };
    match anchor {
        Some(a) if on(a, from) + PACE_SLACK >= wall => (a, on(a, to)),
        _ => ((wall, from), on((wall, from), to)),
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn sleep(&self, d: Duration) {
        self.advance(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_told() {
        let c = VirtualClock::new();
        assert_eq!(c.now(), Duration::ZERO);
        c.sleep(Duration::from_millis(50));
        c.advance(Duration::from_micros(10));
        assert_eq!(c.now(), Duration::from_micros(50_010));
        c.advance_to(Duration::from_millis(10));
        assert_eq!(
            c.now(),
            Duration::from_micros(50_010),
            "advance_to never goes back"
        );
        c.advance_to(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_secs(1));
    }

    #[test]
    fn catching_up_moves_forward_only_and_keeps_the_mode() {
        let c =
            VirtualClock::with_mode_at(TimeMode::Realtime { scale: 4.0 }, Duration::from_secs(3));
        assert_eq!((c.now(), c.scale()), (Duration::from_secs(3), Some(4.0)));
        c.catch_up(Duration::from_secs(2));
        assert_eq!(c.now(), Duration::from_secs(3));
        c.catch_up(Duration::from_secs(5));
        assert_eq!(c.now(), Duration::from_secs(5));
        assert_eq!(VirtualClock::new().scale(), None);
    }

    #[test]
    fn paced_steps_keep_to_one_schedule_and_an_idle_clock_starts_a_new_one() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        // The first step starts the schedule: 1 s of virtual time at 10x is due 100 ms later.
        let (a, due) = schedule(None, t0, ms(0), ms(1000), 10.0);
        assert_eq!((a, due), ((t0, ms(0)), t0 + ms(100)));
        // A step that starts late (a sleep woke 5 ms late) keeps the schedule: its end is due
        // where it always was, so the lateness does not add up.
        let (b, due) = schedule(Some(a), t0 + ms(105), ms(1000), ms(1010), 10.0);
        assert_eq!((b, due), (a, t0 + ms(101)));
        // Behind by more than the slack (the fixture sat idle): a new schedule from now.
        let late = t0 + ms(100) + PACE_SLACK + ms(1);
        let (c, due) = schedule(Some(a), late, ms(1000), ms(1010), 10.0);
        assert_eq!((c, due), ((late, ms(1000)), late + ms(1)));
    }

    #[test]
    fn time_modes_parse_with_clear_errors() {
        assert_eq!("virtual".parse::<TimeMode>(), Ok(TimeMode::Virtual));
        assert_eq!(
            "realtime".parse::<TimeMode>(),
            Ok(TimeMode::Realtime { scale: 1.0 })
        );
        assert_eq!(
            "realtime:20".parse::<TimeMode>(),
            Ok(TimeMode::Realtime { scale: 20.0 })
        );
        for bad in [
            "fast",
            "realtime:0",
            "realtime:-1",
            "realtime:1e-308",
            "realtime:1e20",
            "realtime:x",
            "virtual:2",
        ] {
            assert!(
                bad.parse::<TimeMode>()
                    .unwrap_err()
                    .contains("realtime:SCALE"),
                "{bad}"
            );
        }
    }
}
