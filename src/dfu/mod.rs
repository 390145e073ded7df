//! The station's DFU 1.1 / DfuSe host: a sans-IO engine ([`engine`]) over the `hw` USB
//! control seam, with descriptor and memory-map parsing and download planning.

pub mod descriptor;
pub mod engine;
pub mod host;
pub mod list;
pub mod memmap;
pub mod plan;
pub mod proto;
pub mod upload;
pub mod verify;

pub use engine::{DfuError, Download, Finish};
pub use host::{DfuDevice, execute};
pub use plan::{Op, plan_download};
pub use upload::upload;
pub use verify::{VerifyReport, verify};
