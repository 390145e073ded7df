//! The virtual bench's SWD side as a probe-rs probe. It answers raw DP and AP register
//! accesses (ADIv5: DPIDR, CTRL/STAT, SELECT, RDBUFF; a MEM-AP with CSW, TAR, DRW, banked data,
//! BASE, IDR), so probe-rs's whole ARM stack, its STM32 debug sequences and its flash loader run
//! unmodified on top. Registered through probe-rs's plugin registry, keyed by probe serial.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once, OnceLock};

use probe_rs::CoreStatus;
use probe_rs::architecture::arm::sequences::ArmDebugSequence;
use probe_rs::architecture::arm::{
    ArmCommunicationInterface, ArmDebugInterface, ArmError, DapError, DapProbe, RawDapAccess,
    RegisterAddress,
};
use probe_rs::probe::list::{Accessibility, ProbeListItem};
use probe_rs::probe::{
    DebugProbe, DebugProbeError, DebugProbeInfo, DebugProbeSelector, ProbeCreationError,
    ProbeFactory, WireProtocol,
};

use super::mcu::Mcu;

/// pid.codes test VID and a PID for the simulated probe.
pub const SIM_PROBE_VID: u16 = 0x1209;
pub const SIM_PROBE_PID: u16 = 0x5151;

type Registry = Mutex<HashMap<String, Arc<Mutex<Mcu>>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Make a simulated MCU reachable as probe `1209:5151:<serial>`. The plugin is registered with
/// probe-rs once per process, the first time a simulated fixture is set up, so a real bench
/// never lists simulated probes.
pub fn plug(serial: &str, mcu: Arc<Mutex<Mcu>>) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        probe_rs::plugin::register_plugin(probe_rs::plugin::Plugin {
            probe_drivers: &[&SIM_FACTORY],
            ..Default::default()
        })
    });
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(serial.to_string(), mcu);
}

/// Take a simulated probe off the bench.
pub fn unplug(serial: &str) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(serial);
}

#[derive(Debug)]
struct SimFactory;

static SIM_FACTORY: SimFactory = SimFactory;

impl std::fmt::Display for SimFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("virtual bench")
    }
}

impl ProbeFactory for SimFactory {
    fn open(&self, selector: &DebugProbeSelector) -> Result<Box<dyn DebugProbe>, DebugProbeError> {
        if selector.vendor_id != SIM_PROBE_VID || selector.product_id != SIM_PROBE_PID {
            return Err(ProbeCreationError::NotFound.into());
        }
        let probes = registry().lock().unwrap_or_else(|e| e.into_inner());
        let serial = selector
            .serial_number
            .as_ref()
            .ok_or(ProbeCreationError::NotFound)?;
        let mcu = probes.get(serial).ok_or(ProbeCreationError::NotFound)?;
        Ok(Box::new(SimProbe::new(mcu.clone())))
    }

    fn list_probes(&self) -> Vec<ProbeListItem> {
        let mut serials: Vec<String> = registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        serials.sort();
        serials
            .into_iter()
            .map(|serial| ProbeListItem {
                info: DebugProbeInfo::new(
                    "Virtual bench SWD probe",
                    SIM_PROBE_VID,
                    SIM_PROBE_PID,
                    Some(serial),
                    &SIM_FACTORY,
                    None,
                    false,
                ),
                accessibility: Accessibility::Accessible,
            })
            .collect()
    }
}

// DP registers (ADIv5.2 B2.2) and MEM-AP registers (C2.6).
const DP_IDR: u8 = 0x0;
const DP_CTRL_STAT: u8 = 0x4;
const DP_SELECT: u8 = 0x8;
const DPIDR_VALUE: u32 = 0x2BA0_1477;
const CSYSPWRUPREQ: u32 = 1 << 30;
const CDBGPWRUPREQ: u32 = 1 << 28;
const STICKYERR: u32 = 1 << 5;
const AP_CSW: u32 = 0x00;
const AP_TAR: u32 = 0x04;
const AP_DRW: u32 = 0x0C;
const AP_CFG: u32 = 0xF4;
const AP_BASE: u32 = 0xF8;
const AP_IDR: u32 = 0xFC;
/// AHB-AP of a Cortex-M3/M4.
const AHB_AP_IDR: u32 = 0x2477_0011;
const CSW_DEVICE_EN: u32 = 1 << 6;

pub struct SimProbe {
    mcu: Arc<Mutex<Mcu>>,
    speed_khz: u32,
    ctrl_stat: u32,
    select: u32,
    csw: u32,
    tar: u32,
    sticky: bool,
}

impl std::fmt::Debug for SimProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimProbe")
            .field("select", &self.select)
            .field("tar", &self.tar)
            .finish()
    }
}

impl SimProbe {
    fn new(mcu: Arc<Mutex<Mcu>>) -> Self {
        Self {
            mcu,
            speed_khz: 4000,
            ctrl_stat: 0,
            select: 0,
            csw: 0x0300_0052,
            tar: 0,
            sticky: false,
        }
    }

    fn mcu(&self) -> std::sync::MutexGuard<'_, Mcu> {
        self.mcu.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An unpowered target, or one at RDP level 2, gives no ACK at all.
    fn answering(&self) -> bool {
        let mcu = self.mcu();
        mcu.powered && mcu.fc.rdp_level() != 2
    }

    fn access_size(&self) -> u32 {
        match self.csw & 7 {
            0 => 1,
            1 => 2,
            _ => 4,
        }
    }

    fn advance_tar(&mut self) {
        if (self.csw >> 4) & 3 == 1 {
            // Auto-increment wraps within a 1 KiB block (ADIv5 C2.2.2).
            let step = self.access_size();
            self.tar = (self.tar & !0x3FF) | (self.tar.wrapping_add(step) & 0x3FF);
        }
    }

    fn ap_register(&self, reg: u8) -> Option<u32> {
        // Only AP 0 (the AHB-AP) exists on an F4.
        (self.select >> 24 == 0).then_some((reg as u32 & 0xF) | (self.select & 0xF0))
    }

    fn fault(&mut self) -> ArmError {
        self.sticky = true;
        DapError::FaultResponse.into()
    }
}

impl DebugProbe for SimProbe {
    fn get_name(&self) -> &str {
        "Virtual bench SWD probe"
    }
    fn speed_khz(&self) -> u32 {
        self.speed_khz
    }
    fn set_speed(&mut self, speed_khz: u32) -> Result<u32, DebugProbeError> {
        self.speed_khz = speed_khz;
        Ok(speed_khz)
    }
    fn attach(&mut self) -> Result<(), DebugProbeError> {
        Ok(())
    }
    fn detach(&mut self) -> Result<(), probe_rs::Error> {
        Ok(())
    }
    fn target_reset(&mut self) -> Result<(), DebugProbeError> {
        let mut mcu = self.mcu();
        mcu.set_nrst(true);
        mcu.set_nrst(false);
        Ok(())
    }
    fn target_reset_assert(&mut self) -> Result<(), DebugProbeError> {
        self.mcu().set_nrst(true);
        Ok(())
    }
    fn target_reset_deassert(&mut self) -> Result<(), DebugProbeError> {
        self.mcu().set_nrst(false);
        Ok(())
    }
    fn select_protocol(&mut self, protocol: WireProtocol) -> Result<(), DebugProbeError> {
        match protocol {
            WireProtocol::Swd => Ok(()),
            WireProtocol::Jtag => Err(DebugProbeError::UnsupportedProtocol(protocol)),
        }
    }
    fn active_protocol(&self) -> Option<WireProtocol> {
        Some(WireProtocol::Swd)
    }
    fn into_probe(self: Box<Self>) -> Box<dyn DebugProbe> {
        self
    }
    fn has_arm_interface(&self) -> bool {
        true
    }
    fn try_get_arm_debug_interface<'probe>(
        self: Box<Self>,
        sequence: Arc<dyn ArmDebugSequence>,
    ) -> Result<Box<dyn ArmDebugInterface + 'probe>, (Box<dyn DebugProbe>, ArmError)> {
        Ok(ArmCommunicationInterface::create(self, sequence, false))
    }
    fn try_as_dap_probe(&mut self) -> Option<&mut dyn DapProbe> {
        Some(self)
    }
    fn get_target_voltage(&mut self) -> Result<Option<f32>, DebugProbeError> {
        Ok(Some(if self.mcu().powered { 3.3 } else { 0.0 }))
    }
}

impl DapProbe for SimProbe {}

impl RawDapAccess for SimProbe {
    fn raw_read_register(&mut self, address: RegisterAddress) -> Result<u32, ArmError> {
        if !self.answering() {
            return Err(DapError::NoAcknowledge.into());
        }
        match address {
            RegisterAddress::DpRegister(r) => Ok(match r.address {
                DP_IDR => DPIDR_VALUE,
                DP_CTRL_STAT => {
                    // Power-up requests are acknowledged at once.
                    let acks = (self.ctrl_stat & (CSYSPWRUPREQ | CDBGPWRUPREQ)) << 1;
                    self.ctrl_stat | acks | if self.sticky { STICKYERR } else { 0 }
                }
                DP_SELECT => self.select,
                _ => 0, // RDBUFF: reads are not posted in this model.
            }),
            RegisterAddress::ApRegister(reg) => {
                let Some(reg) = self.ap_register(reg) else {
                    return Ok(0);
                };
                match reg {
                    AP_CSW => Ok(self.csw | CSW_DEVICE_EN),
                    AP_TAR => Ok(self.tar),
                    AP_DRW => {
                        let value = self.mcu().debug_read(self.tar);
                        match value {
                            Ok(v) => {
                                self.advance_tar();
                                Ok(v)
                            }
                            Err(_) => Err(self.fault()),
                        }
                    }
                    0x10..=0x1C => {
                        let a = (self.tar & !0xF) | (reg & 0xC);
                        let value = self.mcu().debug_read(a);
                        value.map_err(|_| self.fault())
                    }
                    AP_CFG => Ok(0),
                    AP_BASE => Ok(0xE00F_F003),
                    AP_IDR => Ok(AHB_AP_IDR),
                    _ => Ok(0),
                }
            }
        }
    }

    fn raw_write_register(&mut self, address: RegisterAddress, value: u32) -> Result<(), ArmError> {
        if !self.answering() {
            return Err(DapError::NoAcknowledge.into());
        }
        match address {
            RegisterAddress::DpRegister(r) => {
                match r.address {
                    // ABORT: STKERRCLR.
                    DP_IDR if value & (1 << 2) != 0 => self.sticky = false,
                    DP_CTRL_STAT => {
                        if value & STICKYERR != 0 {
                            self.sticky = false;
                        }
                        self.ctrl_stat = value & !(0xA000_0000 | STICKYERR);
                        if value & CDBGPWRUPREQ != 0 {
                            self.mcu().debugger = true;
                        }
                    }
                    DP_SELECT => self.select = value,
                    _ => {}
                }
                Ok(())
            }
            RegisterAddress::ApRegister(reg) => {
                let Some(reg) = self.ap_register(reg) else {
                    return Ok(());
                };
                match reg {
                    AP_CSW => self.csw = value & !CSW_DEVICE_EN,
                    AP_TAR => self.tar = value,
                    AP_DRW => {
                        let (a, size) = (self.tar, self.access_size());
                        let result = self.mcu().debug_write(a, value, size);
                        if result.is_err() {
                            return Err(self.fault());
                        }
                        self.advance_tar();
                    }
                    0x10..=0x1C => {
                        let a = (self.tar & !0xF) | (reg & 0xC);
                        let result = self.mcu().debug_write(a, value, 4);
                        if result.is_err() {
                            return Err(self.fault());
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
        }
    }

    fn jtag_sequence(&mut self, _cycles: u8, _tms: bool, _tdi: u64) -> Result<(), DebugProbeError> {
        Ok(())
    }

    fn swj_sequence(&mut self, _bit_len: u8, _bits: u64) -> Result<(), DebugProbeError> {
        Ok(())
    }

    fn swj_pins(
        &mut self,
        pin_out: u32,
        pin_select: u32,
        _pin_wait: u32,
    ) -> Result<u32, DebugProbeError> {
        // Bit 7 is nRESET (CMSIS-DAP DAP_SWJ_Pins).
        let mut mcu = self.mcu();
        if pin_select & 0x80 != 0 {
            mcu.set_nrst(pin_out & 0x80 == 0);
        }
        Ok(if mcu.powered { 0xFF } else { 0x7F })
    }

    fn into_probe(self: Box<Self>) -> Box<dyn DebugProbe> {
        self
    }

    fn core_status_notification(&mut self, _state: CoreStatus) -> Result<(), DebugProbeError> {
        Ok(())
    }
}
