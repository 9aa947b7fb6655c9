//! `sigil`: a thin command line over the compiler and the engine.
//!
//! Architecture invariant: no detection logic lives here. This crate parses arguments, reads
//! files, and prints; everything it decides about rules or events comes from the libraries.

mod batch_source;
mod batches;
mod check;
mod cluster;
mod coverage;
mod edge;
mod filters;
mod findings;
mod hunt;
mod hunt_rules;
mod hunt_wasm;
mod input;
mod lookup;
mod normalize;
mod output;
mod record_run;
mod report;
mod rule_cache;
mod rule_tests;
mod rules;
mod seal;
mod search;
mod serve;
mod stream;
mod verify;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sigil", version, about = "Sigma detection rules over cloud and host logs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run rules over events and print an alert for every match.
    Hunt(HuntArgs),
    /// Print the events one query matches (Sigma detection items, keywords, /regex/, and/or/not),
    /// or count them by a field: ad hoc questions over the inputs `hunt` reads.
    Search(SearchArgs),
    /// Compile rules and report every rejected rule with file, line and column.
    Check(CheckArgs),
    /// Compile rules into a pack that `hunt --pack` (or a Wasm host) loads without YAML.
    Compile(CompileArgs),
    /// Run each rule's unit tests (the `RULE.tests.yml` beside `RULE.yml`): `match` cases must
    /// raise an alert, `no_match` cases must not.
    Test(TestArgs),
    /// Which ATT&CK v19 tactics and techniques the rules cover (from their tags), as a table and
    /// optionally an ATT&CK Navigator layer.
    Coverage(CoverageArgs),
    /// Write alerts (`hunt --format jsonl`) as one self-contained HTML report: a zoomable
    /// timeline, rules, ATT&CK techniques and each alert's event, with no network request.
    Report(report::ReportArgs),
    /// Map events to a common schema (OCSF 1.8.0); events no mapping covers pass through unchanged.
    Normalize(NormalizeArgs),
    /// Filter a stream at the edge with a policy (keep, drop, sample, aggregate, tag), after
    /// every rule has seen every event: events to stdout, alerts apart, counts per action.
    Edge(edge::EdgeArgs),
    /// Make a key for `--seal` (32 random bytes as hex, in a new file readable by you only).
    Keygen(KeygenArgs),
    /// Check a file written with `--seal`: report every record modified, deleted, inserted or
    /// moved, and a cut tail (exit 1 if any).
    Verify(VerifyArgs),
    /// Evaluate events posted as JSON Lines over HTTP (`POST /events`) as `hunt` would.
    Serve(serve::ServeArgs),
    /// Publish events (read as `hunt` reads them) to a NATS JetStream stream, one message per event.
    Publish(cluster::PublishArgs),
    /// Evaluate the events stream as one of a group of workers; alerts go to the alerts stream.
    Worker(cluster::WorkerArgs),
    /// Print the alerts stream as JSON Lines.
    Alerts(cluster::AlertsArgs),
    /// NATS administration: `sigil nats init` creates the streams and buckets.
    Nats(cluster::NatsArgs),
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key (an existing file is never overwritten).
    #[arg(short = 'o', long = "output", value_name = "KEYFILE")]
    pub output: PathBuf,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The sealed file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key it was sealed with.
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// Print the findings as JSON Lines (line, expected, found, kind, message).
    #[arg(long)]
    pub json: bool,
    /// The longest line read, in bytes; a longer line is reported (as modified, with its
    /// length) without being held in memory, and the other records are still verified.
    #[arg(long, value_name = "BYTES", default_value_t = sigil_seal::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
}

#[derive(clap::Args)]
pub struct CoverageArgs {
    /// Rule files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also write an ATT&CK Navigator layer (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub navigator: Option<PathBuf>,
    #[command(flatten)]
    pub rule_args: RuleArgs,
}

#[derive(clap::Args)]
pub struct TestArgs {
    /// Rule files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub rule_args: RuleArgs,
}

#[derive(clap::Args)]
pub struct CompileArgs {
    /// Rule files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where to write the pack.
    #[arg(short = 'o', long = "output", value_name = "PACK")]
    pub output: PathBuf,
    #[command(flatten)]
    pub rule_args: RuleArgs,
}

#[derive(clap::Args)]
pub struct RuleArgs {
    /// Placeholder values for rules using `|expand`: NAME=VALUE[,VALUE...] (repeatable).
    #[arg(long = "placeholder", value_name = "NAME=VALUES")]
    pub placeholders: Vec<String>,
    /// A YAML file mapping placeholder names to values (repeatable).
    #[arg(long = "placeholder-file", value_name = "FILE")]
    pub placeholder_files: Vec<PathBuf>,
    /// A processing pipeline in pySigma's format, applied to the rules when they compile: a
    /// built-in (ecs, ocsf, windows) or a YAML file (repeatable; ascending `priority`, ties in
    /// the order given).
    #[arg(long = "pipeline", value_name = "NAME|FILE")]
    pub pipelines: Vec<String>,
}

/// The rules `hunt`, `edge` and `serve` run: rule files, a compiled pack, or the embedded pack.
#[derive(clap::Args)]
pub struct RuleSource {
    /// Rule files or directories (searched recursively for *.yml, *.yaml). Repeatable.
    /// Without it, Sigil's embedded rule pack is used.
    #[arg(long = "rules", short = 'r', value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// A compiled pack (from `sigil compile`) instead of rule files.
    #[arg(long, value_name = "PACK", conflicts_with = "rules")]
    pub pack: Option<PathBuf>,
    #[command(flatten)]
    pub rule_args: RuleArgs,
    /// Compile the rules without the compiled-rule cache: neither read nor write it (it lives
    /// in `$SIGIL_CACHE_DIR`, else `$XDG_CACHE_HOME/sigil`, else `~/.cache/sigil`).
    #[arg(long)]
    pub no_cache: bool,
}

/// Where the rules run (`hunt`, `edge`), and the limits of the Wasm engine.
#[derive(clap::Args)]
pub struct EngineArgs {
    /// Where the rules run: `native`, or `wasm` (the engine compiled to WebAssembly, in a
    /// wasmtime host with a deadline and a memory cap per batch; same output).
    #[arg(long, value_enum, default_value = "native")]
    pub runtime: Runtime,
    /// The engine component for `--runtime wasm` (default: `SIGIL_WASM_COMPONENT`, else
    /// `wasm/sigil_engine.component.wasm` beside the binary's folder, as scripts/build-wasm.sh
    /// writes it).
    #[arg(long, value_name = "FILE")]
    pub wasm_component: Option<PathBuf>,
    /// `--runtime wasm`: the memory cap of the engine, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    pub wasm_memory_mb: usize,
    /// `--runtime wasm`: how long one batch of events may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub wasm_deadline_ms: u64,
}

#[derive(clap::Args)]
pub struct HuntArgs {
    #[command(flatten)]
    pub source: RuleSource,
    /// Carry correlation windows across runs: read from FILE at the start (when it exists)
    /// and written back at the end, so a hunt split over several inputs alerts as one would.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub rule_filters: filters::RuleFilterArgs,
    #[command(flatten)]
    pub window: filters::TimeWindowArgs,
    #[command(flatten)]
    pub findings: findings::FindingsArgs,
    /// Cap on open correlation groups; past it the stalest groups are evicted (and counted).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_groups: usize,
    /// Cap on the distinct values a value_count correlation group tells apart in its window;
    /// past it new values are not counted (the count is at least N) and the group is reported.
    #[arg(long, value_name = "N", default_value_t = sigil_engine::correlate::DEFAULT_MAX_DISTINCT_VALUES)]
    pub max_distinct_values: usize,
    /// Watch the rules' `silence:` rules (off by default): a watched source that sends nothing
    /// for a rule's timespan of event time raises one alert, as with `sigil edge --silence`.
    /// --max-groups also caps the watched sources; --state does not carry them across runs.
    #[arg(long)]
    pub silence: bool,
    /// Worker threads (default: every core). The output order does not depend on it.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// The log source of the inputs: `auto` (the default) recognises it per event (Windows
    /// channels and event ids, CloudTrail) and runs every rule on events it does not recognise;
    /// `all` runs every rule on every event; `product=aws,service=cloudtrail` declares it, and
    /// rules whose logsource disagrees are skipped.
    #[arg(long, value_name = "auto|all|KEY=VALUE,...")]
    pub logsource: Option<String>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<HuntFormat>,
    /// The event field holding the event time (default: the first of @timestamp, timestamp,
    /// time, eventTime, the EVTX SystemTime, UtcTime, published).
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// Join a CSV table onto events before rules run: the header's first column is the event
    /// field to join on, the others become fields NAME.COLUMN for rules and alerts (repeatable).
    #[arg(long = "lookup", value_name = "NAME=FILE.csv")]
    pub lookups: Vec<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub limits: input::Limits,
    /// Seal the alerts (JSON Lines only) with the key in KEYFILE: a hash chain that `sigil
    /// verify` checks (see `sigil keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub seal: Option<PathBuf>,
    /// With --seal: alert records between two checkpoints.
    #[arg(long, value_name = "N", default_value_t = seal::DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: u64,
    /// Also write the alerts as a self-contained HTML report to FILE (as `sigil report` does,
    /// with its default --max-alerts); the alerts still go to standard output as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Event files: JSON Lines, a JSON array, a CloudTrail {"Records": [...]} file, or .gz of
    /// any of these. `-` or nothing reads standard input.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<String>,
}

#[derive(clap::Args)]
pub struct SearchArgs {
    /// The query: `field|modifiers=value,value` (Sigma detection items), keywords (bare words
    /// or "quoted strings"), /regex/ (flags i, m, s), combined with and, or, not and
    /// parentheses; side by side means and. Compiled as a one-rule Sigma detection.
    #[arg(value_name = "QUERY")]
    pub query: String,
    #[command(flatten)]
    pub rule_args: RuleArgs,
    /// The log source of the inputs, as for `hunt`. A declared logsource is also the query
    /// rule's own, so pipelines that apply to that source apply to the query.
    #[arg(long, value_name = "auto|all|KEY=VALUE,...")]
    pub logsource: Option<String>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<SearchFormat>,
    /// Count the matching events by the value of FIELD (a Sigma field name, dotted for nested
    /// fields) instead of printing them: most frequent first; events without it count as (none).
    #[arg(long, value_name = "FIELD")]
    pub count_by: Option<String>,
    /// With --count-by: the most distinct values counted; later new values count as (other).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_values: usize,
    /// The event field holding the event time (default as for `hunt`).
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// `--from`/`--to`: only events in this event-time window, as for `hunt`.
    #[command(flatten)]
    pub window: filters::TimeWindowArgs,
    /// Join a CSV table onto events before the query runs, as for `hunt` (repeatable).
    #[arg(long = "lookup", value_name = "NAME=FILE.csv")]
    pub lookups: Vec<String>,
    /// Worker threads (default: every core). The output order does not depend on it.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: input::Limits,
    /// Event files, read as `hunt` reads them. `-` or nothing reads standard input.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchFormat {
    /// One JSON object per matching event: {"source":{"file","line"},"time","event"}.
    Jsonl,
    Table,
    /// RFC 4180 CSV with a header (file,line,time,event).
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    Native,
    Wasm,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HuntFormat {
    Jsonl,
    Table,
    /// One OCSF 1.8.0 Detection Finding (class 2004) per line.
    Ocsf,
    /// A timeline: one CSV row per alert, sorted by event time (RFC 4180, UTF-8, a header).
    Csv,
}

#[derive(clap::Args)]
pub struct NormalizeArgs {
    /// The schema to map events to.
    #[arg(long = "to", value_enum)]
    pub to: NormalizeTarget,
    #[command(flatten)]
    pub limits: input::Limits,
    /// Event files, read as `hunt` reads them. `-` or nothing reads standard input.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormalizeTarget {
    /// OCSF 1.8.0: CloudTrail, Okta System Log and Windows (4624, 4625, 4688, Sysmon 1) events.
    Ocsf,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Rule files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    #[command(flatten)]
    pub rule_args: RuleArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(args) => hunt::run(args),
        Command::Search(args) => search::run(args),
        Command::Check(args) => check::run(args),
        Command::Compile(args) => check::compile(args),
        Command::Test(args) => rule_tests::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Report(args) => report::run(args),
        Command::Normalize(args) => normalize::run(args),
        Command::Edge(args) => edge::run(args),
        Command::Keygen(args) => seal::keygen(&args.output),
        Command::Verify(args) => verify::run(&args),
        Command::Serve(args) => serve::run(args),
        Command::Publish(args) => cluster::publish(args),
        Command::Worker(args) => cluster::worker(args),
        Command::Alerts(args) => cluster::alerts(args),
        Command::Nats(args) => cluster::nats(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sigil: {message}");
            ExitCode::from(2)
        }
    }
}
