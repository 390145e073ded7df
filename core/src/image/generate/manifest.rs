use std::collections::BTreeMap;

use serde::Deserialize;

use crate::image::Format;
use crate::image::header::Version;

/// The fixture manifest: a list of `[[image]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    #[serde(default)]
    pub image: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    /// Output path relative to the output directory.
    pub file: String,
    pub kind: Kind,
    pub base: u32,
    pub version: Version,
    /// Application name (kind = "app" only).
    pub name: Option<String>,
    /// Bootloader design (kind = "bootloader" only).
    pub design: Option<String>,
    pub knobs: Option<BTreeMap<String, String>>,
    pub body_size: usize,
    pub seed: u64,
    #[serde(default = "default_format")]
    pub format: Format,
    /// DfuSe alternate setting (format = "dfu" only).
    pub alt: Option<u8>,
    /// DfuSe target name (format = "dfu" only).
    pub target_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Kind {
    App,
    Bootloader,
}

fn default_format() -> Format {
    Format::Bin
}
