//! The least of RCC and PWR that lets HAL-style clock set-up finish on the emulated core:
//! every oscillator and PLL reports ready as soon as it is enabled, the system clock switch
//! status follows the switch, and the regulator reports its voltage scaling ready. The
//! registers are otherwise plain storage. Clock speeds do not change: the core is charged at
//! its reset clock whatever it selects.
//!
//! F4 is done from RM0090 6.3 (RCC) and 5.4 (PWR), with CMSIS-F4's bit positions; the other
//! families are best-effort from their reference manuals' RCC chapters, recalled [R]:
//! F7 RM0410 5.3, H7 RM0433 8.7 / 6.8, L4 RM0351 6.4, G0 RM0444 5.4.

use std::collections::BTreeMap;

use crate::part::Family;

/// PWR control and status addresses, and (enable bit, ready bit) pairs between them.
type Follow = (u32, u32, &'static [(u32, u32)]);

/// One family's layout of what is modelled.
struct Layout {
    rcc: u32,
    cr: u32,
    cr_reset: u32,
    /// (enable bit, ready bit) pairs in RCC_CR.
    ready: &'static [(u32, u32)],
    cfgr: u32,
    /// SW field width in bits; SWS sits right above it.
    sw_bits: u32,
    sw_shift: u32,
    sws_shift: u32,
    /// PWR registers whose ready bits always read set: (address, mask).
    pwr_ready: &'static [(u32, u32)],
    /// PWR (address of the control, address of the status, enable->ready pairs).
    pwr_follow: Option<Follow>,
}

/// RCC_CR of the F4/F7 (RM0090 6.3.1): HSION 0 / HSIRDY 1, HSEON 16 / HSERDY 17, PLLON 24 /
/// PLLRDY 25, PLLI2SON 26 / PLLI2SRDY 27, (F7, F42x) PLLSAION 28 / PLLSAIRDY 29.
const F4_READY: &[(u32, u32)] = &[(0, 1), (16, 17), (24, 25), (26, 27), (28, 29)];

fn layout(family: Family) -> Layout {
    match family {
        // RM0090 6.3: RCC at 0x4002_3800; CR reset 0x0000_0083 (HSION, HSIRDY, HSITRIM 16);
        // CFGR at 0x08, SW 1:0, SWS 3:2. PWR_CSR (0x4000_7004) VOSRDY bit 14 (5.4.2).
        Family::F4 => Layout {
            rcc: 0x4002_3800,
            cr: 0x00,
            cr_reset: 0x0000_0083,
            ready: F4_READY,
            cfgr: 0x08,
            sw_bits: 2,
            sw_shift: 0,
            sws_shift: 2,
            pwr_ready: &[(0x4000_7004, 1 << 14)],
            pwr_follow: None,
        },
        // RM0410 5.3: as the F4. PWR_CR1 ODEN 16 / ODSWEN 17 -> PWR_CSR1 ODRDY 16 / ODSWRDY 17
        // (4.4), VOSRDY 14. [R]
        Family::F7 => Layout {
            pwr_follow: Some((0x4000_7000, 0x4000_7004, &[(16, 16), (17, 17)])),
            ..layout(Family::F4)
        },
        // RM0433 8.7.2: RCC at 0x5802_4400; CR HSION 0 / HSIRDY 2, CSION 7 / CSIRDY 8,
        // HSI48ON 12 / 13, HSEON 16 / 17, PLL1..3ON 24/26/28 -> RDY 25/27/29; CFGR at 0x10,
        // SW 2:0, SWS 5:3. PWR (0x5802_4800) CSR1 ACTVOSRDY bit 13, D3CR VOSRDY bit 13. [R]
        Family::H7 => Layout {
            rcc: 0x5802_4400,
            cr: 0x00,
            cr_reset: 0x0000_0025,
            ready: &[
                (0, 2),
                (7, 8),
                (12, 13),
                (16, 17),
                (24, 25),
                (26, 27),
                (28, 29),
            ],
            cfgr: 0x10,
            sw_bits: 3,
            sw_shift: 0,
            sws_shift: 3,
            pwr_ready: &[(0x5802_4804, 1 << 13), (0x5802_4818, 1 << 13)],
            pwr_follow: None,
        },
        // RM0351 6.4.1: RCC at 0x4002_1000; CR MSION 0 / MSIRDY 1, HSION 8 / HSIRDY 10,
        // HSEON 16 / 17, PLLON 24 / 25, PLLSAI1 26 / 27, PLLSAI2 28 / 29; CFGR 0x08, SW 1:0,
        // SWS 3:2. PWR_SR2 VOSF reads 0 (ready) as unmodelled memory does. [R]
        Family::L4 => Layout {
            rcc: 0x4002_1000,
            cr: 0x00,
            cr_reset: 0x0000_0063,
            ready: &[(0, 1), (8, 10), (16, 17), (24, 25), (26, 27), (28, 29)],
            cfgr: 0x08,
            sw_bits: 2,
            sw_shift: 0,
            sws_shift: 2,
            pwr_ready: &[],
            pwr_follow: None,
        },
        // RM0444 5.4.1: RCC at 0x4002_1000; CR HSION 8 / HSIRDY 10, HSEON 16 / 17, PLLON 24 /
        // 25; CFGR 0x08, SW 2:0, SWS 5:3. [R]
        Family::G0 => Layout {
            rcc: 0x4002_1000,
            cr: 0x00,
            cr_reset: 0x0000_0500,
            ready: &[(8, 10), (16, 17), (24, 25)],
            cfgr: 0x08,
            sw_bits: 3,
            sw_shift: 0,
            sws_shift: 3,
            pwr_ready: &[],
            pwr_follow: None,
        },
    }
}

/// The clock frequency the core runs at out of reset, in Hz: HSI 16 MHz on F4/F7/G0
/// (RM0090 6.2.2), HSI 64 MHz on H7 (RM0433 8.5.2), MSI 4 MHz on L4 (RM0351 6.2.3).
pub fn reset_clock_hz(family: Family) -> u64 {
    match family {
        Family::F4 | Family::F7 | Family::G0 => 16_000_000,
        Family::H7 => 64_000_000,
        Family::L4 => 4_000_000,
    }
}

/// RCC and PWR as the running code sees them.
pub struct Clocks {
    layout: Layout,
    /// Written words of the RCC and PWR blocks.
    words: BTreeMap<u32, u32>,
}

impl Clocks {
    pub fn new(family: Family) -> Self {
        let layout = layout(family);
        let mut words = BTreeMap::new();
        words.insert(layout.rcc + layout.cr, layout.cr_reset);
        Self { layout, words }
    }

    /// Whether this block answers `address` (RCC's 1 KiB, or a PWR word it models).
    pub fn owns(&self, address: u32) -> bool {
        let a = address & !3;
        let l = &self.layout;
        (l.rcc..l.rcc + 0x400).contains(&a)
            || l.pwr_ready.iter().any(|(r, _)| *r == a)
            || l.pwr_follow.is_some_and(|(c, s, _)| a == c || a == s)
    }

    pub fn read(&self, address: u32) -> u32 {
        let a = address & !3;
        let l = &self.layout;
        let stored = self.words.get(&a).copied().unwrap_or(0);
        if a == l.rcc + l.cr {
            let mut v = stored;
            for (on, rdy) in l.ready {
                v = (v & !(1 << rdy)) | (((v >> on) & 1) << rdy);
            }
            return v;
        }
        if a == l.rcc + l.cfgr {
            let mask = (1 << l.sw_bits) - 1;
            let sw = (stored >> l.sw_shift) & mask;
            return (stored & !(mask << l.sws_shift)) | (sw << l.sws_shift);
        }
        let mut v = stored;
        for (r, mask) in l.pwr_ready {
            if *r == a {
                v |= mask;
            }
        }
        if let Some((control, status, pairs)) = l.pwr_follow
            && a == status
        {
            let c = self.words.get(&control).copied().unwrap_or(0);
            for (on, rdy) in pairs {
                v = (v & !(1 << rdy)) | (((c >> on) & 1) << rdy);
            }
        }
        v
    }

    /// A write of `size` bytes with the value in its byte lane.
    pub fn write(&mut self, address: u32, lane_value: u32, size: u32) {
        let a = address & !3;
        let mask = match size {
            1 => 0xFF << (8 * (address & 3)),
            2 => 0xFFFF << (8 * (address & 2)),
            _ => u32::MAX,
        };
        let old = self.words.get(&a).copied().unwrap_or(0);
        self.words.insert(a, (old & !mask) | (lane_value & mask));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f4_ready_flags_follow_their_enables() {
        let mut c = Clocks::new(Family::F4);
        assert_eq!(c.read(0x4002_3800), 0x83);
        c.write(0x4002_3800, 0x83 | 1 << 16 | 1 << 24, 4);
        let cr = c.read(0x4002_3800);
        assert_ne!(cr & 1 << 17, 0, "HSERDY");
        assert_ne!(cr & 1 << 25, 0, "PLLRDY");
        c.write(0x4002_3808, 2, 4);
        assert_eq!(c.read(0x4002_3808) >> 2 & 3, 2, "SWS = PLL");
        assert_ne!(c.read(0x4000_7004) & 1 << 14, 0, "VOSRDY");
        c.write(0x4002_3800, 0x83, 4);
        assert_eq!(c.read(0x4002_3800) & 1 << 25, 0, "PLL off: not ready");
    }

    #[test]
    fn g0_and_h7_switch_status_sits_above_a_3_bit_switch() {
        let mut g = Clocks::new(Family::G0);
        g.write(0x4002_1008, 2, 4);
        assert_eq!(g.read(0x4002_1008) >> 3 & 7, 2);
        let mut h = Clocks::new(Family::H7);
        h.write(0x5802_4410, 3, 4);
        assert_eq!(h.read(0x5802_4410) >> 3 & 7, 3);
        assert!(h.owns(0x5802_4804));
    }
}
