//! What `station check` asks of a profile beyond its own file: what the part's silicon
//! allows, from chip knowledge the config layer does not hold (`stm32`). Run with every check
//! (`station check`, `run`, the TUI), so a profile that would fail every unit is refused
//! before the first one.

use crate::config::{self, CheckReport, ConfigError, Station};
use crate::stm32::sector_erase;

/// `config::check_station`, then the checks that need the part's geometry.
pub fn check(station: &Station) -> Result<CheckReport, Vec<ConfigError>> {
    let report = config::check_station(station)?;
    let errors: Vec<ConfigError> = station
        .profiles
        .values()
        .flat_map(write_protected_sectors)
        .collect();
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}

/// `option_bytes.write_protect` names sectors (pages on L4 and G0) the part has.
fn write_protected_sectors(profile: &config::Profile) -> Vec<ConfigError> {
    let flash = &profile.memory.flash;
    let exists = |i: u32| sector_erase::sector(profile.family, flash.start, flash.size, i);
    let spec = &profile.option_bytes.write_protect;
    let count = (0..4096).take_while(|&i| exists(i).is_some()).count();
    spec.get_ref()
        .iter()
        .filter(|&&s| exists(s).is_none())
        .map(|s| {
            profile.source.error_at(
                spec.span(),
                "option_bytes.write_protect",
                format!(
                    "sector {s} does not exist on this part: expected 0 to {} ({} {} of \
                     memory.flash, {} family)",
                    count.saturating_sub(1),
                    count,
                    if matches!(
                        profile.family,
                        crate::chip::Family::L4 | crate::chip::Family::G0
                    ) {
                        "pages"
                    } else {
                        "sectors"
                    },
                    profile.family.name()
                ),
            )
        })
        .collect()
}
