//! What a unit's flash holds, whatever carries the bytes (SWD or DFU): the bootloader region
//! against the profile's pinned image, each slot's header, and what the bytes would boot.
//! Layouts are read only through `image::header`.

use serde::Serialize;

use crate::config::Profile;
use crate::image::Image;
use crate::image::header::{self, BootCheck, BootDescriptor, SlotCheck};

/// Reads `len` bytes at `address`, or says in plain words why it cannot.
pub type Reader<'a> = dyn FnMut(u32, u32) -> Result<Vec<u8>, String> + 'a;

/// The first read of a slot: vector table and header with room to spare.
const FIRST_READ: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    Match,
    Differs,
    Unreadable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    pub design: String,
    pub version: String,
    pub length: u32,
    pub crc_valid: bool,
}

impl Descriptor {
    fn of(check: &BootCheck) -> Option<Descriptor> {
        let (d, crc_valid): (&BootDescriptor, bool) = match check {
            BootCheck::Valid(d) => (d, true),
            BootCheck::BadImageCrc(d) => (d, false),
            _ => return None,
        };
        Some(Descriptor {
            design: d.design.clone(),
            version: d.version.to_string(),
            length: d.length,
            crc_valid,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BootloaderView {
    pub start: String,
    pub size: u32,
    pub status: Match,
    /// What matches or differs, or why it could not be read, in plain words.
    pub detail: String,
    /// The verdict on the bytes found (`valid`, `blank`, `bad descriptor CRC`, ...).
    pub check: Option<String>,
    pub expected: Option<Descriptor>,
    pub found: Option<Descriptor>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlotView {
    pub name: String,
    pub start: String,
    pub size: u32,
    /// `valid`, `blank`, `no vector table`, `no header`, `bad header CRC`, `bad length`,
    /// `bad image CRC` or `unreadable`.
    pub check: String,
    /// The `STAP` magic; unknown when unreadable or when no vector table precedes it.
    pub magic: Option<bool>,
    pub application: Option<String>,
    pub version: Option<String>,
    pub crc_valid: Option<bool>,
    pub detail: String,
    #[serde(skip)]
    verdict: Option<SlotCheck>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runs {
    Application,
    BootloaderDfu,
    /// Something runs, but not the product (a damaged image is jumped into).
    DamagedCode,
    HardFault,
    Unknown,
}

#[derive(Clone, Debug, Serialize)]
pub struct WouldBoot {
    pub runs: Runs,
    pub detail: String,
}

/// Everything inspect says about the flash.
#[derive(Clone, Debug, Serialize)]
pub struct FlashView {
    pub bootloader: BootloaderView,
    pub slots: Vec<SlotView>,
    pub would_boot: WouldBoot,
}

fn hex(a: u32) -> String {
    format!("{a:#010x}")
}

pub fn boot_verdict(check: &BootCheck) -> &'static str {
    match check {
        BootCheck::Blank => "blank (erased)",
        BootCheck::NoVectorTable => "no vector table",
        BootCheck::NoDescriptor => "no descriptor",
        BootCheck::BadDescriptorCrc => "bad descriptor CRC",
        BootCheck::BadLength => "bad length",
        BootCheck::BadImageCrc(_) => "bad image CRC",
        BootCheck::Valid(_) => "valid",
    }
}

fn slot_verdict(check: &SlotCheck) -> &'static str {
    match check {
        SlotCheck::Blank => "blank",
        SlotCheck::NoVectorTable => "no vector table",
        SlotCheck::NoHeader => "no header",
        SlotCheck::BadHeaderCrc => "bad header CRC",
        SlotCheck::BadLength => "bad length",
        SlotCheck::BadImageCrc(_) => "bad image CRC",
        SlotCheck::Valid(_) => "valid",
    }
}

/// The flash as unreadable, saying why once.
pub fn unreadable(profile: &Profile, image: &Image, why: &str) -> FlashView {
    let mut read = |_: u32, _: u32| Err(why.to_string());
    analyse(profile, image, &mut read)
}

/// Read the bootloader region and every slot through `read` and judge them.
pub fn analyse(profile: &Profile, image: &Image, read: &mut Reader) -> FlashView {
    let bootloader = compare_bootloader(profile, image, read);
    let slots: Vec<SlotView> = profile
        .memory
        .slots
        .iter()
        .map(|s| slot_view(&s.name, s.start, s.size, read))
        .collect();
    let would_boot = would_boot(profile, &bootloader.1, &slots, read);
    FlashView {
        bootloader: bootloader.0,
        slots,
        would_boot,
    }
}

/// The bootloader region against the pinned image: every byte of the image, and the
/// descriptor's verdict. Also hands back the verdict for what-would-boot.
pub fn compare_bootloader(
    profile: &Profile,
    image: &Image,
    read: &mut Reader,
) -> (BootloaderView, Option<(BootCheck, Vec<u8>)>) {
    let region = profile.memory.bootloader.get_ref();
    let expected_bytes = image.bytes_at(region.start, region.size as usize, 0xFF);
    let mut view = BootloaderView {
        start: hex(region.start),
        size: region.size,
        status: Match::Unreadable,
        detail: String::new(),
        check: None,
        expected: Descriptor::of(&header::check_bootloader(region.start, &expected_bytes)),
        found: None,
    };
    let bytes = match read(region.start, region.size) {
        Ok(b) => b,
        Err(why) => {
            view.detail = why;
            return (view, None);
        }
    };
    let found = header::check_bootloader(region.start, &bytes);
    view.check = Some(boot_verdict(&found).to_string());
    view.found = Descriptor::of(&found);
    let (mut differ, mut first) = (0usize, None);
    for seg in &image.segments {
        let off = seg.address.wrapping_sub(region.start) as usize;
        for (i, want) in seg.data.iter().enumerate() {
            if bytes.get(off + i) != Some(want) {
                differ += 1;
                first.get_or_insert(seg.address as usize + i);
            }
        }
    }
    match first {
        None => {
            view.status = Match::Match;
            view.detail = format!("matches {} byte for byte", image.name);
        }
        Some(at) => {
            view.status = Match::Differs;
            view.detail = format!(
                "{differ} bytes differ from {}, the first at {at:#010x}; the region reads as {}",
                image.name,
                boot_verdict(&found)
            );
        }
    }
    (view, Some((found, bytes)))
}

/// Read a slot only as far as its header says the image goes.
fn read_app(base: u32, size: u32, read: &mut Reader) -> Result<SlotCheck, String> {
    let mut len = FIRST_READ.min(size);
    let mut bytes = read(base, len)?;
    loop {
        let check = header::check_app(base, &bytes);
        let handler_further =
            header::reset_handler(&bytes).is_some_and(|h| (h & !1) >= base.saturating_add(len));
        let more = match check {
            SlotCheck::BadLength => true,
            SlotCheck::NoVectorTable => handler_further,
            _ => false,
        };
        if !more || len >= size {
            return Ok(check);
        }
        let next = len.saturating_mul(4).min(size);
        bytes.extend(read(base + len, next - len)?);
        len = next;
    }
}

fn slot_view(name: &str, start: u32, size: u32, read: &mut Reader) -> SlotView {
    let mut view = SlotView {
        name: name.to_string(),
        start: hex(start),
        size,
        check: "unreadable".into(),
        magic: None,
        application: None,
        version: None,
        crc_valid: None,
        detail: String::new(),
        verdict: None,
    };
    let check = match read_app(start, size, read) {
        Ok(c) => c,
        Err(why) => {
            view.detail = why;
            return view;
        }
    };
    view.check = slot_verdict(&check).into();
    view.magic = match check {
        SlotCheck::NoVectorTable => None,
        SlotCheck::Blank | SlotCheck::NoHeader => Some(false),
        _ => Some(true),
    };
    if let SlotCheck::Valid(h) | SlotCheck::BadImageCrc(h) = &check {
        view.application = Some(h.name.clone());
        view.version = Some(h.version.to_string());
        view.crc_valid = Some(matches!(check, SlotCheck::Valid(_)));
    }
    view.detail = match &check {
        SlotCheck::Valid(h) => format!("{} {} ({} bytes), CRC valid", h.name, h.version, h.length),
        SlotCheck::BadImageCrc(h) => format!(
            "{} {} ({} bytes): the image CRC does not match (interrupted update?)",
            h.name, h.version, h.length
        ),
        SlotCheck::Blank => "erased".into(),
        other => format!("{}: not a valid application", slot_verdict(other)),
    };
    view.verdict = Some(check);
    view
}

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(&h.replace('_', ""), 16).ok(),
        None => s.replace('_', "").parse().ok(),
    }
}

/// What the unit would run at power-up with BOOT0 low, from the bytes alone (docs/sim.md,
/// "Bootloaders: the zoo").
fn would_boot(
    profile: &Profile,
    boot: &Option<(BootCheck, Vec<u8>)>,
    slots: &[SlotView],
    read: &mut Reader,
) -> WouldBoot {
    let say = |runs, detail: String| WouldBoot { runs, detail };
    let Some((check, region)) = boot else {
        return say(Runs::Unknown, "unknown: the flash could not be read".into());
    };
    let base = profile.memory.bootloader.get_ref().start;
    let desc = match check {
        BootCheck::Valid(d) => d,
        BootCheck::Blank | BootCheck::NoDescriptor => {
            return match header::check_app(base, region) {
                SlotCheck::Valid(h) => say(
                    Runs::Application,
                    format!("{} {} at the flash base (no bootloader)", h.name, h.version),
                ),
                _ => say(
                    Runs::HardFault,
                    format!(
                        "nothing: the bootloader region is {}, so the core hard-faults; `station recover` brings it back over SWD",
                        boot_verdict(check)
                    ),
                ),
            };
        }
        other => {
            return say(
                Runs::HardFault,
                format!(
                    "nothing: the bootloader is damaged ({}), so the core hard-faults; `station recover` brings it back over SWD",
                    boot_verdict(other)
                ),
            );
        }
    };
    let app_base = desc.knobs.get("app_base").and_then(|v| parse_u32(v));
    let known = slots
        .iter()
        .zip(&profile.memory.slots)
        .find(|(_, s)| Some(s.start) == app_base);
    let (name, slot) = match (known, app_base) {
        (Some((view, s)), _) => (s.name.clone(), view.verdict.clone()),
        (None, Some(a)) => {
            let size = desc
                .knobs
                .get("app_size")
                .and_then(|v| parse_u32(v))
                .unwrap_or(profile.memory.flash.end().saturating_sub(a.into()) as u32);
            (hex(a), read_app(a, size, read).ok())
        }
        (None, None) => {
            return say(
                Runs::HardFault,
                format!(
                    "nothing: the {} bootloader's descriptor names no app_base",
                    desc.design
                ),
            );
        }
    };
    let main = design_outcome(&desc.design, &desc.version.to_string(), &name, slot);
    match desc.knobs.get("cm4_base").and_then(|v| parse_u32(v)) {
        Some(cm4) => with_cm4(main, &desc.design, cm4, profile, slots, read),
        None => main,
    }
}

/// A dual-core design also checks the CM4's image (sim/cm4.rs): crc-single stays in DFU
/// without it; otherwise the CM4 runs whatever its slot holds.
fn with_cm4(
    main: WouldBoot,
    design: &str,
    base: u32,
    profile: &Profile,
    slots: &[SlotView],
    read: &mut Reader,
) -> WouldBoot {
    let (name, check) = match slots
        .iter()
        .zip(&profile.memory.slots)
        .find(|(_, s)| s.start == base)
    {
        Some((view, s)) => (s.name.clone(), view.verdict.clone()),
        None => {
            let size = profile.memory.flash.end().saturating_sub(base.into()) as u32;
            (hex(base), read_app(base, size, read).ok())
        }
    };
    let verdict = check.as_ref().map_or("unreadable", slot_verdict);
    match check {
        _ if main.runs != Runs::Application => main,
        Some(SlotCheck::Valid(h)) => WouldBoot {
            detail: format!(
                "{}; the CM4 runs {} {} from slot {name}",
                main.detail, h.name, h.version
            ),
            ..main
        },
        _ if design == "crc-single" => WouldBoot {
            runs: Runs::BootloaderDfu,
            detail: format!(
                "the {design} bootloader waits in DFU mode: the CM4's slot {name} is {verdict}"
            ),
        },
        _ => WouldBoot {
            runs: Runs::DamagedCode,
            detail: format!(
                "{}; but the CM4's slot {name} is {verdict}, so the CM4 has nothing valid to run",
                main.detail
            ),
        },
    }
}

fn design_outcome(design: &str, version: &str, slot: &str, a: Option<SlotCheck>) -> WouldBoot {
    let say = |runs, detail: String| WouldBoot { runs, detail };
    let boot = format!("the {design} bootloader {version}");
    let Some(a) = a else {
        return say(
            Runs::Unknown,
            format!("{boot}; slot {slot} could not be read"),
        );
    };
    let verdict = slot_verdict(&a);
    match (design, &a) {
        (d, _) if !["crc-single", "ab-slots", "naive", "st-rom"].contains(&d) => say(
            Runs::Unknown,
            format!("unknown: {boot} is not a design this station knows"),
        ),
        (_, SlotCheck::Valid(h)) => say(
            Runs::Application,
            format!("{boot} starts {} {} from slot {slot}", h.name, h.version),
        ),
        ("crc-single" | "ab-slots", _) => say(
            Runs::BootloaderDfu,
            format!("{boot} waits in DFU mode: slot {slot} is {verdict}"),
        ),
        ("naive", SlotCheck::Blank) => say(
            Runs::BootloaderDfu,
            format!("{boot} waits in DFU mode: slot {slot} is erased"),
        ),
        ("st-rom", SlotCheck::Blank | SlotCheck::NoVectorTable) => say(
            Runs::HardFault,
            format!("nothing: {boot} jumps into slot {slot}, which is {verdict}"),
        ),
        _ => say(
            Runs::DamagedCode,
            format!("{boot} jumps into slot {slot} although it is {verdict}"),
        ),
    }
}
