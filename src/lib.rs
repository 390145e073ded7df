//! `station`: a hardware-in-the-loop production test and provisioning station for STM32
//! boards. The library holds everything; the `station` binary is a thin CLI on top.
//! See ARCHITECTURE.md for the layers and what may import what.

pub mod backend;
pub mod chip;
pub mod cli;
pub mod config;
pub mod dfu;
pub mod dfu_bench;
pub mod error;
pub mod hw;
pub mod image;
pub mod record;
pub mod serve;
pub mod sim;
pub mod station;
pub mod stm32;
pub mod tui;
