//! Talking to the application's console: one command, one reply line. Used by the
//! `console_test` steps, by DFU entry through the field products' console command, and by
//! `station console`.

use std::time::{Duration, Instant};

use regex::Regex;

use super::step::StepError;
use crate::config::ConsoleTest;
use crate::hw::{Console, HwError};
use crate::record::{Limits, Measurement};

/// Send `command` and return the first reply line. The wait is real time: the console is a
/// real port (on the virtual bench, a pty answered at once under the device's lock).
pub fn ask(console: &dyn Console, command: &str, timeout: Duration) -> Result<String, HwError> {
    let mut port = console.open()?;
    port.write_all(format!("{command}\r\n").as_bytes())?;
    let deadline = Instant::now() + timeout;
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        let n = port.read(&mut buf, deadline.saturating_duration_since(Instant::now()))?;
        reply.extend_from_slice(&buf[..n]);
        if let Some(end) = reply.iter().position(|b| *b == b'\n') {
            return Ok(String::from_utf8_lossy(&reply[..end]).trim().to_string());
        }
    }
    Err(HwError::Timeout(format!(
        "no reply to {command:?} on {} within {timeout:?}",
        console.name()
    )))
}

/// Run one console test; a measurement when it checks a number.
pub fn run_test(
    console: &dyn Console,
    test: &ConsoleTest,
) -> Result<(String, Option<Measurement>), StepError> {
    let reply = ask(
        console,
        &test.command,
        Duration::from_millis(test.timeout_ms),
    )?;
    if let Some(expect) = &test.expect {
        let re = Regex::new(expect).map_err(|e| StepError::error(e.to_string()))?;
        if !re.is_match(&reply) {
            return Err(StepError::fail(format!(
                "{:?} answered {reply:?}, which does not match {expect:?}",
                test.command
            )));
        }
        return Ok((reply, None));
    }
    let pattern = test.number.as_deref().unwrap_or_default();
    let re = Regex::new(pattern).map_err(|e| StepError::error(e.to_string()))?;
    let value: f64 = re
        .captures(&reply)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
        .ok_or_else(|| {
            StepError::fail(format!(
                "{:?} answered {reply:?}: no number where {pattern:?} expects one",
                test.command
            ))
        })?;
    let limits = Limits {
        low: test.low,
        high: test.high,
    };
    let m = Measurement::new(
        &test.name,
        value,
        test.unit.as_deref().unwrap_or(""),
        Some(limits),
    );
    Ok((reply, Some(m)))
}
