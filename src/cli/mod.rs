//! The `station` command line: a thin layer that parses arguments, calls the library and
//! prints. Exit codes follow `crate::error::ExitStatus`.

mod benchmarks;
mod dfu;
mod engineering;
mod fixture;
mod held_unit;
mod line;
mod output;
mod progress;
mod records;
mod rma;
mod sim;
mod tui_bench;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};

use crate::config::{self, ConfigErrors};
use crate::error::{EXIT_CODE_TABLE, ExitStatus, StationError};
use crate::record::RecordStore;
use crate::station::{self, Event, RunOptions};

#[derive(Parser, Debug)]
#[command(name = "station", version, about = "Production test and provisioning station for STM32 boards", after_help = EXIT_CODE_TABLE)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate a station config and every profile and image it uses.
    Check {
        #[arg(long)]
        station: PathBuf,
    },
    /// Provision units.
    Run {
        #[arg(long)]
        station: PathBuf,
        /// Run without the TUI.
        #[arg(long)]
        headless: bool,
        /// How many units to provision, spread over the fixtures.
        #[arg(long, default_value_t = 1)]
        units: u64,
        /// Only this fixture (repeatable).
        #[arg(long = "fixture")]
        fixtures: Vec<String>,
        #[arg(long, value_parser = person_name)]
        operator: Option<String>,
        /// Write records here instead of the station's records directory.
        #[arg(long)]
        records: Option<PathBuf>,
        /// Simulated time: virtual (as fast as possible) or realtime[:SCALE].
        #[arg(long, default_value = "virtual")]
        time: crate::hw::TimeMode,
        /// Print one JSON event per line.
        #[arg(long)]
        json: bool,
        /// A unit's label (the last 8 hex digits of its UID), typed by a person to authorise
        /// RDP level 2 on it when the profile asks for it (repeatable).
        #[arg(long = "yes-i-typed", value_name = "LABEL")]
        typed_labels: Vec<String>,
        /// The scanned label of the next unit, as [FIXTURE=]LABEL (repeatable, in order):
        /// recorded, bound to the chip's UID, and the label a person types for it.
        #[arg(long = "label", value_name = "[FIXTURE=]LABEL")]
        labels: Vec<String>,
    },
    /// List a unit's records, newest first.
    History {
        /// A serial, label or UID.
        unit: String,
        #[arg(long, conflicts_with = "records")]
        station: Option<PathBuf>,
        #[arg(long)]
        records: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Images: generate the fixture images from their manifest.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Debug probes.
    Probe {
        #[command(subcommand)]
        command: ProbeCommand,
    },
    /// The DFU host.
    Dfu {
        #[command(subcommand)]
        command: dfu::DfuCommand,
    },
    /// Interrupted-update torture campaign: cut an update at every selected operation and
    /// mode, and check the unit always comes back. Exit 0 when the design never bricks, 1 when
    /// it does.
    Torture {
        #[command(flatten)]
        at: fixture::FixtureArgs,
        /// exhaustive, every:N or random:N[:seed] (default: the profile's).
        #[arg(long)]
        plan: Option<crate::station::torture::Plan>,
        /// Cut modes, comma-separated: host-abort, dfu-abort, usb-reset, power-before,
        /// power-inside, power-after (default: the profile's, else all).
        #[arg(long, value_delimiter = ',')]
        modes: Vec<crate::station::torture::CutMode>,
        /// How each cut point gets back to the pre-update state: snapshot (the virtual bench's
        /// copy of the unit; its default) or reflash (the bootloader and the from-image over
        /// SWD; the default, and the only way, on a real fixture).
        #[arg(long)]
        restore: Option<crate::station::torture::Restore>,
        #[arg(long, value_parser = person_name)]
        operator: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks on the virtual bench.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Reports from records.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// RMA: show a unit's identity, option bytes, bootloader, slots and what would boot.
    Inspect(rma::InspectArgs),
    /// RMA: save the whole flash and the option bytes over SWD (FILE and FILE.json).
    Dump(rma::DumpArgs),
    /// RMA: bring back a bricked, locked or half-updated unit over SWD (destructive: needs the
    /// unit's label). Exit 0 recovered, 1 not recoverable, 2 label missing or wrong, 3 station
    /// error.
    Recover(rma::RecoverArgs),
    /// Engineering: try to erase a sector the profile write-protects (the bootloader's) over
    /// SWD and check protection holds (destructive when it does not: needs the unit's label,
    /// and RDP level 0). Exit 0 held, 1 the sector was erased, 2 refused (nothing changed),
    /// 3 station error.
    WrpTest(engineering::WrpTestArgs),
    /// Check every record against the tamper-evidence chain and name what was edited,
    /// removed, added or reordered. Exit 0 clean, 1 tampering found, 2 usage, 3 key missing.
    VerifyLogs(records::VerifyArgs),
    /// Verify the chain and print its head (SEQ:MAC): keep it at the end of each shift and
    /// give it to `verify-logs --head` later.
    ChainHead(records::HeadArgs),
    /// First-pass and final yield, units per hour, top failure reasons, fixture cycles.
    Stats(records::StatsArgs),
    /// The records as CSV, JSON lines or JUnit XML, one per record.
    Export(records::ExportArgs),
    /// Check the station's golden unit on a fixture: production waits until it passes each
    /// shift (`[golden]` in the station file).
    Golden(line::GoldenArgs),
    /// Units routed to rework after repeated failures.
    Rework {
        #[command(subcommand)]
        command: line::ReworkCommand,
    },
    /// The virtual bench.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// The operator TUI (the default with no command).
    Tui {
        #[arg(long, default_value = "stations/virtual.toml")]
        station: PathBuf,
        #[arg(long, value_parser = person_name)]
        operator: Option<String>,
        /// Simulated time: realtime[:SCALE] (watchable) or virtual.
        #[arg(long, default_value = "realtime")]
        time: crate::hw::TimeMode,
    },
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// Write every image a manifest describes (fixtures/generate.toml).
    Generate {
        #[arg(long, default_value = "fixtures/generate.toml")]
        manifest: PathBuf,
        #[arg(long, default_value = "fixtures")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// DFU downloads in both polling modes against the physical and the spec's limits.
    Dfu {
        /// The station whose bench this is (the runs build their own simulated devices).
        #[arg(long, default_value = "stations/virtual.toml")]
        station: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The TUI: render time of a frame with 8 fixtures at 200x60 (goal 2 ms) and the event
    /// loop's CPU use while idle (goal under 1%).
    Tui {
        /// Frames rendered per view.
        #[arg(long, default_value_t = 2000)]
        frames: usize,
        /// Seconds of idle event loop to measure.
        #[arg(long, default_value_t = 5.0)]
        idle_seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// dfu-util against `station dfu download` (fast and strict) through the virtual USB
    /// bus, at real time, on an A/B bootloader and the ST ROM.
    Usb(sim::BenchUsbArgs),
    /// The exhaustive torture sweep of a 512 KiB update (goal 10 s, release build), and how
    /// its cost grows with the points and with the size.
    Torture(benchmarks::TortureArgs),
    /// The production engine on one simulated fixture, then on N in parallel (goal: within
    /// 1.10x of one).
    Fixtures(benchmarks::FixturesArgs),
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// A self-contained HTML page of a torture record: the cut-point map, the reproducer, the
    /// hashes.
    Torture {
        record_id: String,
        #[arg(long, conflicts_with = "records")]
        station: Option<PathBuf>,
        #[arg(long)]
        records: Option<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Return a simulated fixture to its initial state (a fresh blank unit).
    Reset {
        #[command(flatten)]
        at: fixture::FixtureArgs,
    },
    /// Serve the station's simulated fixtures on a virtual USB bus over a Unix socket, for
    /// libusb tools loaded with libusb-sim (README: "Real USB tools on the virtual bench").
    Serve(sim::ServeArgs),
    /// Cut a served fixture's power: now, or at a USB request or flash operation.
    Cut(sim::CutArgs),
    /// Switch a served fixture's power (optionally with the BOOT0 strap set first).
    Power(sim::PowerArgs),
    /// What each served fixture is doing: power, firmware, USB, counters, an armed cut.
    Status(sim::StatusArgs),
    /// Run the unit's flashed code on the emulated core from its boot address and say what it
    /// did (executed firmware, stage 1: the bench's power-on boot is still the model's).
    Boot(sim::BootArgs),
}

#[derive(Subcommand, Debug)]
enum ProbeCommand {
    /// Show attached debug probes.
    List,
}

pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                ExitStatus::Usage as u8
            } else {
                0
            });
        }
    };
    let command = cli.command.unwrap_or(Command::Tui {
        station: PathBuf::from("stations/virtual.toml"),
        operator: None,
        time: crate::hw::TimeMode::Realtime { scale: 1.0 },
    });
    match dispatch(command) {
        Ok(status) => std::process::ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("{}", e.message);
            std::process::ExitCode::from(e.status as u8)
        }
    }
}

fn load(path: &std::path::Path) -> Result<config::Station, StationError> {
    config::load_station(path).map_err(|e| StationError::usage(ConfigErrors(e).to_string()))
}

static ABORT: AtomicBool = AtomicBool::new(false);

/// Ctrl-C stops the run after the current step, so every unit closes its record as ABORTED;
/// a second Ctrl-C quits at once (records are written atomically either way).
fn install_abort_handler() {
    let _ = ctrlc::set_handler(|| {
        if ABORT.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(ExitStatus::Aborted as i32);
        }
        eprintln!("stopping after the current step (Ctrl-C again to quit now)");
    });
}

fn dispatch(command: Command) -> Result<ExitStatus, StationError> {
    match command {
        Command::Check { station } => {
            let s = load(&station)?;
            let report = crate::station::part_check::check(&s)
                .map_err(|e| StationError::usage(ConfigErrors(e).to_string()))?;
            println!(
                "{}: ok ({} fixtures, {} profiles, {} images)",
                station.display(),
                report.fixtures,
                report.profiles,
                report.images
            );
            Ok(ExitStatus::Pass)
        }
        Command::Run {
            station,
            headless,
            units,
            fixtures,
            operator,
            records,
            time,
            json,
            typed_labels,
            labels,
        } => {
            let options_fixtures = fixtures.clone();
            if !headless {
                return Err(StationError::usage(
                    "run is headless: pass --headless, or start the TUI with `station tui`",
                ));
            }
            let mut s = load(&station)?;
            s.time = time;
            if let Some(dir) = records {
                s.records_dir = dir;
            }
            let checked = crate::station::part_check::check(&s)
                .map_err(|e| StationError::usage(ConfigErrors(e).to_string()))?;
            let operator = line::operator_of(&s, operator)?;
            install_abort_handler();
            let options = RunOptions {
                units,
                operator,
                fixtures,
                abort: &ABORT,
                typed_labels,
                retest: false,
                labels: labels_by_fixture(&s, &options_fixtures, labels)?,
                golden: false,
            };
            let printer = output::Printer::new(json);
            let sink = |e: Event| printer.event(&e);
            let summary = station::run_checked(&s, &checked.loaded, &options, &sink)?;
            printer.summary(&summary);
            Ok(summary.exit_status())
        }
        Command::History {
            unit,
            station,
            records,
            json,
        } => {
            let dir = match (station, records) {
                (Some(s), None) => load(&s)?.records_dir,
                (None, Some(r)) => r,
                _ => return Err(StationError::usage("give --station S or --records DIR")),
            };
            let store =
                RecordStore::open(&dir).map_err(|e| StationError::station(e.to_string()))?;
            let history = store
                .history(&unit)
                .map_err(|e| StationError::station(e.to_string()))?;
            output::history(&unit, &history, json);
            Ok(ExitStatus::Pass)
        }
        Command::Image {
            command: ImageCommand::Generate { manifest, out },
        } => {
            let written = crate::image::generate::generate(&manifest, &out)
                .map_err(|e| StationError::usage(e.to_string()))?;
            for (path, sha) in written {
                println!("{sha}  {}", path.display());
            }
            Ok(ExitStatus::Pass)
        }
        Command::Dfu { command } => dfu::dispatch(command),
        Command::Bench {
            command: BenchCommand::Dfu { station, json },
        } => {
            load(&station)?;
            let runs = crate::dfu_bench::dfu_runs(std::time::Duration::ZERO);
            output::bench(&runs, json);
            let met = runs.iter().all(|r| r.ratio >= 0.98);
            Ok(if met {
                ExitStatus::Pass
            } else {
                ExitStatus::Fail
            })
        }
        Command::Bench {
            command:
                BenchCommand::Tui {
                    frames,
                    idle_seconds,
                    json,
                },
        } => tui_bench::run(frames, idle_seconds, json),
        Command::Bench {
            command: BenchCommand::Usb(args),
        } => sim::bench_usb(args),
        Command::Bench {
            command: BenchCommand::Torture(args),
        } => benchmarks::torture(args),
        Command::Bench {
            command: BenchCommand::Fixtures(args),
        } => benchmarks::fixtures(args),
        Command::Report {
            command:
                ReportCommand::Torture {
                    record_id,
                    station,
                    records,
                    output,
                },
        } => {
            let dir = match (station, records) {
                (Some(s), None) => load(&s)?.records_dir,
                (None, Some(r)) => r,
                _ => return Err(StationError::usage("give --station S or --records DIR")),
            };
            report_torture(&dir, &record_id, &output)
        }
        Command::Torture {
            at,
            plan,
            modes,
            restore,
            operator,
            json,
        } => {
            let station = at.load()?;
            let fixture = fixture::find_fixture(&station, &at.fixture)?;
            let operator = operator.unwrap_or_else(|| station.operator.default.clone());
            let options = crate::station::torture::campaign::TortureOptions {
                plan,
                modes,
                restore,
                operator,
                abort: None,
            };
            let printer = output::Printer::new(json);
            let sink = |e: Event| printer.event(&e);
            let result =
                crate::station::torture::campaign::run(&station, fixture, &options, &sink)?;
            output::torture(&result, json);
            Ok(match result.record.outcome {
                crate::record::Outcome::Pass => ExitStatus::Pass,
                _ => ExitStatus::Fail,
            })
        }
        Command::Sim { command } => match command {
            SimCommand::Reset { at } => fixture::sim_reset(&at),
            SimCommand::Serve(args) => sim::serve(args),
            SimCommand::Cut(args) => sim::cut(args),
            SimCommand::Power(args) => sim::power(args),
            SimCommand::Status(args) => sim::status(args),
            SimCommand::Boot(args) => sim::boot(args),
        },
        Command::VerifyLogs(args) => records::verify_logs(args),
        Command::ChainHead(args) => records::chain_head(args),
        Command::Stats(args) => records::stats(args),
        Command::Golden(args) => {
            install_abort_handler();
            line::golden(args, &ABORT)
        }
        Command::Rework { command } => line::rework(command),
        Command::Export(args) => records::export(args),
        Command::Inspect(args) => rma::inspect(args),
        Command::Dump(args) => rma::dump(args),
        Command::Recover(args) => {
            install_abort_handler();
            rma::recover(args, &ABORT)
        }
        Command::WrpTest(args) => {
            install_abort_handler();
            engineering::wrp_test(args, &ABORT)
        }
        Command::Tui {
            station,
            operator,
            time,
        } => {
            let mut s = load(&station)?;
            s.time = time;
            crate::station::part_check::check(&s)
                .map_err(|e| StationError::usage(ConfigErrors(e).to_string()))?;
            // A station that requires an operator and got none asks for the name in the TUI.
            install_abort_handler();
            crate::tui::run(
                s,
                crate::tui::TuiOptions {
                    operator,
                    abort: &ABORT,
                },
            )
        }
        Command::Probe {
            command: ProbeCommand::List,
        } => {
            let probes = crate::backend::probe_rs::list_probes();
            for line in crate::backend::probe_rs::describe_probes(&probes) {
                println!("{line}");
            }
            Ok(ExitStatus::Pass)
        }
    }
}

fn report_torture(
    dir: &std::path::Path,
    record_id: &str,
    output: &std::path::Path,
) -> Result<ExitStatus, StationError> {
    let store = RecordStore::open(dir).map_err(|e| StationError::station(e.to_string()))?;
    let all = store
        .all()
        .map_err(|e| StationError::station(e.to_string()))?;
    let (path, record) = all
        .records
        .iter()
        .find(|(_, r)| r.record_id == record_id)
        .ok_or_else(|| {
            StationError::usage(format!("no record {record_id} in {}", dir.display()))
        })?;
    let sweep = record
        .steps
        .iter()
        .find(|s| s.name == "sweep")
        .ok_or_else(|| {
            StationError::usage(format!("record {record_id} is not a torture record"))
        })?;
    let file = sweep
        .details
        .get("points_file")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let pinned = sweep
        .details
        .get("points_sha256")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let sidecar = path.with_file_name(file);
    let bytes = std::fs::read(&sidecar)
        .map_err(|e| StationError::station(format!("{}: {e}", sidecar.display())))?;
    if crate::image::sha256_hex(&bytes) != pinned {
        return Err(StationError::fail(format!(
            "{} does not match the hash its record pins: the results were altered",
            sidecar.display()
        )));
    }
    let points: Vec<crate::station::torture::PointResult> = serde_json::from_slice(&bytes)
        .map_err(|e| StationError::station(format!("{}: {e}", sidecar.display())))?;
    let html = crate::station::torture::report::torture_html(record, &points);
    std::fs::write(output, html)
        .map_err(|e| StationError::station(format!("{}: {e}", output.display())))?;
    println!("wrote {}", output.display());
    Ok(ExitStatus::Pass)
}

/// A person's name as records keep it (operator, technician): printable, not blank.
pub fn person_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        return Err(format!(
            "expected a name of printable characters, found {text:?}"
        ));
    }
    Ok(text.to_string())
}

/// `--label [FIXTURE=]LABEL` as (fixture, label); a bare label needs a run on one fixture.
/// Text before `=` names a fixture only when the station has one of that name: a label may
/// hold `=` itself.
fn labels_by_fixture(
    station: &config::Station,
    fixtures: &[String],
    labels: Vec<String>,
) -> Result<Vec<(String, String)>, StationError> {
    let only = match fixtures {
        [one] => Some(one.clone()),
        [] if station.fixtures.len() == 1 => Some(station.fixtures[0].id.clone()),
        _ => None,
    };
    labels
        .into_iter()
        .map(|text| {
            let named = text
                .split_once('=')
                .filter(|(f, _)| station.fixture(f).is_some());
            let (fixture, label) = match named {
                Some((f, l)) => (f.to_string(), l.to_string()),
                None => (
                    only.clone().ok_or_else(|| {
                        StationError::usage(format!(
                            "--label {text}: name its fixture (FIXTURE={text}) when the run uses \
                             more than one"
                        ))
                    })?,
                    text.clone(),
                ),
            };
            if label.trim().is_empty() || label.chars().any(|c| c.is_control()) {
                return Err(StationError::usage(format!(
                    "--label {text:?}: expected printable characters"
                )));
            }
            Ok((fixture, label))
        })
        .collect()
}
