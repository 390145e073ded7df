//! DBGMCU IDCODE as "0x%08x", the way reference manuals print it.

use serde::{Deserialize, Deserializer, Serializer, de::Error};

pub fn serialize<S: Serializer>(idcode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{idcode:#010x}"))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let text = String::deserialize(deserializer)?;
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| D::Error::custom(format!("idcode {text:?} lacks 0x prefix")))?;
    u32::from_str_radix(digits, 16)
        .map_err(|err| D::Error::custom(format!("bad idcode {text:?}: {err}")))
}
