//! Descriptors as libusb hands them out: the device descriptor by value, the configuration
//! parsed into libusb's nested structs. Descriptors libusb does not parse (class-specific
//! ones, such as DFU's functional descriptor) go to the `extra` bytes of what they follow:
//! the configuration, the last interface alternate setting, or the last endpoint.

use std::ffi::c_int;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_snake_case)]
pub struct DeviceDescriptor {
    pub bLength: u8,
    pub bDescriptorType: u8,
    pub bcdUSB: u16,
    pub bDeviceClass: u8,
    pub bDeviceSubClass: u8,
    pub bDeviceProtocol: u8,
    pub bMaxPacketSize0: u8,
    pub idVendor: u16,
    pub idProduct: u16,
    pub bcdDevice: u16,
    pub iManufacturer: u8,
    pub iProduct: u8,
    pub iSerialNumber: u8,
    pub bNumConfigurations: u8,
}

pub fn device_descriptor(raw: &[u8]) -> Option<DeviceDescriptor> {
    if raw.len() < 18 || raw[1] != 1 {
        return None;
    }
    let w = |i: usize| u16::from_le_bytes([raw[i], raw[i + 1]]);
    Some(DeviceDescriptor {
        bLength: raw[0],
        bDescriptorType: raw[1],
        bcdUSB: w(2),
        bDeviceClass: raw[4],
        bDeviceSubClass: raw[5],
        bDeviceProtocol: raw[6],
        bMaxPacketSize0: raw[7],
        idVendor: w(8),
        idProduct: w(10),
        bcdDevice: w(12),
        iManufacturer: raw[14],
        iProduct: raw[15],
        iSerialNumber: raw[16],
        bNumConfigurations: raw[17],
    })
}

#[repr(C)]
#[allow(non_snake_case)]
pub struct EndpointDescriptor {
    pub bLength: u8,
    pub bDescriptorType: u8,
    pub bEndpointAddress: u8,
    pub bmAttributes: u8,
    pub wMaxPacketSize: u16,
    pub bInterval: u8,
    pub bRefresh: u8,
    pub bSynchAddress: u8,
    pub extra: *const u8,
    pub extra_length: c_int,
}

#[repr(C)]
#[allow(non_snake_case)]
pub struct InterfaceDescriptor {
    pub bLength: u8,
    pub bDescriptorType: u8,
    pub bInterfaceNumber: u8,
    pub bAlternateSetting: u8,
    pub bNumEndpoints: u8,
    pub bInterfaceClass: u8,
    pub bInterfaceSubClass: u8,
    pub bInterfaceProtocol: u8,
    pub iInterface: u8,
    pub endpoint: *const EndpointDescriptor,
    pub extra: *const u8,
    pub extra_length: c_int,
}

#[repr(C)]
pub struct Interface {
    pub altsetting: *const InterfaceDescriptor,
    pub num_altsetting: c_int,
}

#[repr(C)]
#[allow(non_snake_case)]
pub struct ConfigDescriptor {
    pub bLength: u8,
    pub bDescriptorType: u8,
    pub wTotalLength: u16,
    pub bNumInterfaces: u8,
    pub bConfigurationValue: u8,
    pub iConfiguration: u8,
    pub bmAttributes: u8,
    pub MaxPower: u8,
    pub interface: *const Interface,
    pub extra: *const u8,
    pub extra_length: c_int,
}

/// A parsed configuration and every buffer its pointers reach. The C struct comes first, so
/// the pointer handed out is the pointer to the whole, which `free` takes back.
#[repr(C)]
pub struct OwnedConfig {
    pub desc: ConfigDescriptor,
    _interfaces: Vec<Interface>,
    _alts: Vec<Vec<InterfaceDescriptor>>,
    _endpoints: Vec<Vec<EndpointDescriptor>>,
    _extras: Vec<Vec<u8>>,
}

struct Alt {
    raw: [u8; 9],
    endpoints: Vec<([u8; 7], Vec<u8>)>,
    extra: Vec<u8>,
}

struct Parsed {
    raw: [u8; 9],
    extra: Vec<u8>,
    interfaces: Vec<Vec<Alt>>,
}

fn parse(raw: &[u8]) -> Option<Parsed> {
    if raw.len() < 9 || raw[1] != 2 || (raw[0] as usize) < 9 {
        return None;
    }
    let total = (u16::from_le_bytes([raw[2], raw[3]]) as usize).min(raw.len());
    let mut parsed = Parsed {
        raw: raw[..9].try_into().ok()?,
        extra: Vec::new(),
        interfaces: Vec::new(),
    };
    let mut at = raw[0] as usize;
    while at + 2 <= total {
        let len = raw[at] as usize;
        if len < 2 || at + len > total {
            return None;
        }
        let d = &raw[at..at + len];
        match d[1] {
            4 if len >= 9 => {
                let alt = Alt {
                    raw: d[..9].try_into().ok()?,
                    endpoints: Vec::new(),
                    extra: Vec::new(),
                };
                match parsed.interfaces.last_mut() {
                    Some(group) if group[0].raw[2] == d[2] => group.push(alt),
                    _ => parsed.interfaces.push(vec![alt]),
                }
            }
            5 if len >= 7 => {
                let alt = parsed.interfaces.last_mut()?.last_mut()?;
                alt.endpoints.push((d[..7].try_into().ok()?, Vec::new()));
            }
            _ => {
                let alt = parsed.interfaces.last_mut().and_then(|g| g.last_mut());
                let extra = match alt {
                    None => &mut parsed.extra,
                    Some(a) => match a.endpoints.last_mut() {
                        Some((_, e)) => e,
                        None => &mut a.extra,
                    },
                };
                extra.extend_from_slice(d);
            }
        }
        at += len;
    }
    Some(parsed)
}

/// The extra bytes as libusb gives them: NULL when there are none.
fn extra_ptr(extras: &mut Vec<Vec<u8>>, bytes: Vec<u8>) -> (*const u8, c_int) {
    if bytes.is_empty() {
        return (std::ptr::null(), 0);
    }
    let len = bytes.len() as c_int;
    extras.push(bytes);
    (extras.last().map_or(std::ptr::null(), |v| v.as_ptr()), len)
}

/// Build libusb's structs for a raw configuration descriptor; `None` when it is malformed.
pub fn config_descriptor(raw: &[u8]) -> Option<Box<OwnedConfig>> {
    let parsed = parse(raw)?;
    let mut extras = Vec::new();
    let mut alts_all = Vec::new();
    let mut endpoints_all = Vec::new();
    let mut interfaces = Vec::new();
    for group in parsed.interfaces {
        let mut alts = Vec::new();
        for alt in group {
            let mut endpoints = Vec::new();
            for (e, extra) in alt.endpoints {
                let (extra, extra_length) = extra_ptr(&mut extras, extra);
                endpoints.push(EndpointDescriptor {
                    bLength: e[0],
                    bDescriptorType: e[1],
                    bEndpointAddress: e[2],
                    bmAttributes: e[3],
                    wMaxPacketSize: u16::from_le_bytes([e[4], e[5]]),
                    bInterval: e[6],
                    bRefresh: 0,
                    bSynchAddress: 0,
                    extra,
                    extra_length,
                });
            }
            let (extra, extra_length) = extra_ptr(&mut extras, alt.extra);
            let r = alt.raw;
            alts.push(InterfaceDescriptor {
                bLength: r[0],
                bDescriptorType: r[1],
                bInterfaceNumber: r[2],
                bAlternateSetting: r[3],
                bNumEndpoints: endpoints.len() as u8,
                bInterfaceClass: r[5],
                bInterfaceSubClass: r[6],
                bInterfaceProtocol: r[7],
                iInterface: r[8],
                endpoint: if endpoints.is_empty() {
                    std::ptr::null()
                } else {
                    endpoints.as_ptr()
                },
                extra,
                extra_length,
            });
            endpoints_all.push(endpoints);
        }
        interfaces.push(Interface {
            altsetting: alts.as_ptr(),
            num_altsetting: alts.len() as c_int,
        });
        alts_all.push(alts);
    }
    let (extra, extra_length) = extra_ptr(&mut extras, parsed.extra);
    let r = parsed.raw;
    Some(Box::new(OwnedConfig {
        desc: ConfigDescriptor {
            bLength: r[0],
            bDescriptorType: r[1],
            wTotalLength: u16::from_le_bytes([r[2], r[3]]),
            bNumInterfaces: interfaces.len() as u8,
            bConfigurationValue: r[5],
            iConfiguration: r[6],
            bmAttributes: r[7],
            MaxPower: r[8],
            interface: interfaces.as_ptr(),
            extra,
            extra_length,
        },
        _interfaces: interfaces,
        _alts: alts_all,
        _endpoints: endpoints_all,
        _extras: extras,
    }))
}

/// The interface numbers a configuration offers.
pub fn interface_numbers(raw: &[u8]) -> Vec<u8> {
    parse(raw).map_or_else(Vec::new, |p| {
        p.interfaces.iter().map(|g| g[0].raw[2]).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One DFU interface with two alternate settings and a functional descriptor after the
    /// last, as an ST bootloader presents it, plus an endpoint with class bytes after it.
    fn dfu_config() -> Vec<u8> {
        let mut body = vec![9, 4, 0, 0, 0, 0xFE, 1, 2, 4];
        body.extend([9, 4, 0, 1, 0, 0xFE, 1, 2, 5]);
        body.extend([9, 0x21, 0x0B, 0xFF, 0, 0, 8, 0x1A, 1]);
        body.extend([9, 4, 1, 0, 1, 0xFF, 0, 0, 0]);
        body.extend([7, 5, 0x81, 2, 64, 0, 0]);
        body.extend([3, 0x33, 7]);
        let total = (9 + body.len()) as u16;
        let mut d = vec![9, 2, total as u8, (total >> 8) as u8, 2, 1, 0, 0xC0, 50];
        d.extend(body);
        d
    }

    fn slice<'a, T>(p: *const T, n: c_int) -> &'a [T] {
        // SAFETY: the tests read what config_descriptor built, while it lives.
        unsafe { std::slice::from_raw_parts(p, n as usize) }
    }

    #[test]
    fn a_dfu_configuration_parses_as_libusb_lays_it_out() {
        let raw = dfu_config();
        let owned = config_descriptor(&raw).unwrap();
        let c = &owned.desc;
        assert_eq!(
            (
                c.bNumInterfaces,
                c.bConfigurationValue,
                c.wTotalLength as usize
            ),
            (2, 1, raw.len())
        );
        assert!(c.extra.is_null());
        let interfaces = slice(c.interface, 2);
        assert_eq!(interfaces[0].num_altsetting, 2);
        let alts = slice(interfaces[0].altsetting, 2);
        assert_eq!((alts[1].bAlternateSetting, alts[1].iInterface), (1, 5));
        assert!(
            alts[0].extra.is_null(),
            "the functional descriptor follows the last alt"
        );
        let functional = slice(alts[1].extra, alts[1].extra_length);
        assert_eq!(functional, &[9, 0x21, 0x0B, 0xFF, 0, 0, 8, 0x1A, 1]);
        let other = slice(interfaces[1].altsetting, 1);
        assert_eq!(other[0].bNumEndpoints, 1);
        let ep = &slice(other[0].endpoint, 1)[0];
        assert_eq!((ep.bEndpointAddress, ep.wMaxPacketSize), (0x81, 64));
        assert_eq!(slice(ep.extra, ep.extra_length), &[3, 0x33, 7]);
        assert_eq!(interface_numbers(&raw), vec![0, 1]);
    }

    #[test]
    fn malformed_descriptors_are_refused_not_read_past() {
        let raw = dfu_config();
        for cut in [0, 5, 8] {
            assert!(config_descriptor(&raw[..cut]).is_none(), "cut at {cut}");
        }
        let mut zero_length = raw.clone();
        zero_length[9] = 0;
        assert!(config_descriptor(&zero_length).is_none());
        let mut endpoint_first = vec![9, 2, 16, 0, 1, 1, 0, 0xC0, 50];
        endpoint_first.extend([7, 5, 0x81, 2, 64, 0, 0]);
        assert!(config_descriptor(&endpoint_first).is_none());
        assert!(device_descriptor(&[18, 1, 0]).is_none());
    }
}
