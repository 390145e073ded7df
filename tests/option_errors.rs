//! Every family's option-byte sequence through the real probe-rs stack against the simulated
//! probe, when it goes wrong: a wrong key locks the option registers until reset, a controller
//! raises its option error flag, a controller never finishes. Each error is named, the option
//! bytes read back unchanged, and after a reset a correct sequence programs and reads back.
//! probe-rs attaches in real time (tens of milliseconds each); the polls of a hung controller
//! run on the virtual clock.

use std::sync::Arc;

use station::backend::probe_rs::ProbeRsTarget;
use station::config::{BorLevel, OptionBytesSpec};
use station::hw::{AttachMode, Clock, DebugTarget, HwError, VirtualClock};
use station::sim::fault::OptionFault;
use station::sim::{DeviceSpec, Family, PartSpec, SimDevice, Timing, UsbIdentities};
use station::stm32::options::{self, Activation, OptionError, OptionWords};

const PARTS: [(Family, &str, u32); 5] = [
    // The family's OPTKEYR.
    (Family::F4, "STM32F407VG", 0x4002_3C08),
    (Family::F7, "STM32F767ZI", 0x4002_3C08),
    (Family::H7, "STM32H743ZI", 0x5200_2008),
    (Family::L4, "STM32L476RG", 0x4002_200C),
    (Family::G0, "STM32G071RB", 0x4002_200C),
];

struct Bench {
    family: Family,
    dev: SimDevice,
    clock: Arc<VirtualClock>,
    target: ProbeRsTarget,
}

impl Bench {
    fn new(family: Family, part: &str, test: &str) -> Self {
        let serial = format!("OPT-{test}-{part}");
        let clock = Arc::new(VirtualClock::new());
        let spec = DeviceSpec {
            family,
            part: part.into(),
            seed: 9,
            fixture: serial.clone(),
            unit: 1,
            timing: Timing::Typical,
            usb: UsbIdentities {
                application: (1, 1),
                bootloader: (1, 2),
                rom: (0x0483, 0xdf11),
                port_path: serial.clone(),
            },
            probe_serial: serial.clone(),
        };
        let dev = SimDevice::new(&spec, clock.clone()).unwrap();
        let chip = PartSpec::lookup(family, part).unwrap().probe_rs_chip;
        let mut target = ProbeRsTarget::new(&format!("1209:5151:{serial}"), chip, 4000);
        target.attach(AttachMode::Normal).unwrap();
        Self {
            family,
            dev,
            clock,
            target,
        }
    }

    fn read(&mut self) -> OptionWords {
        options::read(self.family, &mut self.target).unwrap()
    }

    fn program(&mut self, wanted: &OptionWords) -> Result<Activation, OptionError> {
        options::program(self.family, &mut self.target, self.clock.as_ref(), wanted)
    }

    fn power_cycle(&mut self) {
        self.target.detach();
        let mut power = self.dev.power();
        power.set_power(false).unwrap();
        power.set_power(true).unwrap();
        self.target.attach(AttachMode::Normal).unwrap();
    }

    /// Bring programmed values into force the way the family needs, then read them.
    fn activate_and_read(&mut self, activation: Activation) -> OptionWords {
        match activation {
            Activation::Immediate => {}
            Activation::NextReset => self.power_cycle(),
            Activation::ResetsItself => {
                self.target.detach();
                self.target.attach(AttachMode::Normal).unwrap();
            }
        }
        self.read()
    }
}

/// RDP 0 with the first two sectors (pages) write-protected: a change from the factory values
/// every family can express.
fn wanted(family: Family, current: &OptionWords) -> OptionWords {
    let spec = OptionBytesSpec {
        rdp: toml::Spanned::new(0..0, 0),
        write_protect: toml::Spanned::new(0..0, vec![0, 1]),
        bor_level: BorLevel::Level2,
        iwdg_sw: true,
        nrst_stop: true,
        nrst_stdby: true,
        allow_permanent_lock: false,
        boot_address: None,
        boot_from: None,
    };
    let words = options::encode(family, &spec, current).unwrap();
    assert_ne!(&words, current, "{family:?}: the test changes something");
    words
}

#[test]
fn a_wrong_key_leaves_the_options_locked_until_reset_on_every_family() {
    for (family, part, optkeyr) in PARTS {
        let mut b = Bench::new(family, part, "key");
        let before = b.read();
        let want = wanted(family, &before);
        // A wrong first key: the part answers with a bus error and locks until reset.
        let refused = b.target.write_word(optkeyr, 0x1234_5678);
        assert!(
            matches!(refused, Err(HwError::Protected(_))),
            "{part}: {refused:?}"
        );
        let err = b.program(&want).unwrap_err();
        assert!(matches!(err, OptionError::StillLocked), "{part}: {err}");
        assert!(err.to_string().contains("until reset"), "{err}");
        assert_eq!(b.read(), before, "{part}: nothing changed");

        // A reset lifts the block: the right keys program, and the values read back.
        b.power_cycle();
        let activation = b.program(&want).unwrap_or_else(|e| panic!("{part}: {e}"));
        assert_eq!(b.activate_and_read(activation), want, "{part}");
    }
}

#[test]
fn an_option_error_flag_is_named_and_changes_nothing_on_every_family() {
    let flag = |family| match family {
        Family::F4 | Family::F7 => "OPERR",
        Family::H7 => "OPTCHANGEERR",
        Family::L4 | Family::G0 => "OPTVERR",
    };
    for (family, part, _) in PARTS {
        let mut b = Bench::new(family, part, "flag");
        b.dev.lock().faults.option_change = Some(OptionFault::Error);
        let before = b.read();
        let want = wanted(family, &before);
        let err = b.program(&want).unwrap_err();
        assert!(matches!(err, OptionError::Flags(_)), "{part}: {err}");
        assert!(err.to_string().contains(flag(family)), "{part}: {err}");
        b.power_cycle();
        assert_eq!(b.read(), before, "{part}: nothing was programmed");

        // The same unit without the fault takes the change.
        b.dev.lock().faults.option_change = None;
        let activation = b.program(&want).unwrap();
        assert_eq!(b.activate_and_read(activation), want, "{part}");
    }
}

#[test]
fn a_controller_that_never_finishes_times_out_on_the_virtual_clock_on_every_family() {
    for (family, part, _) in PARTS {
        let mut b = Bench::new(family, part, "hang");
        b.dev.lock().faults.option_change = Some(OptionFault::Hang);
        let before = b.read();
        let want = wanted(family, &before);
        let started = b.clock.now();
        let err = b.program(&want).unwrap_err();
        let waited = b.clock.now() - started;
        match &err {
            OptionError::Hw(HwError::Timeout(m)) => assert!(m.contains("still reads"), "{m}"),
            other => panic!("{part}: expected a timeout, got {other}"),
        }
        // The family's deadline allows for an RDP regression's mass erase.
        assert!(
            waited >= std::time::Duration::from_secs(5),
            "{part}: gave up after {waited:?}"
        );
        b.power_cycle();
        assert_eq!(b.read(), before, "{part}: nothing was programmed");
    }
}
