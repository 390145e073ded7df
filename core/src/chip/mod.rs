//! Words the host side and the virtual bench share: the families and parts the station knows,
//! which datasheet column flash timings follow, firmware versions, and what a unit comes back
//! as after an interrupted update, and seeded randomness. Imports nothing of the station.

mod event_rng;
mod outcome;
mod version;

pub use event_rng::EventRng;
pub use outcome::BootOutcome;
pub use version::{ParseVersionError, Version};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    F4,
    F7,
    H7,
    L4,
    G0,
}

impl Family {
    pub const ALL: [Family; 5] = [Family::F4, Family::F7, Family::H7, Family::L4, Family::G0];

    pub fn parse(s: &str) -> Option<Family> {
        let s = s.to_ascii_lowercase();
        let s = s.strip_prefix("stm32").unwrap_or(&s);
        Family::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The part numbers the station knows the layout of (and its virtual bench simulates).
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            Family::F4 => &["STM32F407VG", "STM32F405RG"],
            Family::F7 => &["STM32F767ZI"],
            Family::H7 => &["STM32H743ZI", "STM32H755ZI"],
            Family::L4 => &["STM32L476RG"],
            Family::G0 => &["STM32G071RB"],
        }
    }

    /// Whether `part` (a part number such as `STM32F407VGTx`) is one of [`Family::parts`]: the
    /// line (`STM32F407`) decides, package and temperature letters do not.
    pub fn knows_part(self, part: &str) -> bool {
        let upper = part.to_ascii_uppercase();
        self.parts()
            .iter()
            .any(|p| upper.starts_with(&p[.."STM32F407".len()]))
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::F4 => "f4",
            Family::F7 => "f7",
            Family::H7 => "h7",
            Family::L4 => "l4",
            Family::G0 => "g0",
        }
    }
}

/// Which column of the datasheet the simulated flash follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    #[default]
    Typical,
    Max,
}
