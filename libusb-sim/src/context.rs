//! A libusb context: one connection to the server, opened when first needed and opened again
//! after it failed. The C side holds `Arc::into_raw` of it; devices and handles hold clones.

use std::ffi::c_int;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sim_wire::{ErrorKind, Reply, Request};

use crate::errors::*;

pub struct Context {
    socket: PathBuf,
    stream: Mutex<Option<UnixStream>>,
    /// The "no server" hint is printed once per context, not on every call.
    warned: AtomicBool,
    trace: bool,
}

/// The opaque `libusb_context` of the C API.
pub type LibusbContext = Context;

static DEFAULT: OnceLock<Arc<Context>> = OnceLock::new();

impl Context {
    pub fn new() -> Self {
        Self {
            socket: sim_wire::socket_path(),
            stream: Mutex::new(None),
            warned: AtomicBool::new(false),
            trace: std::env::var_os("STATION_USB_TRACE").is_some_and(|v| !v.is_empty()),
        }
    }

    fn connect(&self) -> Result<UnixStream, c_int> {
        let fail = |why: String| {
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "libusb-sim: no virtual bench at {} ({why}); start `station sim serve \
                     --station S`, or set {} to its socket",
                    self.socket.display(),
                    sim_wire::SOCKET_ENV
                );
            }
            LIBUSB_ERROR_IO
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(|e| fail(e.to_string()))?;
        let hello = Request::Hello {
            version: sim_wire::VERSION,
            client: std::env::args().next().unwrap_or_default(),
        };
        match exchange(&mut stream, &hello) {
            Ok(Reply::Hello { .. }) => Ok(stream),
            Ok(Reply::Error { message, .. }) => Err(fail(message)),
            Ok(other) => Err(fail(format!("unexpected answer {other:?}"))),
            Err(e) => Err(fail(e.to_string())),
        }
    }

    /// One request and its reply. A server error becomes the libusb error code it means.
    pub fn call(&self, request: &Request) -> Result<Reply, c_int> {
        let mut guard = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.connect()?);
        }
        let Some(stream) = guard.as_mut() else {
            return Err(LIBUSB_ERROR_IO);
        };
        let reply = exchange(stream, request);
        if self.trace {
            eprintln!("libusb-sim: {request:?} -> {reply:?}");
        }
        match reply {
            Ok(Reply::Error { kind, .. }) => Err(match kind {
                ErrorKind::NoDevice => LIBUSB_ERROR_NO_DEVICE,
                ErrorKind::NotFound => LIBUSB_ERROR_NOT_FOUND,
                ErrorKind::Stall => LIBUSB_ERROR_PIPE,
                ErrorKind::Timeout => LIBUSB_ERROR_TIMEOUT,
                ErrorKind::Invalid => LIBUSB_ERROR_INVALID_PARAM,
                ErrorKind::Io => LIBUSB_ERROR_IO,
            }),
            Ok(reply) => Ok(reply),
            Err(_) => {
                // The server went away: the next call connects afresh.
                *guard = None;
                Err(LIBUSB_ERROR_IO)
            }
        }
    }

    /// Tell the server this client is done, so its units are saved before we return.
    pub fn flush(&self) {
        let connected = self
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if connected {
            let _ = self.call(&Request::Flush);
        }
    }
}

fn exchange(stream: &mut UnixStream, request: &Request) -> std::io::Result<Reply> {
    sim_wire::write_frame(stream, &request.encode())?;
    let payload = sim_wire::read_frame(stream)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
    Reply::decode(&payload).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The context a C pointer names (NULL: the default context), as a new strong reference.
///
/// # Safety
/// `ctx` is NULL or a pointer `libusb_init` returned and `libusb_exit` has not freed.
pub unsafe fn context(ctx: *const LibusbContext) -> Arc<Context> {
    if ctx.is_null() {
        return DEFAULT.get_or_init(|| Arc::new(Context::new())).clone();
    }
    // SAFETY: the caller passes a live pointer from `Arc::into_raw` in `libusb_init`.
    unsafe {
        Arc::increment_strong_count(ctx);
        Arc::from_raw(ctx)
    }
}

/// `libusb_init`: a new context, or (NULL) the default one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_init(ctx: *mut *mut LibusbContext) -> c_int {
    if ctx.is_null() {
        // SAFETY: NULL names the default context.
        drop(unsafe { context(std::ptr::null()) });
    } else {
        // SAFETY: the caller gave a place for the new context.
        unsafe { *ctx = Arc::into_raw(Arc::new(Context::new())) as *mut LibusbContext };
    }
    LIBUSB_SUCCESS
}

/// `libusb_init_context` (libusb 1.0.27): options are accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_init_context(
    ctx: *mut *mut LibusbContext,
    _options: *const std::ffi::c_void,
    _num_options: c_int,
) -> c_int {
    // SAFETY: as for libusb_init.
    unsafe { libusb_init(ctx) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_exit(ctx: *mut LibusbContext) {
    // SAFETY: NULL or a live context from libusb_init.
    let c = unsafe { context(ctx) };
    c.flush();
    if !ctx.is_null() {
        // SAFETY: this drops the reference libusb_init handed out.
        drop(unsafe { Arc::from_raw(ctx as *const Context) });
    }
}

/// `libusb_set_option(ctx, option, ...)`: every option is accepted (log levels, no device
/// discovery) and changes nothing here. The variadic tail is not read.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_set_option(_ctx: *mut LibusbContext, _option: c_int) -> c_int {
    LIBUSB_SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_set_debug(_ctx: *mut LibusbContext, _level: c_int) {}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_set_log_cb(
    _ctx: *mut LibusbContext,
    _cb: *const std::ffi::c_void,
    _mode: c_int,
) {
}
