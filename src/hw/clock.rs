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

/// A clock that only moves when someone sleeps on it or charges work to it.
#[derive(Debug, Default)]
pub struct VirtualClock {
    now: Mutex<Duration>,
}

impl VirtualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that starts at `now` (a snapshot of a simulated device carries its time).
    pub fn starting_at(now: Duration) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Charge `d` of simulated work (a flash erase, a USB transfer) to the clock.
    pub fn advance(&self, d: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += d;
    }

    /// Move to `t` if it lies in the future.
    pub fn advance_to(&self, t: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if t > *now {
            *now = t;
        }
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
}
