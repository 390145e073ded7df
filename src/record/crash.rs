//! Deterministic crash points for the crash-safety tests: `STATION_CRASH_AT=KIND:N` kills the
//! process with SIGKILL (no destructors, no flushed buffers: a kill -9) at the Nth file
//! operation of that kind the record store does. KIND is `write` (half the bytes are written
//! first: a torn write), `fsync` (before the sync) or `rename` (before the rename). Unset, it
//! costs one relaxed load per operation.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

pub const CRASH_VAR: &str = "STATION_CRASH_AT";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Write,
    Fsync,
    Rename,
}

static TARGET: OnceLock<Option<(Kind, u64)>> = OnceLock::new();
static COUNTS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn target() -> Option<(Kind, u64)> {
    *TARGET.get_or_init(|| {
        let text = std::env::var(CRASH_VAR).ok()?;
        let (kind, n) = text.split_once(':')?;
        let kind = match kind {
            "write" => Kind::Write,
            "fsync" => Kind::Fsync,
            "rename" => Kind::Rename,
            _ => return None,
        };
        Some((kind, n.parse().ok()?))
    })
}

/// Counts one operation of `kind`; true when the process must die here.
fn reached(kind: Kind) -> bool {
    let Some((wanted, n)) = target() else {
        return false;
    };
    wanted == kind && COUNTS[kind as usize].fetch_add(1, Ordering::SeqCst) + 1 == n
}

fn die() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a constant signal; it does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

pub fn write_all(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    if reached(Kind::Write) {
        let _ = file.write_all(&bytes[..bytes.len() / 2]);
        die();
    }
    file.write_all(bytes)
}

pub fn sync_all(file: &File) -> std::io::Result<()> {
    if reached(Kind::Fsync) {
        die();
    }
    file.sync_all()
}

pub fn sync_data(file: &File) -> std::io::Result<()> {
    if reached(Kind::Fsync) {
        die();
    }
    file.sync_data()
}

pub fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    if reached(Kind::Rename) {
        die();
    }
    std::fs::rename(from, to)
}
