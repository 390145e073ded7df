//! Commands over a records directory: `verify-logs`, `chain-head`, `stats` and `export`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Args;

use crate::error::{ExitStatus, StationError};
use crate::record::chain::{ChainHead, Verification};
use crate::record::export::{self, Format};
use crate::record::stats::Stats;
use crate::record::{History, RecordError, RecordStore};

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Where {
    /// A station config: its records directory and station id.
    #[arg(long)]
    station: Option<PathBuf>,
    /// A records directory.
    #[arg(long)]
    records: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    at: Where,
    /// The last exported head (SEQ:MAC, from `station chain-head`): catches a deleted tail.
    #[arg(long)]
    head: Option<ChainHead>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct HeadArgs {
    #[command(flatten)]
    at: Where,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    at: Where,
    /// Only records started on or after this UTC date (YYYY-MM-DD) or RFC 3339 time.
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    at: Where,
    /// csv, jsonl or junit.
    #[arg(long)]
    format: Format,
    /// Only records started on or after this UTC date (YYYY-MM-DD) or RFC 3339 time.
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

impl Where {
    /// The store, and the station id when a config names it.
    fn open(&self) -> Result<(RecordStore, Option<String>), StationError> {
        let (dir, id) = match (&self.station, &self.records) {
            (Some(path), None) => {
                let station = super::load(path)?;
                (station.records_dir, Some(station.id))
            }
            (None, Some(dir)) => (dir.clone(), None),
            _ => return Err(StationError::usage("give --station S or --records DIR")),
        };
        if !dir.is_dir() {
            let message = format!("{}: no such records directory", dir.display());
            return Err(StationError::usage(message));
        }
        Ok((RecordStore::open(&dir).map_err(record_error)?, id))
    }
}

/// A missing key or an unreadable file stops the check (3); a misplaced key is a usage error.
fn record_error(err: RecordError) -> StationError {
    match err {
        RecordError::Invalid { .. } => StationError::usage(err.to_string()),
        _ => StationError::station(err.to_string()),
    }
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| format!("{text:?} is not a UTC date (YYYY-MM-DD) or an RFC 3339 time"))
}

pub fn verify_logs(args: VerifyArgs) -> Result<ExitStatus, StationError> {
    let (store, station) = args.at.open()?;
    let verification = store
        .verify_chain(station.as_deref(), args.head.as_ref())
        .map_err(record_error)?;
    if args.json {
        let text = serde_json::to_string_pretty(&verification).unwrap_or_default();
        println!("{text}");
    } else {
        print_verification(store.dir(), &verification);
    }
    Ok(if verification.problems.is_empty() {
        ExitStatus::Pass
    } else {
        ExitStatus::Fail
    })
}

fn print_verification(dir: &Path, v: &Verification) {
    for problem in &v.problems {
        println!("TAMPERED  {problem}");
    }
    for notice in &v.notices {
        println!("notice    {notice}");
    }
    let head = v.head.as_ref().map_or("none".into(), ChainHead::to_string);
    let verdict = match v.problems.len() {
        0 => "clean".to_string(),
        n => format!("{n} problem(s)"),
    };
    println!(
        "{}: {} records, {} chain lines, head {head}: {verdict}",
        dir.display(),
        v.records,
        v.entries
    );
}

pub fn chain_head(args: HeadArgs) -> Result<ExitStatus, StationError> {
    let (store, station) = args.at.open()?;
    let verification = store
        .verify_chain(station.as_deref(), None)
        .map_err(record_error)?;
    if !verification.problems.is_empty() {
        for problem in &verification.problems {
            eprintln!("TAMPERED  {problem}");
        }
        let message = format!(
            "{}: the chain does not verify, so no head is exported",
            store.dir().display()
        );
        return Err(StationError::fail(message));
    }
    let head = verification.head.ok_or_else(|| {
        let dir = store.dir().display();
        StationError::usage(format!(
            "{dir}: no chain yet (it starts with the first record)"
        ))
    })?;
    println!("{head}");
    Ok(ExitStatus::Pass)
}

pub fn stats(args: StatsArgs) -> Result<ExitStatus, StationError> {
    let (store, _) = args.at.open()?;
    let (stats, history) = store.stats(args.since).map_err(record_error)?;
    warn_unreadable(&history);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&stats).unwrap_or_default()
        );
    } else {
        print_stats(store.dir(), &stats);
    }
    Ok(ExitStatus::Pass)
}

fn warn_unreadable(history: &History) {
    for (path, why) in &history.problems {
        eprintln!("warning: skipped {}: {why}", path.display());
    }
}

fn print_stats(dir: &Path, s: &Stats) {
    let since = s
        .since
        .map_or(String::new(), |t| format!(" since {}", export::time(t)));
    let percent = |y: Option<f64>, n: usize| match y {
        Some(y) => format!("{:.1} % ({n} of {})", 100.0 * y, s.units),
        None => "-".into(),
    };
    println!("{}{since}", dir.display());
    println!(
        "  records            {} ({} production)",
        s.records, s.production_records
    );
    println!("  units tested       {}", s.units);
    println!(
        "  first-pass yield   {}",
        percent(s.first_pass_yield, s.first_pass)
    );
    println!(
        "  final yield        {}",
        percent(s.final_yield, s.final_pass)
    );
    println!(
        "  station errors     {} (aborted {})",
        s.station_errors, s.aborted
    );
    if let (Some(first), Some(last)) = (s.first_started, s.last_ended) {
        println!(
            "  span               {} .. {}",
            export::time(first),
            export::time(last)
        );
    }
    let uph = s.units_per_hour.map_or("-".into(), |u| format!("{u:.1}"));
    println!("  units per hour     {uph}");
    println!("  top failure reasons");
    for reason in &s.failure_reasons {
        println!(
            "    {:>5}  {}: {}",
            reason.count, reason.step, reason.reason
        );
    }
    println!("  fixtures           cycles   pass   fail  other  lifetime units");
    for f in &s.fixtures {
        let (c, p, x, o, l) = (f.cycles, f.passed, f.failed, f.other, f.lifetime_units);
        println!("    {:<16} {c:>6} {p:>6} {x:>6} {o:>6} {l:>15}", f.fixture);
    }
    let head = s
        .chain_head
        .as_ref()
        .map_or("none".into(), ChainHead::to_string);
    println!("  chain head         {head} (as read; verify-logs checks it)");
}

pub fn export(args: ExportArgs) -> Result<ExitStatus, StationError> {
    let (store, _) = args.at.open()?;
    let history = store.all_since(args.since).map_err(record_error)?;
    warn_unreadable(&history);
    let records: Vec<_> = history.records.iter().map(|(_, r)| r).collect();
    let written = match &args.output {
        Some(path) => File::create(path).and_then(|file| {
            let mut out = BufWriter::new(file);
            export::write(&records, args.format, &mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        }),
        None => {
            let mut out = std::io::stdout().lock();
            export::write(&records, args.format, &mut out).and_then(|()| out.flush())
        }
    };
    let target = args
        .output
        .as_ref()
        .map_or("standard output".into(), |p| p.display().to_string());
    written.map_err(|e| StationError::station(format!("{target}: {e}")))?;
    if args.output.is_some() {
        eprintln!(
            "wrote {} records as {} to {target}",
            records.len(),
            args.format
        );
    }
    Ok(ExitStatus::Pass)
}
