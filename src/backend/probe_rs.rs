//! The debug-target seam over probe-rs 0.32: the same code drives a real probe on the line and
//! the virtual bench's simulated probe in tests.

use std::sync::OnceLock;
use std::time::Duration;

use probe_rs::config::Registry;
use probe_rs::flashing::{
    DownloadOptions, FlashError, FlashProgress as PrProgress, ProgressEvent, ProgressOperation,
};
use probe_rs::probe::list::Lister;
use probe_rs::probe::{DebugProbeError, DebugProbeSelector, ProbeCreationError, WireProtocol};
use probe_rs::{MemoryInterface, Permissions, Session};

use crate::hw::{
    AttachMode, DebugTarget, FlashOptions, FlashPhase, FlashProgress, FlashReport, HwError,
    ResetKind, Segment,
};

pub struct ProbeRsTarget {
    selector: String,
    chip: String,
    speed_khz: u32,
    session: Option<Session>,
}

impl ProbeRsTarget {
    pub fn new(selector: &str, chip: &str, speed_khz: u32) -> Self {
        Self {
            selector: selector.to_string(),
            chip: chip.to_string(),
            speed_khz,
            session: None,
        }
    }

    fn session(&mut self) -> Result<&mut Session, HwError> {
        self.session
            .as_mut()
            .ok_or_else(|| HwError::Backend("not attached to the target".into()))
    }

    fn open_probe(&self) -> Result<probe_rs::probe::Probe, HwError> {
        let selector: DebugProbeSelector = self.selector.parse().map_err(|e| {
            HwError::Backend(format!("bad probe selector {:?}: {e}", self.selector))
        })?;
        let lister = Lister::new();
        lister.open(selector.clone()).map_err(|e| match e {
            // A probe that is there but cannot be opened says why; any other USB error (no
            // USB at all on this machine, say) means the probe is not there.
            DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(io))
                if held_or_denied(&io) =>
            {
                probe_error(DebugProbeError::ProbeCouldNotBeCreated(
                    ProbeCreationError::Usb(io),
                ))
            }
            DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::NotFound)
            | DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(_)) => {
                let attached: Vec<String> = lister
                    .list_all()
                    .iter()
                    .map(|p| {
                        format!(
                            "{:04x}:{:04x}:{}",
                            p.vendor_id,
                            p.product_id,
                            p.serial_number.as_deref().unwrap_or("?")
                        )
                    })
                    .collect();
                let what = match &selector.serial_number {
                    Some(s) => format!("serial {s}"),
                    None => format!("{:04x}:{:04x}", selector.vendor_id, selector.product_id),
                };
                HwError::NotFound(format!(
                    "no debug probe with {what}; attached probes: {}",
                    if attached.is_empty() {
                        "none".to_string()
                    } else {
                        attached.join(", ")
                    }
                ))
            }
            other => probe_error(other),
        })
    }
}

fn busy(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::ResourceBusy
        || io.to_string().to_ascii_lowercase().contains("busy")
}

fn held_or_denied(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::PermissionDenied || busy(io)
}

/// probe-rs's built-in chip descriptions, decoded once per process: `Probe::attach` decodes
/// them all on every call, which cost more CPU than the rest of a unit's run.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::from_builtin_families)
}

fn probe_error(e: DebugProbeError) -> HwError {
    let text = e.to_string();
    match e {
        DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(io))
            if io.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            HwError::Busy(format!(
                "no permission to open the probe ({io}); install the probe-rs udev rules \
                 (`station probe list` shows the rule for each probe)"
            ))
        }
        DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(io)) if busy(&io) => {
            HwError::Busy(format!(
                "the probe is in use by another program (a debugger, OpenOCD, another \
                 station): close it, then retry ({io})"
            ))
        }
        _ => HwError::Backend(format!("debug probe: {text}")),
    }
}

/// probe-rs gave up waiting for the core to halt after releasing reset
/// (`Probe::attach_under_reset` turns that timeout into this `Error::Other`).
fn no_halt_under_reset(e: &HwError) -> bool {
    matches!(e, HwError::Backend(m) if m.contains("Timeout while attaching to target under reset"))
}

/// Classify probe-rs errors into what a person can act on.
pub fn session_error(e: probe_rs::Error) -> HwError {
    use probe_rs::architecture::arm::{ArmError, DapError};
    let debug = format!("{e:?}");
    match &e {
        probe_rs::Error::Arm(ArmError::NoTargetResponse { .. }) => {
            HwError::NoResponse("the target does not answer on SWD: check power and wiring".into())
        }
        probe_rs::Error::Probe(p) => probe_error_ref(p, &e),
        probe_rs::Error::Timeout => HwError::Timeout(e.to_string()),
        _ if debug.contains("FaultResponse") => HwError::Protected(format!(
            "the target refused the access (read protection?): {e}"
        )),
        _ if debug.contains(&format!("{:?}", DapError::NoAcknowledge)) => {
            HwError::NoResponse("the target does not answer on SWD: check power and wiring".into())
        }
        _ => HwError::Backend(e.to_string()),
    }
}

fn probe_error_ref(_p: &DebugProbeError, e: &probe_rs::Error) -> HwError {
    HwError::Backend(format!("debug probe: {e}"))
}

fn flash_error(e: FlashError) -> HwError {
    match e {
        FlashError::Verify => {
            HwError::VerifyMismatch("flash contents differ from the image after programming".into())
        }
        FlashError::Core(inner) => session_error(inner),
        other => {
            let text = format!("{other}: {other:?}");
            if text.contains("RoutineCallFailed") {
                HwError::Protected(format!(
                    "the flash algorithm failed (write or read protection?): {other}"
                ))
            } else {
                HwError::Backend(format!("flashing failed: {other} ({other:?})"))
            }
        }
    }
}

fn phase(op: ProgressOperation) -> Option<FlashPhase> {
    match op {
        ProgressOperation::Erase => Some(FlashPhase::Erase),
        ProgressOperation::Program => Some(FlashPhase::Program),
        ProgressOperation::Verify => Some(FlashPhase::Verify),
        _ => None,
    }
}

impl DebugTarget for ProbeRsTarget {
    fn attach(&mut self, mode: AttachMode) -> Result<(), HwError> {
        self.session = None;
        let attach_once = |this: &Self| -> Result<Session, HwError> {
            let mut probe = this.open_probe()?;
            probe
                .select_protocol(WireProtocol::Swd)
                .map_err(probe_error)?;
            probe.set_speed(this.speed_khz).map_err(probe_error)?;
            let chip = this.chip.as_str();
            let result = match mode {
                AttachMode::Normal => {
                    probe.attach_with_registry(chip, Permissions::default(), registry())
                }
                AttachMode::UnderReset => {
                    probe.attach_under_reset_with_registry(chip, Permissions::default(), registry())
                }
            };
            result.map_err(session_error)
        };
        let session = match attach_once(self) {
            // probe-rs #4113: the first attach under reset after power-on fails (the reset
            // vector catch is armed before debug is enabled); the second finds it enabled.
            Err(e) if mode == AttachMode::UnderReset && no_halt_under_reset(&e) => {
                attach_once(self).map_err(|again| {
                    if no_halt_under_reset(&again) {
                        HwError::NoResponse(
                            "the core did not stop under reset, twice: check power and \
                             wiring, and that the probe's reset line reaches the part's NRST"
                                .into(),
                        )
                    } else {
                        again
                    }
                })?
            }
            other => other?,
        };
        self.session = Some(session);
        Ok(())
    }

    fn detach(&mut self) {
        self.session = None;
    }

    fn read_word(&mut self, address: u32) -> Result<u32, HwError> {
        let mut core = self.session()?.core(0).map_err(session_error)?;
        core.read_word_32(address as u64).map_err(session_error)
    }

    fn write_word(&mut self, address: u32, value: u32) -> Result<(), HwError> {
        let mut core = self.session()?.core(0).map_err(session_error)?;
        core.write_word_32(address as u64, value)
            .map_err(session_error)
    }

    fn read_words(&mut self, address: u32, out: &mut [u32]) -> Result<(), HwError> {
        let mut core = self.session()?.core(0).map_err(session_error)?;
        core.read_32(address as u64, out).map_err(session_error)
    }

    fn flash(
        &mut self,
        segments: &[Segment],
        options: &FlashOptions,
        progress: &mut dyn FnMut(FlashProgress),
    ) -> Result<FlashReport, HwError> {
        let session = self.session()?;
        let mut loader = session.target().flash_loader();
        for seg in segments {
            loader
                .add_data(seg.address as u64, &seg.data)
                .map_err(flash_error)?;
        }
        let total: u64 = segments.iter().map(|s| s.data.len() as u64).sum();
        if options.preverify && loader.verify(session, &mut PrProgress::empty()).is_ok() {
            return Ok(FlashReport {
                skipped: true,
                bytes_programmed: 0,
                verified: true,
            });
        }
        let mut totals = [0u64; 3];
        let mut done = [0u64; 3];
        let mut download = DownloadOptions::default();
        download.verify = options.verify;
        download.progress = PrProgress::new(|event| match event {
            ProgressEvent::AddProgressBar { operation, total } => {
                if let Some(p) = phase(operation) {
                    totals[p as usize] = total.unwrap_or(0);
                }
            }
            ProgressEvent::Progress {
                operation, size, ..
            } => {
                if let Some(p) = phase(operation) {
                    done[p as usize] += size;
                    progress(FlashProgress {
                        phase: p,
                        done: done[p as usize],
                        total: totals[p as usize],
                    });
                }
            }
            _ => {}
        });
        loader.commit(session, download).map_err(flash_error)?;
        Ok(FlashReport {
            skipped: false,
            bytes_programmed: total,
            verified: options.verify,
        })
    }

    fn reset(&mut self, kind: ResetKind) -> Result<(), HwError> {
        let mut core = self.session()?.core(0).map_err(session_error)?;
        match kind {
            ResetKind::Run => core.reset().map_err(session_error),
            ResetKind::Halt => core
                .reset_and_halt(Duration::from_millis(500))
                .map(drop)
                .map_err(session_error),
        }
    }
}

/// The probes probe-rs can see, for `station probe list`.
pub fn list_probes() -> Vec<(String, String, bool)> {
    Lister::new()
        .list_all_with_access()
        .into_iter()
        .map(|item| {
            let p = item.info;
            let selector = format!(
                "{:04x}:{:04x}:{}",
                p.vendor_id,
                p.product_id,
                p.serial_number.as_deref().unwrap_or("")
            );
            let accessible = matches!(
                item.accessibility,
                probe_rs::probe::list::Accessibility::Accessible
            );
            (selector, p.identifier.clone(), accessible)
        })
        .collect()
}

/// What `station probe list` prints: one line per probe (selector and name), and for a probe
/// the user may not open, the udev rule that fixes it; "no probes found" when there are none.
pub fn describe_probes(probes: &[(String, String, bool)]) -> Vec<String> {
    if probes.is_empty() {
        return vec!["no probes found".into()];
    }
    let mut lines = Vec::new();
    for (selector, name, accessible) in probes {
        lines.push(format!("{selector}  {name}"));
        if !accessible {
            let id = |i: usize| {
                selector
                    .split(':')
                    .nth(i)
                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                    .unwrap_or(0)
            };
            lines.push(format!(
                "  no permission to open it. Add this line to \
                 /etc/udev/rules.d/69-probe-rs.rules, then run \
                 `sudo udevadm control --reload && sudo udevadm trigger` and replug:\n  {}",
                udev_rule(id(0), id(1))
            ));
        }
    }
    lines
}

/// The udev rule that lets a user without root open probe `vid:pid` (probe-rs's own rules
/// have this shape: the `plugdev` group and `uaccess` for the logged-in user).
pub fn udev_rule(vid: u16, pid: u16) -> String {
    format!(
        "SUBSYSTEM==\"usb\", ATTRS{{idVendor}}==\"{vid:04x}\", ATTRS{{idProduct}}==\"{pid:04x}\", \
         MODE=\"660\", GROUP=\"plugdev\", TAG+=\"uaccess\""
    )
}

#[cfg(test)]
mod udev_tests {
    #[test]
    fn no_probes_is_said_plainly() {
        assert_eq!(super::describe_probes(&[]), ["no probes found"]);
    }

    #[test]
    fn the_rule_names_the_probe() {
        assert_eq!(
            super::udev_rule(0x0483, 0x374b),
            "SUBSYSTEM==\"usb\", ATTRS{idVendor}==\"0483\", ATTRS{idProduct}==\"374b\", \
             MODE=\"660\", GROUP=\"plugdev\", TAG+=\"uaccess\""
        );
    }
}
