//! Executed firmware, stage 1: the unit's flashed code runs on the emulated core
//! (`station-cpu`) against the simulated MCU's own bus, and the run is reported in words.
//! Opt-in (`station sim boot`): what boots at power-on is still decided by the bootloader
//! models of [`crate::firmware`].

pub mod asm;
pub mod bus;
pub mod clocks;
pub mod run;

pub use bus::{ExecBus, Touch};
pub use run::{ExecReport, Stop, arch_of, run_code};

impl Stop {
    fn describe(&self) -> String {
        match *self {
            Stop::Breakpoint { imm: 0xAB, op } => {
                format!("stopped at a semihosting call (BKPT 0xAB, operation {op:#x})")
            }
            Stop::Breakpoint { imm, .. } => format!("stopped at a breakpoint (BKPT {imm:#04x})"),
            Stop::Lockup => "locked up: a fault it could not handle (bricked)".into(),
            Stop::Waiting { wfe: false } => "is waiting for an interrupt (WFI)".into(),
            Stop::Waiting { wfe: true } => "is waiting for an event (WFE)".into(),
            Stop::ResetRequest => "asked for a system reset (SYSRESETREQ)".into(),
            Stop::Jumped { to, table } => {
                format!("jumped to {to:#010x}, the reset handler of the image at {table:#010x}")
            }
            Stop::Hang => {
                "was still running when the budget ran out (a hang or a main loop)".into()
            }
            Stop::PowerLost => "lost power: a scheduled cut landed on its flash work".into(),
        }
    }
}

impl ExecReport {
    /// The run in plain words, one fact a line.
    pub fn describe(&self) -> String {
        let mut out = vec![format!(
            "the code at {:#010x} {} at PC {:#010x}",
            self.vtor,
            self.stop.describe(),
            self.pc
        )];
        if self.blank && self.stop == Stop::Lockup {
            out.push("its vector table is erased: nothing is flashed there".into());
        }
        out.push(format!(
            "{} instructions, {} cycles: {:.3} ms of virtual time at {} MHz",
            self.instructions,
            self.cycles,
            self.virtual_time.as_secs_f64() * 1e3,
            self.clock_hz / 1_000_000
        ));
        if self.flash_ops.is_empty() {
            out.push("flash: untouched".into());
        } else {
            out.push(format!(
                "flash: {} sector erase(s), {} mass erase(s), {} program(s) of {} bytes in all",
                self.erases, self.mass_erases, self.programs, self.programmed_bytes
            ));
            out.extend(self.flash_ops.iter().map(|o| format!("  {o}")));
        }
        if self.peripherals.is_empty() {
            out.push("unmodelled peripherals: none touched".into());
        } else {
            out.push("unmodelled peripherals (read 0, writes ignored):".into());
            out.extend(self.peripherals.iter().map(|t| {
                format!(
                    "  {} {:#010x} from PC {:#010x}, {} time(s)",
                    if t.write { "write" } else { "read " },
                    t.address,
                    t.pc,
                    t.count
                )
            }));
            if self.untracked > 0 {
                out.push(format!(
                    "  and {} access(es) to further addresses",
                    self.untracked
                ));
            }
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests;
