//! A client of the served bench: what `station sim cut|power|status` use.

use std::os::unix::net::UnixStream;
use std::path::Path;

use sim_wire::{ErrorKind, FixtureStatus, Reply, Request};

pub struct Client {
    stream: UnixStream,
}

/// Why a call failed: the request itself was wrong (a usage error), or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    Invalid(String),
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Invalid(m) | CallError::Failed(m) => f.write_str(m),
        }
    }
}

impl Client {
    pub fn connect(socket: &Path) -> Result<Self, CallError> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            CallError::Failed(format!(
                "no virtual bench server at {} ({e}): start one with `station sim serve --station S`",
                socket.display()
            ))
        })?;
        let mut client = Self { stream };
        match client.call(&Request::Hello {
            version: sim_wire::VERSION,
            client: "station".into(),
        })? {
            Reply::Hello { .. } => Ok(client),
            other => Err(CallError::Failed(format!(
                "unexpected answer to hello: {other:?}"
            ))),
        }
    }

    /// One request, one reply; a server error becomes `Err` with its message.
    pub fn call(&mut self, request: &Request) -> Result<Reply, CallError> {
        let lost = |e: std::io::Error| {
            CallError::Failed(format!("the virtual bench server went away: {e}"))
        };
        sim_wire::write_frame(&mut self.stream, &request.encode()).map_err(lost)?;
        let payload = sim_wire::read_frame(&mut self.stream)
            .map_err(lost)?
            .ok_or_else(|| {
                CallError::Failed("the virtual bench server closed the connection".into())
            })?;
        match Reply::decode(&payload).map_err(|e| CallError::Failed(e.to_string()))? {
            Reply::Error { kind, message } => Err(match kind {
                ErrorKind::Invalid => CallError::Invalid(message),
                _ => CallError::Failed(format!("{message} ({kind:?})")),
            }),
            reply => Ok(reply),
        }
    }

    pub fn status(&mut self, fixture: &str) -> Result<Vec<FixtureStatus>, CallError> {
        match self.call(&Request::Status {
            fixture: fixture.into(),
        })? {
            Reply::Status(all) => Ok(all),
            other => Err(CallError::Failed(format!(
                "unexpected answer to status: {other:?}"
            ))),
        }
    }
}
