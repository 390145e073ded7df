//! USB descriptors a DFU host reads: the device descriptor, the DFU interface with its alternate
//! settings, and the DFU functional descriptor (facts file section 1.5).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceDescriptor {
    pub vid: u16,
    pub pid: u16,
    pub bcd_device: u16,
    pub product_index: u8,
    pub serial_index: u8,
}

pub fn parse_device(d: &[u8]) -> Option<DeviceDescriptor> {
    if d.len() < 18 || d[1] != 1 {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([d[i], d[i + 1]]);
    Some(DeviceDescriptor {
        vid: u16_at(8),
        pid: u16_at(10),
        bcd_device: u16_at(12),
        product_index: d[15],
        serial_index: d[16],
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Functional {
    pub can_download: bool,
    pub can_upload: bool,
    pub manifestation_tolerant: bool,
    pub will_detach: bool,
    pub detach_timeout_ms: u16,
    pub transfer_size: u16,
    /// 0x011A for DfuSe.
    pub dfu_version: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltSetting {
    pub alt: u8,
    pub name_index: u8,
}

/// One DFU interface: runtime (protocol 1) or DFU mode (protocol 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfuInterface {
    pub number: u8,
    pub protocol: u8,
    pub alts: Vec<AltSetting>,
    pub functional: Option<Functional>,
}

impl DfuInterface {
    pub fn is_dfu_mode(&self) -> bool {
        self.protocol == 2
    }
}

/// Walk a configuration descriptor and collect its DFU interfaces (class FE, subclass 01).
pub fn parse_config(d: &[u8]) -> Vec<DfuInterface> {
    let mut found: Vec<DfuInterface> = Vec::new();
    let mut in_dfu = false;
    let mut i = 0;
    while i + 2 <= d.len() {
        let len = d[i] as usize;
        if len < 2 || i + len > d.len() {
            break;
        }
        let desc = &d[i..i + len];
        match desc[1] {
            4 if len >= 9 => {
                in_dfu = desc[5] == 0xFE && desc[6] == 0x01;
                if in_dfu {
                    let (number, alt) = (desc[2], desc[3]);
                    let setting = AltSetting {
                        alt,
                        name_index: desc[8],
                    };
                    match found.iter_mut().find(|f| f.number == number) {
                        Some(f) => f.alts.push(setting),
                        None => found.push(DfuInterface {
                            number,
                            protocol: desc[7],
                            alts: vec![setting],
                            functional: None,
                        }),
                    }
                }
            }
            0x21 if in_dfu && len >= 7 => {
                let attrs = desc[2];
                let u16_at = |j: usize| {
                    desc.get(j..j + 2)
                        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
                };
                let functional = Functional {
                    can_download: attrs & 1 != 0,
                    can_upload: attrs & 2 != 0,
                    manifestation_tolerant: attrs & 4 != 0,
                    will_detach: attrs & 8 != 0,
                    detach_timeout_ms: u16_at(3),
                    transfer_size: u16_at(5),
                    dfu_version: if len >= 9 { u16_at(7) } else { 0x0100 },
                };
                if let Some(last) = found.last_mut() {
                    last.functional = Some(functional);
                }
            }
            _ => {}
        }
        i += len;
    }
    found
}

/// Decode a UTF-16LE string descriptor.
pub fn parse_string(d: &[u8]) -> Option<String> {
    if d.len() < 2 || d[1] != 3 {
        return None;
    }
    let end = (d[0] as usize).min(d.len());
    let units: Vec<u16> = d[2..end]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}
