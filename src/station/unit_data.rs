//! The unit-data step: compose the profile's `[unit_data]` fields for this unit, write them
//! into OTP (irreversible: gated by the typed label, refused over other data) or a
//! configuration sector, read them back and record what was written. MAC addresses come from
//! a pool the station persists, so none is handed out twice.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::unit_data::{Field, FieldKind, MacPool, UnitDataSpec, mac_text};

/// What a unit's data is made of, before layout.
pub struct Inputs<'a> {
    pub label: &'a str,
    pub uid: &'a str,
    pub mac: Option<[u8; 6]>,
}

/// The bytes to write, and what the record says about them (blobs by hash only).
#[derive(Debug)]
pub struct Composed {
    pub bytes: Vec<u8>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Lay the fields out for one unit. Errors name the field and what is missing.
pub fn compose(spec: &UnitDataSpec, inputs: &Inputs) -> Result<Composed, String> {
    let mut bytes = vec![0xFF; spec.size as usize];
    let mut fields = serde_json::Map::new();
    let values = per_unit_values(spec, inputs)?;
    let mut ordered: Vec<&Field> = spec.fields.iter().collect();
    // The CRC covers what comes before it, so it goes last.
    ordered.sort_by_key(|f| matches!(f.kind, FieldKind::Crc32));
    for f in ordered {
        let at = f.offset as usize;
        let (data, shown): (Vec<u8>, serde_json::Value) = match &f.kind {
            FieldKind::Label { size } => {
                if inputs.label.len() > *size as usize || !inputs.label.is_ascii() {
                    return Err(format!(
                        "field {}: the label {:?} does not fit {size} ASCII bytes",
                        f.name, inputs.label
                    ));
                }
                let mut d = inputs.label.as_bytes().to_vec();
                d.resize(*size as usize, 0);
                (d, inputs.label.into())
            }
            FieldKind::Mac => {
                let mac = inputs.mac.ok_or("no MAC address was allocated")?;
                (mac.to_vec(), mac_text(&mac).into())
            }
            FieldKind::U32 { value, key } => {
                let v = number(&f.name, *value, key, &values, |x| {
                    x.as_integer().and_then(|i| u32::try_from(i).ok())
                })?;
                (v.to_le_bytes().to_vec(), v.into())
            }
            FieldKind::I32 { value, key } => {
                let v = number(&f.name, *value, key, &values, |x| {
                    x.as_integer().and_then(|i| i32::try_from(i).ok())
                })?;
                (v.to_le_bytes().to_vec(), v.into())
            }
            FieldKind::F32 { value, key } => {
                let v = number(&f.name, *value, key, &values, |x| {
                    x.as_float()
                        .or(x.as_integer().map(|i| i as f64))
                        .map(|x| x as f32)
                })?;
                (v.to_le_bytes().to_vec(), f64::from(v).into())
            }
            FieldKind::File { size, name } => {
                let path = unit_file(spec, name, inputs)?;
                let mut d = std::fs::read(&path)
                    .map_err(|e| format!("field {}: {}: {e}", f.name, path.display()))?;
                if d.len() > *size as usize {
                    return Err(format!(
                        "field {}: {} is {} bytes, the field holds {size}",
                        f.name,
                        path.display(),
                        d.len()
                    ));
                }
                let shown = serde_json::json!({
                    "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "bytes": d.len(),
                    "sha256": crate::image::sha256_hex(&d),
                });
                d.resize(*size as usize, 0xFF);
                (d, shown)
            }
            FieldKind::Crc32 => {
                let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&bytes[..at]);
                (crc.to_le_bytes().to_vec(), format!("{crc:#010x}").into())
            }
        };
        bytes[at..at + data.len()].copy_from_slice(&data);
        fields.insert(f.name.clone(), shown);
    }
    Ok(Composed { bytes, fields })
}

fn number<T>(
    field: &str,
    value: Option<T>,
    key: &Option<String>,
    values: &Option<(PathBuf, toml::Table)>,
    convert: impl Fn(&toml::Value) -> Option<T>,
) -> Result<T, String> {
    if let Some(v) = value {
        return Ok(v);
    }
    let key = key.as_deref().unwrap_or_default();
    let Some((path, table)) = values else {
        return Err(format!(
            "field {field}: key {key:?} needs the unit's values file, and unit_data.dir is not set"
        ));
    };
    let raw = table
        .get(key)
        .ok_or_else(|| format!("field {field}: {} has no key {key:?}", path.display()))?;
    convert(raw).ok_or_else(|| {
        format!(
            "field {field}: {}: {key} = {raw} is not a number of the field's kind",
            path.display()
        )
    })
}

/// `<dir>/<label>.toml`, when the profile names a directory and a field reads a key.
fn per_unit_values(
    spec: &UnitDataSpec,
    inputs: &Inputs,
) -> Result<Option<(PathBuf, toml::Table)>, String> {
    let wants = spec.fields.iter().any(|f| {
        matches!(
            &f.kind,
            FieldKind::U32 { key: Some(_), .. }
                | FieldKind::I32 { key: Some(_), .. }
                | FieldKind::F32 { key: Some(_), .. }
        )
    });
    let Some(dir) = spec.dir.as_ref().filter(|_| wants) else {
        return Ok(None);
    };
    let path = dir.join(format!("{}.toml", safe(inputs.label)?));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("the unit's values file {}: {e}", path.display()))?;
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some((path, table)))
}

fn unit_file(spec: &UnitDataSpec, template: &str, inputs: &Inputs) -> Result<PathBuf, String> {
    let name = template
        .replace("{label}", safe(inputs.label)?)
        .replace("{uid}", inputs.uid);
    let dir = spec.dir.as_deref().ok_or("unit_data.dir is not set")?;
    Ok(dir.join(name))
}

/// A label used in a file name must not climb out of the directory.
fn safe(label: &str) -> Result<&str, String> {
    if label.is_empty() || label.contains(['/', '\\']) || label.starts_with('.') {
        return Err(format!("the label {label:?} cannot name a file"));
    }
    Ok(label)
}

// ------------------------------------------------------------------------------ MAC pool

/// The pool's state under `<records>/.station/mac-pool.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PoolFile {
    /// The next never-used address, as a 48-bit number.
    next: u64,
    /// UID → MAC: a unit tested again keeps its address.
    assigned: BTreeMap<String, String>,
}

fn as_number(mac: &[u8; 6]) -> u64 {
    mac.iter().fold(0, |n, b| (n << 8) | *b as u64)
}

fn from_number(n: u64) -> [u8; 6] {
    let b = n.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

pub fn pool_path(records: &Path) -> PathBuf {
    records.join(".station").join("mac-pool.json")
}

/// The unit's MAC: the one it already has from this pool, or the next never handed out. The
/// pool file is locked (other station processes wait) and saved before the address is used, so
/// a crash after this never hands the address out again.
pub fn allocate(records: &Path, pool: &MacPool, uid: &str) -> Result<([u8; 6], bool), String> {
    let path = pool_path(records);
    let io = |e: std::io::Error| format!("MAC pool {}: {e}", path.display());
    std::fs::create_dir_all(path.parent().unwrap_or(records)).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    file.lock().map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let mut state: PoolFile = if text.trim().is_empty() {
        PoolFile::default()
    } else {
        serde_json::from_str(&text).map_err(|e| format!("MAC pool {}: {e}", path.display()))?
    };
    if let Some(mac) = state.assigned.get(uid) {
        let mac = crate::config::unit_data::parse_mac(mac)
            .ok_or_else(|| format!("MAC pool {}: bad entry for {uid}", path.display()))?;
        return Ok((mac, false));
    }
    let (first, last) = (as_number(&pool.first), as_number(&pool.last));
    let n = state.next.max(first);
    if n > last {
        return Err(format!(
            "the MAC pool {}..{} is used up ({} addresses handed out): extend unit_data.mac_pool",
            mac_text(&pool.first),
            mac_text(&pool.last),
            state.assigned.len()
        ));
    }
    let mac = from_number(n);
    state.next = n + 1;
    state.assigned.insert(uid.to_string(), mac_text(&mac));
    let text = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok((mac, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::unit_data::{Area, parse_mac};

    fn spec(fields: Vec<Field>) -> UnitDataSpec {
        UnitDataSpec {
            area: Area::Flash,
            address: 0x080E_0000,
            size: 32,
            lock: false,
            mac_pool: None,
            dir: None,
            fields,
        }
    }

    #[test]
    fn fields_are_laid_out_and_the_crc_covers_what_precedes_it() {
        let s = spec(vec![
            Field {
                name: "crc".into(),
                offset: 28,
                kind: FieldKind::Crc32,
            },
            Field {
                name: "label".into(),
                offset: 0,
                kind: FieldKind::Label { size: 8 },
            },
            Field {
                name: "mac".into(),
                offset: 8,
                kind: FieldKind::Mac,
            },
            Field {
                name: "gain".into(),
                offset: 16,
                kind: FieldKind::I32 {
                    value: Some(-2),
                    key: None,
                },
            },
        ]);
        let mac = parse_mac("02:00:00:00:10:01");
        let c = compose(
            &s,
            &Inputs {
                label: "AB12",
                uid: "X",
                mac,
            },
        )
        .unwrap();
        assert_eq!(&c.bytes[..8], b"AB12\0\0\0\0");
        assert_eq!(&c.bytes[8..14], &[2, 0, 0, 0, 0x10, 1]);
        assert_eq!(&c.bytes[14..16], &[0xFF, 0xFF], "gaps stay erased");
        assert_eq!(&c.bytes[16..20], &(-2i32).to_le_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&c.bytes[..28]);
        assert_eq!(&c.bytes[28..32], &crc.to_le_bytes());
        assert_eq!(c.fields["mac"], "02:00:00:00:10:01");
        let long = compose(
            &s,
            &Inputs {
                label: "TOO-LONG-LABEL",
                uid: "X",
                mac,
            },
        );
        assert!(long.unwrap_err().contains("does not fit 8 ASCII bytes"));
    }

    #[test]
    fn the_pool_never_hands_an_address_out_twice_and_a_unit_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let pool = MacPool {
            first: parse_mac("02:00:00:00:10:FE").unwrap(),
            last: parse_mac("02:00:00:00:11:00").unwrap(),
        };
        let a = allocate(dir.path(), &pool, "UID-A").unwrap();
        let b = allocate(dir.path(), &pool, "UID-B").unwrap();
        assert_eq!((mac_text(&a.0), a.1), ("02:00:00:00:10:FE".into(), true));
        assert_eq!(mac_text(&b.0), "02:00:00:00:10:FF");
        assert_eq!(allocate(dir.path(), &pool, "UID-A").unwrap(), (a.0, false));
        assert_eq!(
            mac_text(&allocate(dir.path(), &pool, "UID-C").unwrap().0),
            "02:00:00:00:11:00"
        );
        let used_up = allocate(dir.path(), &pool, "UID-D").unwrap_err();
        assert!(
            used_up.contains("used up (3 addresses handed out)"),
            "{used_up}"
        );
    }

    #[test]
    fn parallel_allocations_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let pool = MacPool {
            first: parse_mac("02:00:00:00:00:00").unwrap(),
            last: parse_mac("02:00:00:00:FF:FF").unwrap(),
        };
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (dir, pool) = (dir.path().to_path_buf(), pool.clone());
                std::thread::spawn(move || {
                    (0..20)
                        .map(|i| allocate(&dir, &pool, &format!("UID-{t}-{i}")).unwrap().0)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 160);
    }
}
