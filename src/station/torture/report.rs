//! `station report torture`: a self-contained HTML page of a torture record, with an SVG map
//! of every cut point (operation index against mode, by outcome), the reproducer and the
//! hashes that pin what was tested.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{CutMode, PointResult};
use crate::chip::BootOutcome;
use crate::record::Record;

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Colour, a letter and words: status is never shown by colour alone. The TUI's map uses the
/// same letters and words.
pub fn outcome_key(o: BootOutcome) -> (&'static str, &'static str, &'static str) {
    match o {
        BootOutcome::OldImage => ("#8fb8de", "O", "old image"),
        BootOutcome::NewImage => ("#7cc47c", "N", "new image"),
        BootOutcome::InBootloader => ("#f3d36b", "B", "waiting in bootloader"),
        BootOutcome::NeedsBoot0 => ("#f0a35e", "S", "needs BOOT0 strap"),
        BootOutcome::CorruptApp => ("#c77dd1", "C", "corrupt application"),
        BootOutcome::Bricked => ("#d9534f", "X", "bricked"),
    }
}

const CELL: usize = 14;
const LEFT: usize = 110;
const TOP: usize = 24;

fn svg(points: &[PointResult]) -> String {
    let modes: Vec<CutMode> = CutMode::ALL
        .into_iter()
        .filter(|m| points.iter().any(|p| p.point.mode == *m))
        .collect();
    let columns = points.iter().map(|p| p.point.index + 1).max().unwrap_or(1) as usize;
    let (w, h) = (LEFT + columns * CELL + 10, TOP + modes.len() * CELL + 30);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="monospace" font-size="10">"#
    );
    for (row, mode) in modes.iter().enumerate() {
        let y = TOP + row * CELL;
        let _ = write!(s, r#"<text x="2" y="{}">{}</text>"#, y + 10, mode);
    }
    for step in (0..columns).step_by(10) {
        let _ = write!(
            s,
            r#"<text x="{}" y="14">{step}</text>"#,
            LEFT + step * CELL
        );
    }
    for p in points {
        let Some(row) = modes.iter().position(|m| *m == p.point.mode) else {
            continue;
        };
        let (x, y) = (LEFT + p.point.index as usize * CELL, TOP + row * CELL);
        let (colour, letter, words) = outcome_key(p.outcome);
        let stroke = if p.bricks() {
            r#" stroke="black" stroke-width="2""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<g><title>{} at {}: {} — {}{}</title><rect x="{x}" y="{y}" width="{}" height="{}" fill="{colour}"{stroke}/><text x="{}" y="{}">{letter}</text></g>"#,
            p.point.mode,
            p.point.index,
            escape(&p.operation),
            words,
            if p.recovered {
                ""
            } else {
                "; not recovered by an update"
            },
            CELL - 1,
            CELL - 1,
            x + 3,
            y + 10
        );
    }
    let _ = write!(
        s,
        r#"<text x="2" y="{}">operation index →</text></svg>"#,
        h - 6
    );
    s
}

pub fn torture_html(record: &Record, points: &[PointResult]) -> String {
    let mut counts: BTreeMap<BootOutcome, usize> = BTreeMap::new();
    for p in points {
        *counts.entry(p.outcome).or_default() += 1;
    }
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Torture report</title>",
    );
    html.push_str("<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}.fail{color:#b00}.pass{color:#070}</style></head><body>");
    let verdict = if record.outcome == crate::record::Outcome::Pass {
        "pass"
    } else {
        "fail"
    };
    let _ = write!(
        html,
        "<h1>Torture campaign: <span class=\"{verdict}\">{}</span></h1><p>Profile <b>{}</b> rev {} on fixture {} of station {}, {} → {}.</p>",
        record.outcome,
        escape(&record.profile.name),
        escape(&record.profile.revision),
        escape(&record.fixture),
        escape(&record.station),
        record.started_at.to_rfc3339(),
        record.ended_at.to_rfc3339()
    );
    if let Some(f) = &record.failure {
        let _ = write!(
            html,
            "<p class=\"fail\"><b>Reproducer.</b> {}</p>",
            escape(f)
        );
    }
    html.push_str("<h2>Cut points</h2>");
    html.push_str(&svg(points));
    html.push_str("<table><tr><th>outcome</th><th>letter</th><th>points</th></tr>");
    for (o, n) in &counts {
        let (colour, letter, words) = outcome_key(*o);
        let _ = write!(
            html,
            "<tr><td><span style=\"background:{colour}\">&nbsp;&nbsp;</span> {words}</td><td>{letter}</td><td>{n}</td></tr>"
        );
    }
    html.push_str("</table><p>A black outline marks a point the unit cannot come back from without SWD.</p><h2>What was tested</h2><table>");
    let _ = write!(
        html,
        "<tr><td>profile sha256</td><td><code>{}</code></td></tr>",
        escape(&record.profile.sha256)
    );
    for i in &record.images {
        let _ = write!(
            html,
            "<tr><td>{} ({})</td><td><code>{}</code></td></tr>",
            escape(&i.name),
            escape(&i.role),
            escape(&i.sha256)
        );
    }
    let _ = writeln!(
        html,
        "<tr><td>record</td><td><code>{}</code></td></tr></table></body></html>",
        escape(&record.record_id)
    );
    html
}
