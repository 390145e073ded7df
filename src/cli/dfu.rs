//! `station dfu ...`: the DFU host's commands.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::error::{ExitStatus, StationError};
use crate::image::dfuse::{self, DfuseFile, DfuseTarget};
use crate::image::{self, Format, Image, Segment};

#[derive(Subcommand, Debug)]
pub enum DfuCommand {
    /// List DFU-capable USB interfaces (runtime and DFU mode) with their functional
    /// descriptor and alternate settings: on the USB bus, or on a station's fixtures.
    List {
        /// List the fixtures of this station (the virtual bench's simulated units included).
        #[arg(long)]
        station: Option<PathBuf>,
        /// Use this records directory (and its simulator state) instead of the station's.
        #[arg(long)]
        records: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Pack raw binaries into a DfuSe (.dfu) file: one target per alternate setting, one
    /// element per file, in the order given.
    Pack {
        /// The .dfu file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// USB vendor id the file is meant for (hex).
        #[arg(long, default_value = "0x0483", value_parser = parse_id)]
        vid: u16,
        /// USB product id the file is meant for (hex).
        #[arg(long, default_value = "0xdf11", value_parser = parse_id)]
        pid: u16,
        /// ADDR:FILE[@ALT], e.g. 0x08000000:app.bin or 0x90000000:assets.bin@1 (ALT 0 if absent).
        #[arg(required = true, value_name = "ADDR:FILE[@ALT]", value_parser = parse_element)]
        elements: Vec<ElementArg>,
    },
    /// Download an image to a fixture's unit over DFU (entering DFU from its application
    /// when needed) and leave DFU.
    Download {
        #[command(flatten)]
        at: super::fixture::FixtureArgs,
        image: PathBuf,
        /// Load address, for a raw binary.
        #[arg(long, value_parser = parse_u32)]
        address: Option<u32>,
        /// Alternate setting (default: the profile's).
        #[arg(long)]
        alt: Option<u8>,
        /// Read back and compare before leaving DFU.
        #[arg(long)]
        verify: bool,
        /// strict waits the device's bwPollTimeout; fast polls at once (default: the profile's).
        #[arg(long, value_parser = parse_mode)]
        mode: Option<crate::config::DfuMode>,
        #[arg(long)]
        json: bool,
        /// Writing option bytes (the ROM's "Option Bytes" alt) needs the unit's USB serial,
        /// as `dfu list` shows it, typed here or at the prompt.
        #[arg(long, value_name = "SERIAL")]
        yes_i_typed: Option<String>,
    },
    /// Erase the whole flash through the ST ROM bootloader (destructive: type the unit's USB
    /// serial, as `dfu list` shows it).
    MassErase {
        #[command(flatten)]
        at: super::fixture::FixtureArgs,
        #[arg(long, value_name = "SERIAL")]
        yes_i_typed: Option<String>,
    },
    /// Read Unprotect through the ST ROM bootloader: RDP back to level 0, which erases the
    /// flash, then the unit resets (destructive: type the unit's USB serial).
    Unprotect {
        #[command(flatten)]
        at: super::fixture::FixtureArgs,
        #[arg(long, value_name = "SERIAL")]
        yes_i_typed: Option<String>,
    },
    /// Read a fixture's unit's memory over DFU into a file.
    Upload {
        #[command(flatten)]
        at: super::fixture::FixtureArgs,
        #[arg(long, value_parser = parse_u32)]
        address: u32,
        #[arg(long, value_parser = parse_u32)]
        length: u32,
        #[arg(long)]
        alt: Option<u8>,
        out: PathBuf,
    },
    /// Check a fixture's unit against an image, over DFU.
    Verify {
        #[command(flatten)]
        at: super::fixture::FixtureArgs,
        image: PathBuf,
        #[arg(long, value_parser = parse_u32)]
        address: Option<u32>,
        #[arg(long)]
        alt: Option<u8>,
    },
    /// Show a .dfu file's targets, elements and suffix, or the segments of any image.
    Info {
        file: PathBuf,
        /// Load address, for a raw binary.
        #[arg(long, value_parser = parse_u32)]
        address: Option<u32>,
    },
}

/// One `ADDR:FILE[@ALT]` argument of `dfu pack`.
#[derive(Clone, Debug)]
pub struct ElementArg {
    address: u32,
    file: PathBuf,
    alt: u8,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("{s:?} is not a 32-bit address (0x08000000 or decimal)"))
}

fn parse_mode(s: &str) -> Result<crate::config::DfuMode, String> {
    match s {
        "strict" => Ok(crate::config::DfuMode::Strict),
        "fast" => Ok(crate::config::DfuMode::Fast),
        other => Err(format!("{other:?} is not strict or fast")),
    }
}

fn parse_id(s: &str) -> Result<u16, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    u16::from_str_radix(hex, 16).map_err(|_| format!("{s:?} is not a 16-bit hex id like 0483"))
}

/// `ADDR:FILE[@ALT]`. A trailing `@digits` is the alt setting; any other `@` is part of the name.
fn parse_element(s: &str) -> Result<ElementArg, String> {
    let (address, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not ADDR:FILE[@ALT]"))?;
    let (file, alt) = match rest.rsplit_once('@') {
        Some((file, alt)) if !alt.is_empty() && alt.bytes().all(|b| b.is_ascii_digit()) => {
            let alt = alt
                .parse()
                .map_err(|_| format!("alternate setting {alt} in {s:?} is not 0-255"))?;
            (file, alt)
        }
        _ => (rest, 0),
    };
    if file.is_empty() {
        return Err(format!("{s:?} names no file"));
    }
    Ok(ElementArg {
        address: parse_u32(address)?,
        file: PathBuf::from(file),
        alt,
    })
}

pub fn dispatch(command: DfuCommand) -> Result<ExitStatus, StationError> {
    match command {
        DfuCommand::List {
            station,
            records,
            json,
        } => list(station, records, json),
        DfuCommand::Pack {
            output,
            vid,
            pid,
            elements,
        } => pack(&output, vid, pid, &elements),
        DfuCommand::Info { file, address } => info(&file, address),
        DfuCommand::Download {
            at,
            image,
            address,
            alt,
            verify,
            mode,
            json,
            yes_i_typed,
        } => super::fixture::download(super::fixture::DownloadArgs {
            at,
            image,
            address,
            alt,
            verify,
            mode,
            json,
            yes_i_typed,
        }),
        DfuCommand::MassErase { at, yes_i_typed } => {
            super::fixture::dfu_command(&at, crate::dfu::Op::MassErase, yes_i_typed)
        }
        DfuCommand::Unprotect { at, yes_i_typed } => {
            super::fixture::dfu_command(&at, crate::dfu::Op::ReadUnprotect, yes_i_typed)
        }
        DfuCommand::Upload {
            at,
            address,
            length,
            alt,
            out,
        } => super::fixture::upload(&at, address, length, &out, alt),
        DfuCommand::Verify {
            at,
            image,
            address,
            alt,
        } => super::fixture::verify(&at, &image, address, alt),
    }
}

fn list(
    station: Option<PathBuf>,
    records: Option<PathBuf>,
    json: bool,
) -> Result<ExitStatus, StationError> {
    use crate::dfu::list::{self, Listing};
    let mut found: Vec<(Option<String>, Listing)> = Vec::new();
    match station {
        None => {
            let bus = crate::backend::usb::RusbBus::new()
                .map_err(|e| StationError::station(format!("{e}; no DFU devices can be listed")))?;
            let listed = list::list(&bus).map_err(|e| StationError::station(e.to_string()))?;
            found.extend(listed.into_iter().map(|l| (None, l)));
        }
        Some(path) => {
            let at = super::fixture::FixtureArgs {
                station: path,
                fixture: String::new(),
                records,
            };
            let station = at.load()?;
            for fixture in &station.fixtures {
                let hw = super::fixture::open_powered(&station, fixture)?;
                let listed = list::list(hw.usb.as_ref())
                    .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)));
                hw.save()
                    .map_err(|e| StationError::station(e.to_string()))?;
                found.extend(listed?.into_iter().map(|l| (Some(fixture.id.clone()), l)));
            }
        }
    }
    if json {
        for (fixture, l) in &found {
            let mut v = serde_json::to_value(l).unwrap_or_default();
            v["fixture"] = fixture.clone().into();
            println!("{v}");
        }
        return Ok(ExitStatus::Pass);
    }
    if found.is_empty() {
        println!("no DFU devices found");
    }
    for (fixture, l) in &found {
        print_listing(fixture.as_deref(), l);
    }
    Ok(ExitStatus::Pass)
}

fn print_listing(fixture: Option<&str>, l: &crate::dfu::list::Listing) {
    let on = fixture.map(|f| format!("[{f}] ")).unwrap_or_default();
    println!(
        "{on}{:04x}:{:04x} port {} serial {} {}",
        l.vid,
        l.pid,
        l.port_path,
        l.serial.as_deref().unwrap_or("-"),
        l.product
            .as_deref()
            .map(|p| format!("{p:?}"))
            .unwrap_or_default()
    );
    if let Some(e) = &l.error {
        println!("  cannot describe it: {e}");
    }
    for i in &l.interfaces {
        println!(
            "  interface {} ({}): wTransferSize {}, detach timeout {} ms, DFU {}{}{}{}{}",
            i.number,
            i.mode,
            i.transfer_size.map_or("-".into(), |v| v.to_string()),
            i.detach_timeout_ms.map_or("-".into(), |v| v.to_string()),
            i.dfu_version.as_deref().unwrap_or("-"),
            if i.can_download == Some(true) {
                ", download"
            } else {
                ""
            },
            if i.can_upload == Some(true) {
                ", upload"
            } else {
                ""
            },
            if i.manifestation_tolerant == Some(true) {
                ", manifestation tolerant"
            } else {
                ""
            },
            if i.will_detach == Some(true) {
                ", will detach"
            } else {
                ""
            },
        );
        for a in &i.alts {
            println!("    alt {}: {}", a.alt, a.name);
            for r in &a.regions {
                println!("      {r}");
            }
        }
    }
}

/// Read an input file, refusing (without reading it all) one past the image size limit.
fn read_input(path: &Path) -> Result<Vec<u8>, StationError> {
    let fail = |e: std::io::Error| StationError::usage(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(image::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > image::MAX_FILE_BYTES {
        return Err(StationError::usage(format!(
            "{}: larger than the {}-byte limit for an image",
            path.display(),
            image::MAX_FILE_BYTES
        )));
    }
    Ok(bytes)
}

fn pack(
    output: &Path,
    vid: u16,
    pid: u16,
    elements: &[ElementArg],
) -> Result<ExitStatus, StationError> {
    let mut by_alt: BTreeMap<u8, Vec<Segment>> = BTreeMap::new();
    let mut spans = Vec::new();
    for e in elements {
        let data = read_input(&e.file)?;
        if data.is_empty() {
            return Err(StationError::usage(format!(
                "{}: the file is empty",
                e.file.display()
            )));
        }
        let segment = Segment::new(e.address, data);
        spans.push((segment.address, segment.end(), e.file.as_path()));
        by_alt.entry(e.alt).or_default().push(segment);
    }
    check_layout(spans)?;
    if by_alt.len() > usize::from(u8::MAX) {
        return Err(StationError::usage(
            "a DfuSe file holds at most 255 targets (alternate settings)",
        ));
    }
    let file = DfuseFile {
        targets: by_alt
            .into_iter()
            .map(|(alt, elements)| DfuseTarget {
                alt,
                // ST's tools and dfu-util's dfuse-pack.py name every target "ST...".
                name: Some("ST...".into()),
                elements,
            })
            .collect(),
        vendor_id: vid,
        product_id: pid,
        bcd_device: dfuse::WILDCARD_ID,
    };
    let bytes = dfuse::pack(&file);
    // Never write a file the station itself would refuse (overlapping elements, say).
    let loaded = Image::from_bytes(output, &bytes, Format::Dfu, None)
        .map_err(|e| StationError::usage(e.to_string()))?;
    if loaded.dfu.as_ref() != Some(&file) {
        return Err(StationError::station(format!(
            "{}: the packed file does not parse back to its input; nothing written",
            output.display()
        )));
    }
    std::fs::write(output, &bytes)
        .map_err(|e| StationError::station(format!("{}: {e}", output.display())))?;
    println!(
        "{}: {} bytes, {}, {}, for {vid:04x}:{pid:04x}",
        output.display(),
        bytes.len(),
        count(file.targets.len(), "target"),
        count(elements.len(), "element")
    );
    Ok(ExitStatus::Pass)
}

/// The station loads a .dfu as one address space, so elements may not overlap, even in
/// different targets; say which input files collide rather than blame the output.
fn check_layout(mut spans: Vec<(u32, u64, &Path)>) -> Result<(), StationError> {
    spans.sort_by_key(|(address, ..)| *address);
    for (address, end, file) in &spans {
        if *end > 1 << 32 {
            return Err(StationError::usage(format!(
                "{}: {} bytes at {address:#010x} run past the 32-bit address space",
                file.display(),
                end - u64::from(*address)
            )));
        }
    }
    for pair in spans.windows(2) {
        let [(a_start, a_end, a), (b_start, _, b)] = pair else {
            continue;
        };
        if u64::from(*b_start) < *a_end {
            return Err(StationError::usage(format!(
                "{} at {b_start:#010x} overlaps {} at {a_start:#010x}..{a_end:#010x}",
                b.display(),
                a.display()
            )));
        }
    }
    Ok(())
}

fn info(path: &Path, address: Option<u32>) -> Result<ExitStatus, StationError> {
    let bytes = read_input(path)?;
    let format = image::detect_format(path, &bytes).ok_or_else(|| {
        StationError::usage(image::ImageError::UnknownFormat { path: path.into() }.to_string())
    })?;
    let image = Image::from_bytes(path, &bytes, format, address)
        .map_err(|e| StationError::usage(e.to_string()))?;
    println!(
        "{}: {} image, {} bytes, sha256 {}",
        path.display(),
        image.format,
        bytes.len(),
        image.sha256
    );
    match &image.dfu {
        Some(file) => print_dfuse(file, &bytes),
        None => print_segments(&image.segments),
    }
    Ok(ExitStatus::Pass)
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn print_segments(segments: &[Segment]) {
    for (i, s) in segments.iter().enumerate() {
        println!(
            "segment {i}: {:#010x}..{:#010x} ({} bytes)",
            s.address,
            s.end(),
            s.data.len()
        );
    }
}

fn print_dfuse(file: &DfuseFile, bytes: &[u8]) {
    for (i, t) in file.targets.iter().enumerate() {
        let size: usize = t.elements.iter().map(|e| e.data.len()).sum();
        println!(
            "target {i}: alt {}, name {:?}, {}, {size} bytes",
            t.alt,
            t.name.as_deref().unwrap_or(""),
            count(t.elements.len(), "element")
        );
        for (j, e) in t.elements.iter().enumerate() {
            println!(
                "  element {j}: {:#010x}..{:#010x} ({} bytes)",
                e.address,
                e.end(),
                e.data.len()
            );
        }
    }
    // The parser has already checked the CRC; show the stored value for comparison with
    // other tools.
    let crc = bytes
        .get(bytes.len().saturating_sub(4)..)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    println!(
        "suffix: idVendor {:04x}, idProduct {:04x}, bcdDevice {:04x}, bcdDFU 011a, CRC {crc:#010x} (ok)",
        file.vendor_id, file.product_id, file.bcd_device
    );
}
