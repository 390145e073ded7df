//! The application's CDC console on the virtual bench: a real pseudo-terminal. The station
//! opens its slave side through the `serialport` backend like any serial port; this side answers
//! under the MCU's lock, so a command and the device's reaction cannot race.
//!
//! Commands (one per line): `version` (the running application's name and version),
//! `version cm4` (the second core's, on dual-core parts), `uid`,
//! and the configurable enter-DFU command, after which the application restarts into its
//! bootloader's DFU mode (or the ST ROM, for an `st-rom` product). Nothing answers while no
//! application runs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

use super::cm4::SecondCore;
use super::firmware::Firmware;
use super::mcu::Mcu;

pub struct Console {
    /// The slave side's path (/dev/pts/N), and the stable link to it, if any.
    pub path: PathBuf,
    link: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Kept open so the pty survives the station closing and reopening its side.
    _slave: TTYPort,
}

impl Console {
    /// Open a pty for `mcu`'s application console; `link` becomes a stable symlink to it.
    pub fn start(
        mcu: Arc<Mutex<Mcu>>,
        dfu_command: &str,
        link: Option<&Path>,
    ) -> std::io::Result<Console> {
        let (mut master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let path = PathBuf::from(
            slave
                .name()
                .ok_or_else(|| std::io::Error::other("pty without a name"))?,
        );
        master
            .set_timeout(Duration::from_millis(20))
            .map_err(std::io::Error::other)?;
        if let Some(link) = link {
            if let Some(dir) = link.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(link);
            std::os::unix::fs::symlink(&path, link)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let dfu_command = dfu_command.to_string();
            std::thread::spawn(move || pump(master, mcu, &dfu_command, &stop))
        };
        Ok(Console {
            path,
            link: link.map(Path::to_path_buf),
            stop,
            thread: Some(thread),
            _slave: slave,
        })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(link) = &self.link {
            let _ = std::fs::remove_file(link);
        }
    }
}

fn pump(mut master: TTYPort, mcu: Arc<Mutex<Mcu>>, dfu_command: &str, stop: &AtomicBool) {
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::SeqCst) {
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                continue;
            }
            Err(_) => return,
        };
        for &b in &buf[..n] {
            if b == b'\n' || b == b'\r' {
                if !line.is_empty() {
                    let command = String::from_utf8_lossy(&line).trim().to_string();
                    line.clear();
                    if let Some(reply) = answer(&mcu, &command, dfu_command) {
                        let _ = master.write_all(reply.as_bytes());
                        let _ = master.flush();
                    }
                }
            } else if line.len() < 256 {
                line.push(b);
            }
        }
    }
}

/// What the application answers, under the MCU's lock; None when no application runs.
fn answer(mcu: &Arc<Mutex<Mcu>>, command: &str, dfu_command: &str) -> Option<String> {
    let mut mcu = mcu.lock().unwrap_or_else(|e| e.into_inner());
    let Firmware::App { header, design, .. } = &mcu.firmware else {
        return None;
    };
    // An st-rom product strapped by BOOT0 has no way into DFU from its application.
    let strapped = design.as_ref().is_some_and(|d| {
        d.kind == super::firmware::DesignKind::StRom
            && d.entry == super::firmware::RomEntry::Boot0Strap
    });
    if !mcu.powered {
        return None;
    }
    let reply = match command {
        "version" => format!("{} {}\r\n", header.name, header.version),
        // The CM7 application asks the CM4 (over shared memory on a real board).
        "version cm4" => match &mcu.cm4 {
            Some(SecondCore::Running { header, .. }) => {
                format!("{} {}\r\n", header.name, header.version)
            }
            Some(other) => format!("error: cm4 not running: {}\r\n", other.describe()),
            None => "error: this part has one core\r\n".to_string(),
        },
        "uid" => format!("{}\r\n", mcu.uid_hex()),
        c if c == dfu_command && strapped => "error: no DFU entry in this product\r\n".to_string(),
        c if c == dfu_command => {
            // The field products' path into the bootloader: a request in RAM and a reset.
            mcu.dfu_request = true;
            mcu.system_reset();
            "entering DFU\r\n".to_string()
        }
        other => format!("error: unknown command {other:?}\r\n"),
    };
    Some(reply)
}
