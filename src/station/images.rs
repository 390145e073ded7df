//! The images a unit run uses: the profile's pinned bootloader and application (and a
//! dual-core part's CM4 image), loaded and checked against their pins once per run, before
//! any hardware is touched (or taken from `config::check_station`, which already did).

use crate::config::{self, CheckedImages, ImageRole, ImageSpec, Profile};
use crate::error::StationError;
use crate::hw::Segment;
use crate::image::Image;
use crate::record::ImageRef;

/// The images a unit run uses, loaded and checked against their pins before any hardware.
pub struct UnitImages {
    pub bootloader: Image,
    pub application: Image,
    pub application_slot: (u32, u32),
    /// Dual-core parts: the Cortex-M4's application and its slot.
    pub cm4: Option<SlotImage>,
}

pub struct SlotImage {
    pub image: Image,
    /// (start, size)
    pub slot: (u32, u32),
}

impl UnitImages {
    /// Every application image's segments: the main core's, then the CM4's.
    pub fn application_segments(&self) -> Vec<Segment> {
        let mut segments = self.application.segments.clone();
        if let Some(cm4) = &self.cm4 {
            segments.extend(cm4.image.segments.iter().cloned());
        }
        segments
    }
}

/// Load a profile's images and check their pins and placement before any hardware is touched.
pub fn load_unit_images(profile: &Profile) -> Result<UnitImages, StationError> {
    unit_images(profile, &CheckedImages::default())
}

/// [`load_unit_images`], taking each image `checked` already holds instead of reading and
/// hashing it again.
pub fn unit_images(profile: &Profile, checked: &CheckedImages) -> Result<UnitImages, StationError> {
    let pinned = |spec: &ImageSpec| match checked.get(profile, spec) {
        Some(image) => Ok(image.clone()),
        None => config::check::load_pinned_image(profile, spec)
            .map_err(|e| StationError::usage(format!("error: {e}"))),
    };
    let load = |role: ImageRole| {
        let spec = profile.image(role).ok_or_else(|| {
            StationError::usage(format!(
                "{}: the profile has no {role:?} image",
                profile.source.path.display()
            ))
        })?;
        pinned(spec).map(|i| (i, spec))
    };
    let slot_of = |spec: &config::ImageSpec| {
        spec.slot
            .as_deref()
            .and_then(|s| profile.slot(s))
            .map(|s| (s.start, s.size))
            .ok_or_else(|| StationError::usage("application slot missing"))
    };
    let (bootloader, _) = load(ImageRole::Bootloader)?;
    let (application, spec) = load(ImageRole::Application)?;
    let application_slot = slot_of(spec)?;
    let cm4 = match profile.cm4_image() {
        None => None,
        Some(spec) => Some(SlotImage {
            image: pinned(spec)?,
            slot: slot_of(spec)?,
        }),
    };
    Ok(UnitImages {
        bootloader,
        application,
        application_slot,
        cm4,
    })
}

pub fn image_refs(images: &UnitImages) -> Vec<ImageRef> {
    vec![
        ImageRef {
            name: images.bootloader.name.clone(),
            role: "bootloader".into(),
            sha256: images.bootloader.sha256.clone(),
        },
        ImageRef {
            name: images.application.name.clone(),
            role: "application".into(),
            sha256: images.application.sha256.clone(),
        },
    ]
    .into_iter()
    .chain(images.cm4.as_ref().map(|c| ImageRef {
        name: c.image.name.clone(),
        role: "application-cm4".into(),
        sha256: c.image.sha256.clone(),
    }))
    .collect()
}

/// The profile's bootloader image, checked against its pin.
pub fn pinned_bootloader(profile: &Profile) -> Result<Image, StationError> {
    let spec = profile.image(ImageRole::Bootloader).ok_or_else(|| {
        StationError::usage(format!(
            "{}: the profile has no bootloader image",
            profile.source.path.display()
        ))
    })?;
    config::check::load_pinned_image(profile, spec)
        .map_err(|e| StationError::usage(format!("error: {e}")))
}
