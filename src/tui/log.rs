//! The log pane's lines: step results and unit verdicts, newest last. It follows the newest
//! line unless the operator scrolled back.

use std::collections::VecDeque;

use crate::record::Outcome;

/// Lines kept; older ones drop off (the records hold everything).
pub const LOG_CAPACITY: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Outcome(Outcome),
}

impl LogKind {
    /// Every line starts with a symbol, so its kind never rests on colour.
    pub fn symbol(self) -> &'static str {
        match self {
            LogKind::Info => "·",
            LogKind::Outcome(Outcome::Pass) => "✓",
            LogKind::Outcome(Outcome::Fail) => "✗",
            LogKind::Outcome(Outcome::Aborted) => "■",
            LogKind::Outcome(Outcome::Error | Outcome::Timeout) => "!",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub kind: LogKind,
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub struct Log {
    lines: VecDeque<LogLine>,
    /// Lines scrolled back from the newest; 0 follows.
    scroll: usize,
}

impl Log {
    pub fn push(&mut self, kind: LogKind, text: impl Into<String>) {
        if self.lines.len() == LOG_CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            kind,
            text: text.into(),
        });
        if self.scroll > 0 {
            // Keep the operator's view still while new lines arrive.
            self.scroll = (self.scroll + 1).min(self.max_scroll());
        }
    }

    pub fn scrolled_back(&self) -> usize {
        self.scroll
    }

    pub fn scroll_back(&mut self, lines: usize) {
        self.scroll = (self.scroll + lines).min(self.max_scroll());
    }

    pub fn scroll_forward(&mut self, lines: usize) {
        self.scroll = self.scroll.saturating_sub(lines);
    }

    pub fn follow(&mut self) {
        self.scroll = 0;
    }

    fn max_scroll(&self) -> usize {
        self.lines.len().saturating_sub(1)
    }

    /// The `height` lines to show, oldest first.
    pub fn window(&self, height: usize) -> impl Iterator<Item = &LogLine> {
        let end = self.lines.len().saturating_sub(self.scroll);
        let start = end.saturating_sub(height);
        self.lines.range(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(log: &Log, height: usize) -> Vec<String> {
        log.window(height).map(|l| l.text.clone()).collect()
    }

    #[test]
    fn it_follows_the_newest_lines_until_scrolled_back() {
        let mut log = Log::default();
        for i in 0..5 {
            log.push(LogKind::Info, i.to_string());
        }
        assert_eq!(texts(&log, 2), ["3", "4"]);
        log.scroll_back(2);
        assert_eq!(texts(&log, 2), ["1", "2"]);
        log.push(LogKind::Info, "5");
        assert_eq!(texts(&log, 2), ["1", "2"]);
        log.follow();
        assert_eq!(texts(&log, 2), ["4", "5"]);
    }
}
