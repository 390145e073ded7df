//! A one-line progress bar on stderr, drawn only when stderr is a terminal (pipes and
//! `--json` get none, so scripts never see carriage returns).

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Bar {
    enabled: bool,
    label: String,
    started: Instant,
    /// The last line drawn, to redraw only on change.
    last: String,
}

impl Bar {
    /// A bar for `label`, shown when stderr is a terminal and `quiet` is false.
    pub fn new(label: &str, quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            label: label.to_string(),
            started: Instant::now(),
            last: String::new(),
        }
    }

    pub fn update(&mut self, phase: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let line = render(
            &self.label,
            phase,
            done,
            total,
            self.started.elapsed().as_secs_f64(),
        );
        if line != self.last {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{line}\x1b[K");
            let _ = err.flush();
            self.last = line;
        }
    }

    /// Leave the terminal on a fresh line.
    pub fn finish(&mut self) {
        if self.enabled && !self.last.is_empty() {
            let _ = writeln!(std::io::stderr());
            self.last.clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

const WIDTH: usize = 30;

/// `label phase [=========>          ]  45%  120.0/299.4 KiB  1.2 s`
pub fn render(label: &str, phase: &str, done: u64, total: u64, seconds: f64) -> String {
    let fraction = if total == 0 {
        0.0
    } else {
        (done.min(total) as f64 / total as f64).clamp(0.0, 1.0)
    };
    let filled = (fraction * WIDTH as f64).floor() as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    let kib = |b: u64| b as f64 / 1024.0;
    format!(
        "{label} {phase:<8} [{bar}] {:>3}%  {:.1}/{:.1} KiB  {seconds:.1} s",
        (fraction * 100.0).floor() as u32,
        kib(done),
        kib(total)
    )
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn bar_fills_with_the_fraction_done() {
        let start = render("unit", "program", 0, 2048, 0.0);
        assert!(start.contains("[>") && start.contains("  0%"), "{start}");
        let half = render("unit", "program", 1024, 2048, 1.5);
        assert!(half.contains(&format!("[{}>", "=".repeat(15))), "{half}");
        assert!(half.contains(" 50%") && half.contains("1.0/2.0 KiB") && half.ends_with("1.5 s"));
        let done = render("unit", "program", 4096, 2048, 2.0);
        assert!(
            done.contains(&format!("[{}]", "=".repeat(30))) && done.contains("100%"),
            "{done}"
        );
        // A total of zero never divides by zero.
        assert!(render("unit", "read", 0, 0, 0.0).contains("  0%"));
    }
}
