//! The family front end: the `optr_family!` macro that gives the L4 and G0 controllers the
//! same methods as `F4Flash`.

/// The public face of a family's controller: the same methods as `F4Flash`, delegated to
/// [`OptrCore`](super::OptrCore) with the family's layout and typed options.
macro_rules! optr_family {
    ($flash:ident, $options:ident, $layout:expr) => {
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        pub struct $flash {
            core: $crate::optr::OptrCore,
        }

        impl $flash {
            /// A part just powered on with `options` in its option bytes.
            pub fn new(options: $options) -> Self {
                Self {
                    core: $crate::optr::OptrCore::new(options.to_words()),
                }
            }

            /// A part with the factory option bytes.
            pub fn factory() -> Self {
                Self::new($options::factory())
            }

            /// A system reset (NRST, SYSRESETREQ, watchdog): locks, ends any operation, the
            /// option registers show the loaded values again. Options are NOT reloaded.
            pub fn reset(&mut self) {
                self.core.reset()
            }

            /// An option load: power-on, or the reset that follows OBL_LAUNCH. Loads the
            /// stored option bytes, then resets like [`Self::reset`].
            pub fn power_on_reset(&mut self) {
                self.core.power_on_reset()
            }

            /// True once after software set CR.OBL_LAUNCH: the MCU must then do
            /// [`Self::power_on_reset`] (option load) and a system reset.
            pub fn take_obl_launch(&mut self) -> bool {
                self.core.take_obl_launch()
            }

            pub fn obl_launch_requested(&self) -> bool {
                self.core.obl_launch_requested()
            }

            pub fn busy_until(&self) -> std::time::Duration {
                self.core.busy_until()
            }

            /// A register read at `offset` from the FLASH base.
            pub fn read(&self, offset: u32, now: std::time::Duration) -> u32 {
                self.core.read(&$layout, offset, now)
            }

            pub fn write(
                &mut self,
                offset: u32,
                value: u32,
                bus: &mut $crate::controller::FlashBus,
            ) -> Result<(), $crate::controller::BusFault> {
                self.core.write(&$layout, offset, value, bus)
            }

            /// A bus write of `width` bytes into the flash array.
            pub fn program(
                &mut self,
                address: u32,
                value: u32,
                width: u32,
                bus: &mut $crate::controller::FlashBus,
            ) {
                self.core.program(&$layout, address, value, width, bus)
            }

            /// Erase one page (global page index), as the controller does it.
            pub fn erase_page(&mut self, page: usize, bus: &mut $crate::controller::FlashBus) {
                self.core.erase_page(&$layout, page, bus)
            }

            /// Erase a page on behalf of code on the chip. Returns the SR error bits raised.
            pub fn erase_block(
                &mut self,
                page: usize,
                bus: &mut $crate::controller::FlashBus,
            ) -> u32 {
                self.core.erase_block(&$layout, page, bus)
            }

            /// Mass erase of every bank, as the controller does it (flags in SR).
            pub fn mass_erase(&mut self, bus: &mut $crate::controller::FlashBus) {
                self.core.mass_erase(&$layout, bus)
            }

            /// Mass erase on behalf of code on the chip. Returns the SR error bits raised.
            pub fn mass_erase_block(&mut self, bus: &mut $crate::controller::FlashBus) -> u32 {
                self.core.mass_erase_block(&$layout, bus)
            }

            /// Program on behalf of code on the chip. Returns the SR error bits raised.
            pub fn program_block(
                &mut self,
                address: u32,
                data: &[u8],
                bus: &mut $crate::controller::FlashBus,
            ) -> u32 {
                self.core.program_block(&$layout, address, data, bus)
            }

            /// The option values loaded at the last option load (these govern).
            pub fn loaded_options(&self) -> $options {
                $options::from_words(self.core.loaded())
            }

            /// The option bytes as stored in flash (loaded at the next option load).
            pub fn stored_options(&self) -> $options {
                $options::from_words(self.core.stored())
            }

            /// What the option registers read now.
            pub fn register_options(&self) -> $options {
                $options::from_words(self.core.registers())
            }

            pub fn set_stored_options(&mut self, options: $options) {
                self.core.set_stored(options.to_words())
            }

            /// RDP level of the loaded options.
            pub fn rdp_level(&self) -> u8 {
                $crate::optr::rdp_level(self.core.loaded()[0])
            }

            /// RDP level of the stored options.
            pub fn stored_rdp_level(&self) -> u8 {
                $crate::optr::rdp_level(self.core.stored()[0])
            }

            /// A page (global index) inside a loaded WRP area.
            pub fn sector_write_protected(&self, page: usize) -> bool {
                $layout.page_wrp(self.core.loaded(), page)
            }

            /// A page the controller refuses to erase: WRP, or overlapping a loaded PCROP area.
            pub fn page_erase_protected(&self, page: usize) -> bool {
                $layout.page_wrp(self.core.loaded(), page)
                    || $layout.page_pcrop(self.core.loaded(), page)
            }

            /// An address inside a loaded PCROP area (execute-only: data reads fault).
            pub fn pcrop_protected(&self, address: u32) -> bool {
                $layout.address_pcrop(self.core.loaded(), address)
            }

            /// The ROM's Read Unprotect: RDP byte 0xAA in the stored options (the caller
            /// erases, and must do an option load for it to apply).
            pub fn store_rdp_level0(&mut self) {
                self.store_rdp_byte(0xAA);
            }

            /// Store an RDP byte in OPTR's cells, loaded at the next power-on or OBL_LAUNCH.
            pub fn store_rdp_byte(&mut self, byte: u8) {
                let mut words = self.core.stored().to_vec();
                words[0] = (words[0] & !0xFF) | byte as u32;
                self.core.set_stored(words);
            }

            /// A word of the memory-mapped option bytes (stored values, complement at +4).
            pub fn option_area(&self, address: u32) -> Option<u32> {
                self.core.option_area(&$layout, address)
            }

            /// Write FLASH_OPTR through the registers (unlock, OPTR, OPTSTRT, lock).
            pub fn write_options_through_registers(
                &mut self,
                optr: u32,
                bus: &mut $crate::controller::FlashBus,
            ) {
                self.core.write_optr_through_registers(&$layout, optr, bus)
            }
        }
    };
}

pub(crate) use optr_family;
