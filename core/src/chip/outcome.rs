//! What a unit comes back as after a cut: the virtual bench's classifier, the real bench's
//! (reflash) classifier, events, reports and the TUI use this one definition.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootOutcome {
    /// The update did not take: the old application runs.
    OldImage,
    /// The update took.
    NewImage,
    /// The unit waits in a bootloader (its own or ST's): an update without SWD recovers it.
    InBootloader,
    /// Only strapping BOOT0 brings the ST bootloader up; the product allows it in the field.
    NeedsBoot0,
    /// A valid vector table before a damaged body: something runs, but not the product.
    CorruptApp,
    /// No way back without SWD.
    Bricked,
}

impl BootOutcome {
    /// Whether a field unit can be updated again without a debug probe.
    pub fn recoverable(self) -> bool {
        matches!(
            self,
            BootOutcome::OldImage
                | BootOutcome::NewImage
                | BootOutcome::InBootloader
                | BootOutcome::NeedsBoot0
        )
    }
}
