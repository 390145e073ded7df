//! RMA: look at a returned unit (`inspect`), save its flash for failure analysis (`dump`), and
//! bring a bricked, locked or half-updated unit back (`recover`). Every family: option bytes
//! go through `stm32::options`. What every held-unit command shares lives in `held_unit` (who
//! the unit is, the typed-label gate, the work's record) and `dut` (power, attach, identify,
//! USB).

pub mod analyse;
pub mod dump;
pub mod inspect;
pub mod recover;
