//! Each command enters the unit's DFU mode once, counted where the engine meets the bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::config;
use crate::dfu::proto;
use crate::hw::{
    ControlSetup, REQ_TYPE_CLASS_OUT, UsbBus, UsbControl, UsbDeviceInfo, UsbError, UsbSelector,
};
use crate::station::Event;

#[derive(Default)]
struct Counts {
    /// The unit opened in DFU mode (its bootloader's or the ROM's identity).
    dfu_opens: AtomicUsize,
    /// DFU_DETACH requests to its application.
    detaches: AtomicUsize,
}

impl Counts {
    fn take(&self) -> (usize, usize) {
        (
            self.dfu_opens.swap(0, Ordering::SeqCst),
            self.detaches.swap(0, Ordering::SeqCst),
        )
    }
}

/// The fixture's bus, counting what passes through it.
struct CountingBus {
    inner: Arc<dyn UsbBus>,
    dfu_ids: [(u16, u16); 2],
    counts: Arc<Counts>,
}

impl UsbBus for CountingBus {
    fn list(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        self.inner.list()
    }

    fn open(&self, selector: &UsbSelector) -> Result<Box<dyn UsbControl>, UsbError> {
        let inner = self.inner.open(selector)?;
        if self.dfu_ids.contains(&(selector.vid, selector.pid)) {
            self.counts.dfu_opens.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Box::new(CountingPipe {
            inner,
            counts: self.counts.clone(),
        }))
    }
}

struct CountingPipe {
    inner: Box<dyn UsbControl>,
    counts: Arc<Counts>,
}

impl UsbControl for CountingPipe {
    fn info(&self) -> UsbDeviceInfo {
        self.inner.info()
    }
    fn control_in(
        &mut self,
        setup: ControlSetup,
        length: u16,
        timeout: Duration,
    ) -> Result<Vec<u8>, UsbError> {
        self.inner.control_in(setup, length, timeout)
    }
    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), UsbError> {
        if (setup.request_type, setup.request) == (REQ_TYPE_CLASS_OUT, proto::DETACH) {
            self.counts.detaches.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.control_out(setup, data, timeout)
    }
    fn select_interface(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        self.inner.select_interface(interface, alt)
    }
    fn reset(&mut self) -> Result<(), UsbError> {
        self.inner.reset()
    }
    fn reopen(&mut self) -> Result<(), UsbError> {
        self.inner.reopen()
    }
}

/// A simulated unit that arrives provisioned, running its application: entering DFU mode
/// takes a DETACH and a re-enumeration.
fn provisioned_unit(dir: &std::path::Path) -> (Station, FixtureHw, Arc<Counts>) {
    let profile = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/f407-demo.toml");
    let text = format!(
        r#"id = "session-bench"
records = "records"

[[fixtures]]
id = "unit"
backend = "sim"
profile = "{}"
probe = "1209:5151:DFU-SESSION-1"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "session-1" }}
power = {{ kind = "sim" }}
sim = {{ family = "f4", part = "STM32F407VG", seed = 5, initial = "provisioned" }}
"#,
        profile.display()
    );
    let path = dir.join("station.toml");
    std::fs::write(&path, text).unwrap();
    let station = config::load_station(&path).unwrap();
    let fixture = &station.fixtures[0];
    let mut hw = open_unit::open_held(&station, fixture).unwrap();
    let counts = Arc::new(Counts::default());
    hw.usb = Arc::new(CountingBus {
        inner: hw.usb.clone(),
        dfu_ids: [fixture.usb_bootloader, fixture.usb_rom],
        counts: counts.clone(),
    });
    (station, hw, counts)
}

#[test]
fn each_command_enters_dfu_mode_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (station, mut hw, counts) = provisioned_unit(tmp.path());
    let fixture = &station.fixtures[0];
    let profile = station.profile_of(fixture);
    let images = crate::station::load_unit_images(profile).unwrap();
    let targets = targets_of(&images.application, profile.dfu.alt, false);
    let sink = |_: Event| {};
    let mut settings = UpdateSettings::new(profile.dfu.alt, profile.dfu.mode, profile.dfu.erase);
    settings.verify = true;
    let mut confirm = |_: &str, _: &str| -> Result<(), StationError> {
        panic!("an application image needs no confirmation")
    };

    // Describing the alt, downloading, verifying and leaving: one entry.
    let report = download_on(&mut hw, fixture, &targets, &settings, &mut confirm, &sink).unwrap();
    assert!(report.verified && !report.rom);
    assert_eq!(counts.take(), (1, 1), "download: (DFU opens, DETACHes)");

    // Left DFU into the application: the next command enters again, once.
    let verified = verify_on(&mut hw, fixture, &targets, &sink).unwrap();
    assert!(verified.matches(), "{verified}");
    assert_eq!(counts.take(), (1, 1), "verify: (DFU opens, DETACHes)");
}
