//! Plain words for steps and failures: what went wrong, and what the operator does next.

use crate::record::Outcome;

/// The provisioning steps in order (docs/events.md), with the words an operator reads.
pub const STEPS: [(&str, &str); 7] = [
    ("attach", "Attaching the probe"),
    ("identify", "Identifying the chip"),
    ("traceability", "Checking the records"),
    ("flash_bootloader", "Flashing the bootloader"),
    ("option_bytes", "Setting option bytes"),
    ("dfu_download", "Downloading application"),
    ("confirm_application", "Confirming application"),
];

/// 1-based position of a step in [`STEPS`].
pub fn step_number(step: &str) -> Option<usize> {
    STEPS.iter().position(|(id, _)| *id == step).map(|i| i + 1)
}

/// Steps some units run besides [`STEPS`]: unit data, and the golden-unit check's own.
const OTHER_STEPS: [(&str, &str); 3] = [
    ("unit_data", "Writing the unit data"),
    ("golden_identity", "Checking it is the golden unit"),
    ("option_bytes_check", "Checking the option bytes"),
];

pub fn step_title(step: &str) -> String {
    STEPS
        .iter()
        .chain(&OTHER_STEPS)
        .find(|(id, _)| *id == step)
        .map_or_else(|| step.replace('_', " "), |(_, title)| (*title).to_string())
}

fn known_step(step: &str) -> bool {
    STEPS.iter().chain(&OTHER_STEPS).any(|(id, _)| *id == step)
}

pub fn phase_title(phase: &str) -> String {
    match phase {
        "erase" => "Erasing".into(),
        "program" => "Programming".into(),
        "verify" => "Verifying".into(),
        other => other.to_string(),
    }
}

/// Why a unit did not pass, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// What happened: "The application download over USB failed".
    pub what: String,
    /// What to do now: "check the USB cable, then retest".
    pub remedy: String,
    /// The engine's own words, for an engineer.
    pub detail: String,
}

impl Explanation {
    /// "What happened: what to do", the way the panel shows it.
    pub fn sentence(&self) -> String {
        format!("{}: {}", self.what, self.remedy)
    }
}

const RETEST_THEN_RMA: &str = "retest; if it fails again, set the unit aside for RMA";
const CALL_ENGINEER: &str = "call an engineer, then retest";

pub fn explain(outcome: Outcome, failure: Option<&str>) -> Explanation {
    let detail = failure.unwrap_or_default().to_string();
    let (step, message) = split_step(&detail);
    let (what, remedy) = match outcome {
        Outcome::Pass => ("Passed".to_string(), "none".to_string()),
        Outcome::Aborted => (
            "Stopped by the operator".to_string(),
            "retest the unit".to_string(),
        ),
        Outcome::Error => (
            format!("Station fault{}, not the unit's", while_step(step)),
            CALL_ENGINEER.to_string(),
        ),
        Outcome::Timeout => (
            format!("Timed out{}", while_step(step)),
            "check the cables and that the board is seated, then retest".to_string(),
        ),
        Outcome::Fail => unit_fault(step, message),
    };
    Explanation {
        what,
        remedy,
        detail,
    }
}

/// The engine writes failures as "step: message".
fn split_step(failure: &str) -> (Option<&str>, &str) {
    match failure.split_once(": ") {
        Some((step, rest)) if known_step(step) => (Some(step), rest),
        _ => (None, failure),
    }
}

fn while_step(step: Option<&str>) -> String {
    step.map(|s| format!(" while {}", step_title(s).to_lowercase()))
        .unwrap_or_default()
}

fn unit_fault(step: Option<&str>, message: &str) -> (String, String) {
    let text = message.to_lowercase();
    let (what, remedy) = match step.unwrap_or_default() {
        "attach" | "flash_bootloader" | "option_bytes" if text.contains("protected") => (
            "The chip is read-protected (locked) and cannot be programmed",
            "set the unit aside for RMA (inspect, recover, then retest it)",
        ),
        "traceability" if text.contains("routed to rework") => (
            "Routed to rework (failed too often)",
            "set it aside; a technician clears it in RMA (F4, F9)",
        ),
        "traceability" if text.contains("belongs to the chip") => (
            "This label belongs to another chip",
            "check the label on the unit, then scan it again",
        ),
        "golden_identity" => (
            "This is not the golden unit",
            "put the golden unit on the fixture, then F9 again",
        ),
        "attach" => (
            "The probe could not reach the chip",
            "check the board is seated and the SWD cable, then retest",
        ),
        "identify" => (
            "The chip is not the part this profile expects",
            "check the board type, then retest",
        ),
        "flash_bootloader" => ("Flashing the bootloader failed", RETEST_THEN_RMA),
        "option_bytes" => ("Setting the option bytes failed", RETEST_THEN_RMA),
        "dfu_download" if text.contains("did not enumerate") => (
            "The unit did not appear on USB in DFU mode",
            "check the USB cable, then retest",
        ),
        "dfu_download" => (
            "The application download over USB failed",
            "check the USB cable, then retest",
        ),
        "confirm_application" if text.contains("did not enumerate") => (
            "The application did not start",
            "check the USB cable, then retest",
        ),
        "confirm_application" => ("The application reports the wrong version", RETEST_THEN_RMA),
        _ => ("The unit failed", RETEST_THEN_RMA),
    };
    (what.to_string(), remedy.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dfu_enumeration_failure_names_the_cable() {
        let e = explain(
            Outcome::Fail,
            Some("dfu_download: USB device 1209:df00 did not enumerate within 5s"),
        );
        assert_eq!(
            e.sentence(),
            "The unit did not appear on USB in DFU mode: check the USB cable, then retest"
        );
    }

    #[test]
    fn a_station_error_is_not_the_units_fault() {
        let e = explain(Outcome::Error, Some("attach: probe not found"));
        assert_eq!(
            e.sentence(),
            "Station fault while attaching the probe, not the unit's: call an engineer, then retest"
        );
    }

    #[test]
    fn a_locked_chip_goes_to_rma() {
        let e = explain(
            Outcome::Fail,
            Some("flash_bootloader: target is protected: the flash algorithm failed"),
        );
        assert_eq!(
            e.sentence(),
            "The chip is read-protected (locked) and cannot be programmed: set the unit aside \
             for RMA (inspect, recover, then retest it)"
        );
    }

    #[test]
    fn a_unit_routed_to_rework_names_who_clears_it_and_where() {
        let e = explain(
            Outcome::Fail,
            Some(
                "traceability: routed to rework: this unit failed 3 times since its last \
                 clearance (the station allows 3); a technician clears it with `station rework \
                 clear UID-1 --by NAME`",
            ),
        );
        assert!(e.sentence().starts_with("Routed to rework"), "{e:?}");
        assert!(e.remedy.contains("F9"), "{e:?}");
        let e = explain(
            Outcome::Fail,
            Some("traceability: label SN-1 belongs to the chip with UID 12 (first provisioned"),
        );
        assert_eq!(
            e.sentence(),
            "This label belongs to another chip: check the label on the unit, then scan it again"
        );
    }

    #[test]
    fn unknown_text_keeps_the_engine_words_as_detail() {
        let e = explain(Outcome::Fail, Some("something odd"));
        assert_eq!(e.detail, "something odd");
        assert_eq!(e.what, "The unit failed");
    }
}
