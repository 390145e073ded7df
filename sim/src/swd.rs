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

/// pid.codes test VID and a PID for the simulated probe (`hw::bench::PROBE_VID_PID`).
pub const SIM_PROBE_VID: u16 = crate::hw::bench::PROBE_VID_PID.0;
pub const SIM_PROBE_PID: u16 = crate::hw::bench::PROBE_VID_PID.1;

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
        let faults = mcu.lock().unwrap_or_else(|e| e.into_inner()).faults.clone();
        // What the USB stack answers when the user may not open the device (EACCES), or when
        // another process has claimed its interface (EBUSY).
        for (fault, errno) in [(faults.probe_denied, 13), (faults.probe_busy, 16)] {
            if fault {
                let io = std::io::Error::from_raw_os_error(errno);
                return Err(ProbeCreationError::Usb(io).into());
            }
        }
        mcu.lock()
            .unwrap_or_else(|e| e.into_inner())
            .swd
            .probe_opens += 1;
        Ok(Box::new(SimProbe::new(mcu.clone())))
    }

    fn list_probes(&self) -> Vec<ProbeListItem> {
        let mut serials: Vec<(String, bool)> = registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(serial, mcu)| {
                let denied = mcu
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .faults
                    .probe_denied;
                (serial.clone(), denied)
            })
            .collect();
        serials.sort();
        serials
            .into_iter()
            .map(|(serial, denied)| ProbeListItem {
                info: DebugProbeInfo::new(
                    "Virtual bench SWD probe",
                    SIM_PROBE_VID,
                    SIM_PROBE_PID,
                    Some(serial),
                    &SIM_FACTORY,
                    None,
                    false,
                ),
                accessibility: if denied {
                    Accessibility::PermissionDenied
                } else {
                    Accessibility::Accessible
                },
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
/// APB-AP (type 2), as on the H7's debug-component bus.
const APB_AP_IDR: u32 = 0x5477_0002;
const CSW_DEVICE_EN: u32 = 1 << 6;

pub struct SimProbe {
    mcu: Arc<Mutex<Mcu>>,
    speed_khz: u32,
    ctrl_stat: u32,
    select: u32,
    /// CSW and TAR of each access port.
    csw: [u32; 4],
    tar: [u32; 4],
    sticky: bool,
}

/// What sits behind an access port of the simulated part.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ApKind {
    /// A core's AHB-AP: the system bus plus that core's debug registers.
    Ahb { core: usize, idr: u32 },
    /// The APB-AP of the debug components (DBGMCU on the H7).
    Apb,
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
            csw: [0x0300_0052; 4],
            tar: [0; 4],
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

    /// The probe's reset line, when it reaches the part (`nrst-unconnected` says it does not).
    fn drive_nrst(&self, low: bool) {
        let mut mcu = self.mcu();
        if !mcu.faults.nrst_unconnected {
            mcu.set_nrst(low);
        }
    }

    fn apsel(&self) -> usize {
        (self.select >> 24) as usize
    }

    fn access_size(&self) -> u32 {
        match self.csw[self.apsel() & 3] & 7 {
            0 => 1,
            1 => 2,
            _ => 4,
        }
    }

    fn advance_tar(&mut self) {
        let ap = self.apsel() & 3;
        if (self.csw[ap] >> 4) & 3 == 1 {
            // Auto-increment wraps within a 1 KiB block (ADIv5 C2.2.2).
            let step = self.access_size();
            self.tar[ap] = (self.tar[ap] & !0x3FF) | (self.tar[ap].wrapping_add(step) & 0x3FF);
        }
    }

    /// The access ports the part really has: one AHB-AP per core, and on the H7 an APB-AP.
    fn ap_kind(&self) -> Option<ApKind> {
        let ap = self.apsel();
        let mcu = self.mcu();
        if mcu.part.apb_ap == Some(ap as u8) {
            return Some(ApKind::Apb);
        }
        let core = mcu.part.cores.iter().position(|(p, _)| *p as usize == ap)?;
        // IDR: an AHB-AP (type 1); Cortex-M7 parts carry the AHB5-style revision.
        let cpuid = mcu.part.cores[core].1;
        let idr = if (cpuid >> 4) & 0xFFF == 0xC27 {
            0x8477_0001
        } else {
            0x2477_0011
        };
        Some(ApKind::Ahb { core, idr })
    }

    fn ap_register(&self, reg: u8) -> Option<(u32, ApKind)> {
        let kind = self.ap_kind()?;
        Some(((reg as u32 & 0xF) | (self.select & 0xF0), kind))
    }

    fn bus_read(&mut self, kind: ApKind, address: u32) -> Result<u32, ArmError> {
        let value = match kind {
            ApKind::Apb => Ok(self.mcu().apb_read(address)),
            ApKind::Ahb { core, .. } => self.mcu().debug_read_core(core, address),
        };
        value.map_err(|_| self.fault())
    }

    fn bus_write(
        &mut self,
        kind: ApKind,
        address: u32,
        value: u32,
        size: u32,
    ) -> Result<(), ArmError> {
        let result = match kind {
            ApKind::Apb => {
                self.mcu().apb_write(address, value);
                Ok(())
            }
            ApKind::Ahb { core, .. } => self.mcu().debug_write_core(core, address, value, size),
        };
        result.map_err(|_| self.fault())
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
        self.drive_nrst(true);
        self.drive_nrst(false);
        Ok(())
    }
    fn target_reset_assert(&mut self) -> Result<(), DebugProbeError> {
        self.drive_nrst(true);
        Ok(())
    }
    fn target_reset_deassert(&mut self) -> Result<(), DebugProbeError> {
        self.drive_nrst(false);
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
                // An access port the part does not have reads as all zeros (IDR 0).
                let Some((reg, kind)) = self.ap_register(reg) else {
                    return Ok(0);
                };
                let ap = self.apsel() & 3;
                match reg {
                    AP_CSW => Ok(self.csw[ap] | CSW_DEVICE_EN),
                    AP_TAR => Ok(self.tar[ap]),
                    AP_DRW => {
                        let v = self.bus_read(kind, self.tar[ap])?;
                        self.advance_tar();
                        Ok(v)
                    }
                    0x10..=0x1C => self.bus_read(kind, (self.tar[ap] & !0xF) | (reg & 0xC)),
                    AP_CFG => Ok(0),
                    AP_BASE => Ok(match kind {
                        ApKind::Apb => 0xE00E_0003,
                        ApKind::Ahb { .. } => 0xE00F_F003,
                    }),
                    AP_IDR => Ok(match kind {
                        ApKind::Apb => APB_AP_IDR,
                        ApKind::Ahb { idr, .. } => idr,
                    }),
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
                let Some((reg, kind)) = self.ap_register(reg) else {
                    return Ok(());
                };
                let ap = self.apsel() & 3;
                match reg {
                    AP_CSW => self.csw[ap] = value & !CSW_DEVICE_EN,
                    AP_TAR => self.tar[ap] = value,
                    AP_DRW => {
                        let (a, size) = (self.tar[ap], self.access_size());
                        self.bus_write(kind, a, value, size)?;
                        self.advance_tar();
                    }
                    0x10..=0x1C => {
                        self.bus_write(kind, (self.tar[ap] & !0xF) | (reg & 0xC), value, 4)?
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
        if pin_select & 0x80 != 0 {
            self.drive_nrst(pin_out & 0x80 == 0);
        }
        Ok(if self.mcu().powered { 0xFF } else { 0x7F })
    }

    fn into_probe(self: Box<Self>) -> Box<dyn DebugProbe> {
        self
    }

    fn core_status_notification(&mut self, _state: CoreStatus) -> Result<(), DebugProbeError> {
        Ok(())
    }
}
