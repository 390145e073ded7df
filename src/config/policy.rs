//! The profile's step policies (`[steps.NAME]`) and limits (`[limits]`), checked before any
//! unit is touched: a name that matches no step, or a limit no measurement can meet, would
//! otherwise be ignored or fail every unit.

use std::collections::BTreeMap;

use toml::Spanned;

use super::profile::{Limit, STEPS, StepPolicy};
use super::{ConfigError, SourceFile};

/// Whether `name` is one of the engine's steps or a console test's (`console_<test>`).
fn known_step(name: &str, console_tests: &[&str]) -> bool {
    STEPS.iter().any(|(s, _)| *s == name)
        || name
            .strip_prefix("console_")
            .is_some_and(|test| console_tests.contains(&test))
}

fn step_names() -> String {
    let names: Vec<&str> = STEPS.iter().map(|(s, _)| *s).collect();
    names.join(", ")
}

pub fn check_steps(
    source: &SourceFile,
    steps: &BTreeMap<Spanned<String>, StepPolicy>,
    console_tests: &[&str],
    errors: &mut Vec<ConfigError>,
) {
    for (name, policy) in steps {
        let key = |k: &str| format!("steps.{}{k}", name.get_ref());
        if !known_step(name.get_ref(), console_tests) {
            errors.push(source.error_at(
                name.span(),
                &key(""),
                format!(
                    "expected a step name ({}, or console_<test name>), found {:?}",
                    step_names(),
                    name.get_ref()
                ),
            ));
        }
        if let Some(t) = policy.timeout_s
            && !(t > 0.0 && t.is_finite())
        {
            errors.push(source.error_at(
                name.span(),
                &key(".timeout_s"),
                format!("expected a positive number of seconds, found {t}"),
            ));
        }
        if policy.retries > 10 {
            errors.push(source.error_at(
                name.span(),
                &key(".retries"),
                format!("expected at most 10 retries, found {}", policy.retries),
            ));
        }
    }
}

/// Limits apply to a step's duration, `<step>_s`: a finite number each side, low <= high.
pub fn check_limits(
    source: &SourceFile,
    limits: &BTreeMap<Spanned<String>, Limit>,
    console_tests: &[&str],
    errors: &mut Vec<ConfigError>,
) {
    for (name, limit) in limits {
        let key = |k: &str| format!("limits.{}{k}", name.get_ref());
        let step = name.get_ref().strip_suffix("_s");
        if !step.is_some_and(|s| known_step(s, console_tests)) {
            errors.push(source.error_at(
                name.span(),
                &key(""),
                format!(
                    "expected a step's duration, <step>_s (steps: {}, or console_<test name>), \
                     found {:?}",
                    step_names(),
                    name.get_ref()
                ),
            ));
        }
        for (side, value) in [("low", limit.low), ("high", limit.high)] {
            if let Some(v) = value
                && !v.is_finite()
            {
                errors.push(source.error_at(
                    name.span(),
                    &key(&format!(".{side}")),
                    format!("expected a finite number, found {v}"),
                ));
            }
        }
        if let (Some(low), Some(high)) = (limit.low, limit.high)
            && low > high
        {
            errors.push(source.error_at(
                name.span(),
                &key(""),
                format!("expected low <= high, found low = {low} above high = {high}: no unit could pass"),
            ));
        }
    }
}
