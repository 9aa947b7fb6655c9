//! `sigil edge --policy POLICY.yml [EVENTS...]`: a streaming filter at the edge. Events come in
//! (files or standard input, read as `hunt` reads them), the rules see every one of them
//! (alerts go to `--alerts FILE`, else standard error), and a policy decides what goes on to
//! standard output: kept, dropped, sampled, aggregated into summaries, or tagged with the rules
//! that matched. The counts per action are printed at the end, on SIGUSR1 and with
//! `--stats-every N`. `docs/edge-policy.md` is the policy format.
//!
//! This module reads inputs into batches of JSON Lines and writes what comes back; a
//! [`runner`] runs the batches (the engine natively, or the engine component in wasmtime: the
//! same bytes either way), [`sinks`] writes them (zstd, sealing) and [`stats`] prints counts.
//! What happens to an event is decided in `sigil_engine::edge`, never here.

mod runner;
mod sinks;
mod stats;

use crate::batches::{self, Step};
use crate::{hunt, hunt_wasm, seal, EngineArgs, RuleSource, Runtime};
use runner::{Batch, Runner};
use sigil_engine::edge::{Action, Counts, Policy};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct EdgeArgs {
    /// The policy (YAML; see docs/edge-policy.md).
    #[arg(long, value_name = "POLICY.yml")]
    pub policy: PathBuf,
    #[command(flatten)]
    pub source: RuleSource,
    #[command(flatten)]
    pub limits: crate::input::Limits,
    /// The log source of the inputs, as for `hunt`: `auto` (recognised per event), `all`, or
    /// `product=..,category=..,service=..`. Policy entries select by the same source.
    #[arg(long, value_name = "auto|all|KEY=VALUE,...")]
    pub logsource: Option<String>,
    /// The event field holding the event time (default: the policy's `timestamp-field`, else
    /// the fields `hunt` tries).
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// Write the alerts (JSON Lines, as `hunt --format jsonl` prints them) to FILE instead of
    /// standard error.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Compress the forwarded stream.
    #[arg(long, value_enum, value_name = "zstd")]
    pub compress: Option<Compress>,
    /// Seal the forwarded lines and the alerts (two chains, one key; see `sigil keygen` and
    /// `sigil verify`).
    #[arg(long, value_name = "KEYFILE")]
    pub seal: Option<PathBuf>,
    /// With --seal: records between two checkpoints.
    #[arg(long, value_name = "N", default_value_t = seal::DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: u64,
    /// Also print the counts each time the stream passes a multiple of N events (they are
    /// printed at the end, and on SIGUSR1).
    #[arg(long, value_name = "N")]
    pub stats_every: Option<u64>,
    /// Write the final counts as a JSON object to FILE.
    #[arg(long, value_name = "FILE")]
    pub counts: Option<PathBuf>,
    /// Watch the rules' `silence:` rules (off unless this or the policy's `silence: true`).
    #[arg(long)]
    pub silence: bool,
    /// Print the policy's compiled form (the JSON the Wasm engine's `edge-batch` takes) and stop.
    #[arg(long)]
    pub print_policy: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Event files: JSON Lines, a JSON array, a CloudTrail {"Records": [...]} file, EVTX, or .gz
    /// of any of these. `-` or nothing reads standard input.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compress {
    Zstd,
}

pub fn run(args: EdgeArgs) -> Result<ExitCode, String> {
    let policy = read_policy(&args)?;
    if args.print_policy {
        println!("{}", serde_json::to_string(&policy).map_err(|e| format!("cannot write the policy: {e}"))?);
        return Ok(ExitCode::SUCCESS);
    }
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let plan = hunt::load_rules(&args.source)?;
    report_policy(&policy, &plan);
    let mut runner: Box<dyn Runner> = match args.engine.runtime {
        Runtime::Native => Box::new(runner::Native::new(plan, policy, routing)?),
        Runtime::Wasm => {
            let host = hunt_wasm::start_host(&args.engine)?;
            Box::new(runner::Wasm::new(host, &plan, &policy, args.logsource.as_deref().unwrap_or("auto"))?)
        }
    };
    let seal = args.seal.as_deref().map(|p| (p, args.checkpoint_every));
    let mut sinks = sinks::Sinks::open(args.compress.is_some(), args.alerts.as_deref(), seal)?;
    let mut live = stats::Live::start(args.stats_every)?;
    let mut stream = Stream {
        runner: runner.as_mut(),
        sinks: &mut sinks,
        live: &mut live,
        own: Counts::default(),
        engine: Counts::default(),
        unreadable: 0,
    };

    let inputs = crate::input::or_stdin(&args.events);
    stream.unreadable += batches::read_inputs(&inputs, &args.limits, &mut |path, step| match step {
        Step::Batch(batch) => stream.evaluate(path, batch),
        Step::Rejected { position, reason } => {
            stream.own.events += 1;
            stream.own.rejected += 1;
            eprintln!("sigil: {path}:{position}: malformed event: {reason}");
            Ok(())
        }
    })?;
    let last = stream.runner.finish()?;
    stream.write(last)?;
    let (counts, unreadable) = (stream.totals(), stream.unreadable);
    let stdout_bytes = sinks.finish()?;
    eprintln!("{}", stats::line(&counts));
    if args.compress.is_some() {
        eprintln!("sigil: edge: {} bytes forwarded, {stdout_bytes} bytes written compressed (zstd)", counts.bytes_out);
    }
    if let Some(path) = &args.counts {
        let text = serde_json::to_string(&counts).map_err(|e| format!("cannot write the counts: {e}"))?;
        std::fs::write(path, text + "\n").map_err(|e| format!("cannot write the counts to {}: {e}", path.display()))?;
    }
    Ok(if unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// The policy file, with the command line's `--silence` and `--timestamp-field` folded in (so
/// the compiled form says everything the engine needs, whichever runtime gets it).
fn read_policy(args: &EdgeArgs) -> Result<Policy, String> {
    let name = args.policy.display().to_string();
    let text = std::fs::read_to_string(&args.policy).map_err(|e| format!("cannot read the policy {name}: {e}"))?;
    let mut policy = sigil_compiler::edge_policy::parse(&name, &text).map_err(|d| format!("policy {d}"))?;
    policy.silence |= args.silence;
    if let Some(field) = &args.timestamp_field {
        policy.timestamp_field = Some(field.clone());
    }
    Ok(policy)
}

/// What the operator should know before the stream starts: forced samples and silence rules.
fn report_policy(policy: &Policy, plan: &sigil_engine::Plan) {
    for entry in &policy.entries {
        if let Action::Sample(s) = &entry.action {
            if s.force {
                eprintln!(
                    "sigil: edge: entry '{}' samples with force: true (authentication logs are not protected)",
                    entry.name
                );
            }
        }
    }
    match (policy.silence, plan.silences.len()) {
        (true, 0) => eprintln!("sigil: edge: silence detection is on, but the rules hold no silence rule"),
        (true, n) => eprintln!("sigil: edge: watching {n} silence rules"),
        (false, 0) => {}
        (false, n) => {
            eprintln!("sigil: edge: {n} silence rules ignored: enable them with --silence or `silence: true`")
        }
    }
}

/// The running stream: batches out to the runner, results out to the sinks.
struct Stream<'a> {
    runner: &'a mut dyn Runner,
    sinks: &'a mut sinks::Sinks,
    live: &'a mut stats::Live,
    /// Records rejected here, before any engine saw them (not JSON text).
    own: Counts,
    /// The engine's counts as of its last batch.
    engine: Counts,
    unreadable: u64,
}

impl Stream<'_> {
    fn evaluate(&mut self, path: &str, batch: batches::Batch) -> Result<(), String> {
        let done = self.runner.batch(path, batch.first, &batch.text)?;
        self.write(done)
    }

    fn write(&mut self, batch: Batch) -> Result<(), String> {
        for note in &batch.notes {
            eprintln!("{note}");
        }
        // The snapshot first: whoever reads the output and then asks for the counts sees them.
        self.engine = batch.counts;
        let totals = self.totals();
        self.live.update(&totals);
        self.sinks.write(&batch.forwarded, &batch.alerts)
    }

    fn totals(&self) -> Counts {
        let mut totals = self.engine.clone();
        totals.add(&self.own);
        totals
    }
}
