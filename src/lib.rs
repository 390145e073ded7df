//! `station`: a hardware-in-the-loop production test and provisioning station for STM32
//! boards. The library holds everything; the `station` binary is a thin CLI on top.
//! See ARCHITECTURE.md for the layers and what may import what.

pub mod backend;
pub mod cli;
pub mod config;
pub mod dfu;
pub mod dfu_bench;
pub mod error;
pub mod record;
pub mod serve;
pub mod station;
pub mod stm32;
pub mod tui;

pub use station_core::{chip, hw, image};
/// The virtual bench (its own crate, `station-sim`).
pub use station_sim as sim;
