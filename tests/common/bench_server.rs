//! `station sim serve` as a child process on a temp socket: started, waited for with a
//! deadline, and stopped (units saved) when the test ends.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use station::serve::Client;

pub struct BenchServer {
    child: Child,
    pub socket: PathBuf,
    pub station: PathBuf,
}

/// Poll `ready` until it holds or `deadline` passes.
pub fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl BenchServer {
    /// Serve `station` (records in its own directory) on `dir/usb.sock`.
    pub fn start(station: &Path, dir: &Path, time: &str) -> Self {
        let socket = dir.join("usb.sock");
        let child = super::station()
            .args(["sim", "serve", "--station"])
            .arg(station)
            .arg("--socket")
            .arg(&socket)
            .args(["--time", time])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start station sim serve");
        let mut server = Self {
            child,
            socket,
            station: station.to_path_buf(),
        };
        let socket = server.socket.clone();
        let child = &mut server.child;
        wait_for("the server answers", Duration::from_secs(60), || {
            assert!(
                child.try_wait().unwrap().is_none(),
                "station sim serve exited early"
            );
            Client::connect(&socket).is_ok_and(|mut c| c.status("").is_ok())
        });
        server
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket).expect("connect to the server")
    }

    /// `station sim ARGS --socket S`.
    pub fn sim(&self, args: &[&str]) -> Output {
        super::station()
            .arg("sim")
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .unwrap()
    }

    /// Stop it as Ctrl-C would (every unit saved), and wait for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Ok(mut c) = Client::connect(&self.socket) {
            let _ = c.call(&sim_wire::Request::Shutdown);
        }
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.shutdown();
        }
    }
}

/// What `sim status --json` says about one fixture.
pub fn status(server: &BenchServer, fixture: &str) -> serde_json::Value {
    let out = server.sim(&["status", "--json", "--fixture", fixture]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

pub fn command_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
