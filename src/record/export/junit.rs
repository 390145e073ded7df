//! JUnit XML: a test suite per record kind, a test case per record.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{kind_name, time, uid};
use crate::record::{Outcome, Record};

pub fn write(records: &[&Record], out: &mut dyn Write) -> io::Result<()> {
    let mut suites: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for record in records {
        suites
            .entry(kind_name(record.kind))
            .or_default()
            .push(record);
    }
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    let all: Vec<&Record> = records.to_vec();
    writeln!(out, "<testsuites name=\"station\"{}>", counts(&all))?;
    for (kind, cases) in &suites {
        let stamp = cases
            .first()
            .map(|r| time(r.started_at))
            .unwrap_or_default();
        writeln!(
            out,
            "  <testsuite name=\"{kind}\" timestamp=\"{stamp}\"{}>",
            counts(cases)
        )?;
        for record in cases {
            case(record, out)?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn counts(records: &[&Record]) -> String {
    let n = |outcomes: &[Outcome]| {
        records
            .iter()
            .filter(|r| outcomes.contains(&r.outcome))
            .count()
    };
    let seconds: f64 = records.iter().map(|r| seconds(r)).sum();
    format!(
        " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\"",
        records.len(),
        n(&[Outcome::Fail]),
        n(&[Outcome::Error, Outcome::Timeout]),
        n(&[Outcome::Aborted]),
    )
}

fn seconds(record: &Record) -> f64 {
    (record.ended_at - record.started_at).num_milliseconds() as f64 / 1000.0
}

fn case(record: &Record, out: &mut dyn Write) -> io::Result<()> {
    let name = escape(&format!("{} {}", record.serial, record.record_id));
    let class = escape(&format!("{}.{}", record.station, record.fixture));
    let time = seconds(record);
    writeln!(
        out,
        "    <testcase name=\"{name}\" classname=\"{class}\" time=\"{time:.3}\">"
    )?;
    writeln!(out, "      <properties>")?;
    let properties = [
        ("record_id", record.record_id.as_str()),
        ("serial", &record.serial),
        ("uid", uid(record)),
        ("operator", &record.operator),
        ("profile", &record.profile.name),
        ("profile_sha256", &record.profile.sha256),
        ("outcome", &record.outcome.to_string()),
    ];
    for (key, value) in properties {
        writeln!(
            out,
            "        <property name=\"{key}\" value=\"{}\"/>",
            escape(value)
        )?;
    }
    writeln!(out, "      </properties>")?;
    let failure = record.failure.as_deref().unwrap_or("");
    let step = record.steps.iter().find(|s| s.outcome != Outcome::Pass);
    let step = step.map_or("-", |s| s.name.as_str());
    let tag = match record.outcome {
        Outcome::Pass => None,
        Outcome::Fail => Some("failure"),
        Outcome::Error | Outcome::Timeout => Some("error"),
        Outcome::Aborted => Some("skipped"),
    };
    if let Some(tag) = tag {
        let (message, step) = (escape(failure), escape(step));
        writeln!(
            out,
            "      <{tag} message=\"{message}\" type=\"{step}\">{message}</{tag}>"
        )?;
    }
    writeln!(out, "    </testcase>")
}

/// Text safe in XML 1.0 content and in quoted attributes: markup characters as entities,
/// tab and line breaks as character references (so attributes keep them), and characters
/// XML 1.0 cannot hold at all as U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
