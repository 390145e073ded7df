//! `[unit_data]` in a profile: what each unit gets written into OTP or a configuration flash
//! sector — its label, a MAC address from the station's pool, calibration values, a per-unit
//! blob (certificate or key) — laid out field by field, then read back and recorded.

use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, SourceFile};
use crate::chip::Family;

/// Where the data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// The part's user OTP (F4, F7): irreversible, so it needs the unit's label typed.
    Otp,
    /// A configuration sector of the main flash, erased and rewritten.
    Flash,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    /// The unit's label (its serial), ASCII, NUL-padded to `size`.
    Label { size: u32 },
    /// Six bytes from the station's MAC pool.
    Mac,
    /// A little-endian number: a constant, or `key` from the unit's values file.
    U32 {
        value: Option<u32>,
        key: Option<String>,
    },
    I32 {
        value: Option<i32>,
        key: Option<String>,
    },
    F32 {
        value: Option<f32>,
        key: Option<String>,
    },
    /// A per-unit file from `unit_data.dir`, named by the template (`{label}`, `{uid}`),
    /// padded with 0xFF to `size`. Recorded by hash only: it may be a key.
    File { size: u32, name: String },
    /// CRC-32 (ISO-HDLC) of every byte before this field.
    Crc32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub offset: u32,
    pub kind: FieldKind,
}

impl Field {
    pub fn size(&self) -> u32 {
        match &self.kind {
            FieldKind::Label { size } | FieldKind::File { size, .. } => *size,
            FieldKind::Mac => 6,
            _ => 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MacPool {
    pub first: [u8; 6],
    pub last: [u8; 6],
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnitDataSpec {
    pub area: Area,
    pub address: u32,
    pub size: u32,
    /// OTP: lock the blocks written.
    pub lock: bool,
    pub mac_pool: Option<MacPool>,
    /// Per-unit files: blobs, and `<label>.toml` with calibration values.
    pub dir: Option<PathBuf>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnitDataRaw {
    area: Area,
    address: Spanned<u32>,
    size: Spanned<u32>,
    #[serde(default)]
    lock: bool,
    #[serde(default)]
    mac_pool: Option<MacPoolRaw>,
    #[serde(default)]
    dir: Option<PathBuf>,
    fields: Vec<Spanned<FieldRaw>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MacPoolRaw {
    first: Spanned<String>,
    last: Spanned<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldRaw {
    name: String,
    offset: u32,
    kind: Spanned<String>,
    #[serde(default)]
    size: Option<u32>,
    #[serde(default)]
    value: Option<toml::Value>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    file: Option<String>,
}

/// The OTP area of a family: (base, data length, block size).
pub fn otp_area(family: Family) -> Option<(u32, u32, u32)> {
    match family {
        Family::F4 => Some((0x1FFF_7800, 512, 32)),
        Family::F7 => Some((0x1FF0_F000, 1024, 64)),
        _ => None,
    }
}

pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Check `[unit_data]` against the family and the memory map; every error is located.
pub(super) fn check(
    raw: UnitDataRaw,
    family: Family,
    flash: Range<u64>,
    taken: &[(String, Range<u64>)],
    source: &SourceFile,
    dir_base: &std::path::Path,
    errors: &mut Vec<ConfigError>,
) -> Option<UnitDataSpec> {
    let before = errors.len();
    let (address, size) = (*raw.address.get_ref(), *raw.size.get_ref());
    let end = address as u64 + size as u64;
    match raw.area {
        Area::Otp => match otp_area(family) {
            None => errors.push(source.error_at(
                raw.address.span(),
                "unit_data.area",
                format!(
                    "area = \"otp\" needs a part with user OTP (F4, F7), this is {}; use \
                     area = \"flash\" and a configuration sector",
                    family.name()
                ),
            )),
            Some((base, len, block)) => {
                if address < base || end > (base + len) as u64 || (address - base) % block != 0 {
                    errors.push(source.error_at(
                        raw.address.span(),
                        "unit_data.address",
                        format!(
                            "expected a {block}-byte OTP block start within {base:#010x}..{:#010x} \
                             holding {size} bytes, found {address:#010x}",
                            base + len
                        ),
                    ));
                }
            }
        },
        Area::Flash => {
            if address as u64 >= flash.end || end > flash.end || (address as u64) < flash.start {
                errors.push(source.error_at(
                    raw.address.span(),
                    "unit_data.address",
                    format!(
                        "expected an address inside the flash {:#010x}..{:#010x}, found {address:#010x}",
                        flash.start, flash.end
                    ),
                ));
            } else if let Some((name, r)) = taken
                .iter()
                .find(|(_, r)| (address as u64) < r.end && end > r.start)
            {
                errors.push(source.error_at(
                    raw.address.span(),
                    "unit_data.address",
                    format!(
                        "the unit data {address:#010x}..{end:#010x} overlaps {name} \
                         {:#010x}..{:#010x}: give it a sector of its own",
                        r.start, r.end
                    ),
                ));
            }
        }
    }
    if raw.lock && raw.area != Area::Otp {
        errors.push(source.error_at(
            raw.address.span(),
            "unit_data.lock",
            "lock applies to area = \"otp\" only",
        ));
    }
    let mac_pool = raw.mac_pool.as_ref().and_then(|p| {
        let first = parse_mac(p.first.get_ref());
        let last = parse_mac(p.last.get_ref());
        for (v, text) in [(&first, &p.first), (&last, &p.last)] {
            if v.is_none() {
                errors.push(source.error_at(
                    text.span(),
                    "unit_data.mac_pool",
                    format!(
                        "expected a MAC address like 02:00:00:00:10:00, found {:?}",
                        text.get_ref()
                    ),
                ));
            }
        }
        match (first, last) {
            (Some(f), Some(l)) if f > l => {
                errors.push(source.error_at(
                    p.last.span(),
                    "unit_data.mac_pool.last",
                    "expected last to be at or after first",
                ));
                None
            }
            (Some(first), Some(last)) => Some(MacPool { first, last }),
            _ => None,
        }
    });
    let mut fields: Vec<(Field, Range<usize>)> = Vec::new();
    for f in &raw.fields {
        let span = f.span();
        let f = f.get_ref();
        let key = format!("unit_data.fields.{}", f.name);
        let mut bad = |m: String| errors.push(source.error_at(span.clone(), &key, m));
        let number_source = |f: &FieldRaw| (f.value.clone(), f.key.clone());
        let kind = match f.kind.get_ref().as_str() {
            "label" => FieldKind::Label {
                size: f.size.unwrap_or(16),
            },
            "mac" => FieldKind::Mac,
            "crc32" => FieldKind::Crc32,
            "file" => match (&f.file, f.size) {
                (Some(name), Some(size)) => FieldKind::File {
                    size,
                    name: name.clone(),
                },
                _ => {
                    bad("kind = \"file\" needs `file` (a name template) and `size`".into());
                    continue;
                }
            },
            k @ ("u32" | "i32" | "f32") => {
                let (value, key) = number_source(f);
                if value.is_some() == key.is_some() {
                    bad(format!(
                        "kind = \"{k}\" needs exactly one of `value` or `key`"
                    ));
                    continue;
                }
                let v = value.as_ref();
                let bad_value = |m: &mut dyn FnMut(String)| {
                    m(format!(
                        "expected a {k} value, found {}",
                        v.map_or(String::new(), |v| v.to_string())
                    ));
                };
                match k {
                    "u32" => {
                        let n = v.map(|v| v.as_integer().and_then(|i| u32::try_from(i).ok()));
                        if n == Some(None) {
                            bad_value(&mut bad);
                            continue;
                        }
                        FieldKind::U32 {
                            value: n.flatten(),
                            key,
                        }
                    }
                    "i32" => {
                        let n = v.map(|v| v.as_integer().and_then(|i| i32::try_from(i).ok()));
                        if n == Some(None) {
                            bad_value(&mut bad);
                            continue;
                        }
                        FieldKind::I32 {
                            value: n.flatten(),
                            key,
                        }
                    }
                    _ => {
                        let n = v.map(|v| v.as_float().or(v.as_integer().map(|i| i as f64)));
                        if n == Some(None) {
                            bad_value(&mut bad);
                            continue;
                        }
                        FieldKind::F32 {
                            value: n.flatten().map(|x| x as f32),
                            key,
                        }
                    }
                }
            }
            other => {
                errors.push(source.error_at(
                    f.kind.span(),
                    &format!("{key}.kind"),
                    format!("expected label, mac, u32, i32, f32, file or crc32, found {other:?}"),
                ));
                continue;
            }
        };
        let field = Field {
            name: f.name.clone(),
            offset: f.offset,
            kind,
        };
        let (start, stop) = (field.offset, field.offset as u64 + field.size() as u64);
        if stop > size as u64 {
            bad(format!(
                "the field {}..{stop} does not fit the {size} bytes of unit data",
                start
            ));
        } else if let Some((other, _)) = fields.iter().find(|(o, _)| {
            (start as u64) < o.offset as u64 + o.size() as u64 && stop > o.offset as u64
        }) {
            bad(format!("the field overlaps field {:?}", other.name));
        }
        if field.kind == FieldKind::Mac && raw.mac_pool.is_none() {
            bad("kind = \"mac\" needs unit_data.mac_pool".into());
        }
        if matches!(field.kind, FieldKind::File { .. }) && raw.dir.is_none() {
            bad("kind = \"file\" needs unit_data.dir".into());
        }
        fields.push((field, span));
    }
    if errors.len() > before {
        return None;
    }
    Some(UnitDataSpec {
        area: raw.area,
        address,
        size,
        lock: raw.lock,
        mac_pool,
        dir: raw.dir.map(|d| dir_base.join(d)),
        fields: fields.into_iter().map(|(f, _)| f).collect(),
    })
}
