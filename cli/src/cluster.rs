//! `sigil publish`, `sigil worker`, `sigil alerts` and `sigil nats init`: the arguments, the
//! reading of inputs for `publish` (as `hunt` reads them), and the calls into `sigil-cluster`,
//! where everything else lives (docs/scale-out.md).

use crate::input::{self, Raw};
use crate::{hunt, RuleSource};
use sigil_cluster::publish::Outgoing;
use sigil_cluster::{alerts, publish, setup, worker, Endpoint, Topology};
use sigil_engine::{session, Json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the NATS servers are and how to talk to them; user and password, when needed, come
/// from SIGIL_NATS_USER and SIGIL_NATS_PASSWORD.
#[derive(clap::Args)]
pub struct Connection {
    /// Server URLs: nats://HOST:PORT or tls://HOST:PORT, several separated by commas.
    #[arg(long = "nats", value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub url: String,
    /// The CA certificate (PEM) that signed the servers' certificates; implies TLS.
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A NATS credentials file (user JWT and NKey seed).
    #[arg(long = "creds", value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// A file holding a user NKey seed (`SU…`), for servers that know users by their NKey.
    #[arg(long = "nkey-file", value_name = "FILE")]
    pub nkey_file: Option<PathBuf>,
    /// The topology file (streams, buckets, partitions; see examples/nats-streams.toml).
    /// Without it, the built-in defaults, which that file spells out.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Connection {
    fn endpoint(&self, name: &str) -> Endpoint {
        let mut endpoint = Endpoint::new(&self.url, name).with_env_user();
        endpoint.ca_file = self.tls_ca.clone();
        endpoint.creds_file = self.creds.clone();
        endpoint.nkey_file = self.nkey_file.clone();
        endpoint
    }

    fn topology(&self) -> Result<Topology, String> {
        Topology::load(self.config.as_deref())
    }
}

#[derive(clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The subject to publish to (default: sigil.events.raw, in the events stream).
    #[arg(long, value_name = "S")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub limits: input::Limits,
    /// Event files, read as `hunt` reads them. `-` or nothing reads standard input.
    #[arg(value_name = "EVENTS")]
    pub events: Vec<String>,
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The events stream (default: the topology's, SIGIL_EVENTS).
    #[arg(long, value_name = "S")]
    pub stream: Option<String>,
    #[command(flatten)]
    pub source: RuleSource,
    /// As for `hunt`: auto, all, or KEY=VALUE,... declaring the events' log source.
    #[arg(long, value_name = "auto|all|KEY=VALUE,...")]
    pub logsource: Option<String>,
    /// As for `hunt`: the event field holding the event time.
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// Cap on open correlation groups, per partition.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_groups: usize,
    /// As for `hunt`: distinct values a value_count group tells apart, per partition.
    #[arg(long, value_name = "N", default_value_t = sigil_engine::correlate::DEFAULT_MAX_DISTINCT_VALUES)]
    pub max_distinct_values: usize,
    /// Larger event messages go to the dead-letter subject.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_event_bytes: usize,
    /// Event messages evaluated as one batch (and pulled ahead).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub batch: usize,
    /// Serve GET /metrics (Prometheus text) on HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// This worker's name in leases and metrics (default: HOSTNAME-PID).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Seconds between the counts printed on standard error.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub report_every: f64,
    /// Milliseconds between the checkpoints of an owned partition (while feeds arrive).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Drain and exit once no event has arrived for SECS and none is pending (batch jobs).
    #[arg(long, value_name = "SECS")]
    pub idle_exit: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertKind {
    All,
    Detection,
    Correlation,
}

#[derive(clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Keep printing new alerts as they arrive.
    #[arg(long)]
    pub follow: bool,
    /// Which alerts.
    #[arg(long, value_enum, default_value = "all")]
    pub kind: AlertKind,
}

#[derive(clap::Args)]
pub struct NatsArgs {
    #[command(subcommand)]
    pub command: NatsCommand,
}

#[derive(clap::Subcommand)]
pub enum NatsCommand {
    /// Create or update the streams, the workers' consumer and the buckets of the topology
    /// (the log administrator's step).
    Init {
        #[command(flatten)]
        connection: Connection,
    },
}

pub fn nats(args: NatsArgs) -> Result<ExitCode, String> {
    let NatsCommand::Init { connection } = args.command;
    let topology = connection.topology()?;
    let endpoint = connection.endpoint("sigil-nats-init");
    let done = sigil_cluster::runtime()?.block_on(async {
        let client = endpoint.connect().await?;
        let js = sigil_cluster::connect::jetstream(client, Duration::from_secs(20));
        setup::init(&js, &topology).await
    })?;
    for line in done {
        eprintln!("sigil: nats init: {line}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn alerts(args: AlertsArgs) -> Result<ExitCode, String> {
    let topology = args.connection.topology()?;
    let endpoint = args.connection.endpoint("sigil-alerts");
    let kind = match args.kind {
        AlertKind::All => alerts::Kind::All,
        AlertKind::Detection => alerts::Kind::Detection,
        AlertKind::Correlation => alerts::Kind::Correlation,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let n = sigil_cluster::runtime()?.block_on(alerts::print(&endpoint, &topology, kind, args.follow, &mut out))?;
    eprintln!("alerts: {n}");
    Ok(ExitCode::SUCCESS)
}

pub fn worker(args: WorkerArgs) -> Result<ExitCode, String> {
    let topology = args.connection.topology()?;
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let plan = hunt::load_rules(&args.source)?;
    let seconds = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).map_err(|_| format!("{what}: a number of seconds, as 10 or 0.5"))
    };
    let options = worker::Options {
        endpoint: args.connection.endpoint("sigil-worker"),
        topology,
        stream: args.stream,
        plan,
        routing,
        timestamp_field: args.timestamp_field,
        max_groups: args.max_groups,
        max_distinct_values: args.max_distinct_values,
        max_event_bytes: args.max_event_bytes,
        batch: args.batch,
        metrics: args.metrics,
        id: args.id.unwrap_or_else(worker::default_id),
        report_every: seconds(args.report_every, "--report-every")?,
        checkpoint_every: Duration::from_millis(args.checkpoint_every),
        idle_exit: args.idle_exit.map(|s| seconds(s, "--idle-exit")).transpose()?,
    };
    let id = options.id.clone();
    let summary = worker::run(options)?;
    eprintln!(
        "sigil: worker {id}: stopped after {:.1} s: {} events ({:.0}/s); alerts: {} detection, {} correlation; {} dead letters",
        summary.seconds,
        summary.events,
        summary.events as f64 / summary.seconds.max(1e-3),
        summary.detection_alerts,
        summary.correlation_alerts,
        summary.dead_letters
    );
    Ok(ExitCode::SUCCESS)
}

/// What the reader thread of `publish` came to.
#[derive(Default)]
struct ReadCounts {
    read: u64,
    rejected: u64,
    unreadable: u64,
}

pub fn publish(args: PublishArgs) -> Result<ExitCode, String> {
    let topology = args.connection.topology()?;
    let subject = args.subject.clone().unwrap_or_else(|| topology.default_event_subject());
    let endpoint = args.connection.endpoint("sigil-publish");
    let inputs = input::or_stdin(&args.events);
    let (tx, rx) = publish::channel(8192);
    let limits = args.limits;
    let reader = std::thread::spawn(move || read_events(&inputs, &limits, tx));
    let published = sigil_cluster::runtime()?.block_on(publish::run(&endpoint, &subject, rx, 8192));
    let counts = reader.join().map_err(|_| "the reader thread failed".to_string())?;
    let published = published?;
    eprintln!(
        "events: {} read, {} rejected; published to {subject}: {} stored, {} already in the stream",
        counts.read, counts.rejected, published.stored, published.duplicates
    );
    Ok(if counts.unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// Reads every input as `hunt` does and hands each event over with its source and position;
/// malformed events are reported (as `hunt` reports them) and counted, not sent.
fn read_events(inputs: &[String], limits: &input::Limits, tx: publish::Sender) -> ReadCounts {
    let mut counts = ReadCounts::default();
    for path in inputs {
        let source: Arc<str> = Arc::from(path.as_str());
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                counts.unreadable += 1;
                continue;
            }
        };
        let mut closed = false;
        let mut send = |position: u64, payload: Vec<u8>, counts: &mut ReadCounts| {
            counts.read += 1;
            if !closed {
                let event = Outgoing { source: Arc::clone(&source), position, payload: payload.into() };
                closed = tx.blocking_send(event).is_err();
            }
        };
        let reject = |position: u64, reason: &str, counts: &mut ReadCounts| {
            counts.read += 1;
            counts.rejected += 1;
            eprintln!("sigil: {path}:{position}: malformed event: {reason}");
        };
        let result = input::read_raw(reader, limits, &mut |raw| match raw {
            Raw::Idle => {}
            Raw::Parsed { position, record } => match record {
                Ok(value) => send(position, serde_json::to_vec(&value).expect("JSON serializes"), &mut counts),
                Err(reason) => reject(position, &reason, &mut counts),
            },
            Raw::Line { number, text } => {
                let text = text.trim();
                match Json::parse(text) {
                    Ok(Json::Object(obj)) if matches!(obj.get("Records"), Some(Json::Array(_))) => {
                        let Some(Json::Array(records)) = obj.get("Records") else { unreachable!("checked above") };
                        for (i, record) in records.iter().enumerate() {
                            let position = i as u64 + 1;
                            match record {
                                Json::Object(_) => {
                                    send(position, serde_json::to_vec(record).expect("JSON serializes"), &mut counts)
                                }
                                other => {
                                    let reason = format!("expected a JSON object, found {}", session::kind(other));
                                    reject(position, &reason, &mut counts)
                                }
                            }
                        }
                    }
                    Ok(Json::Object(_)) => send(number, text.as_bytes().to_vec(), &mut counts),
                    Ok(other) => {
                        reject(number, &format!("expected a JSON object, found {}", session::kind(&other)), &mut counts)
                    }
                    Err(e) => reject(number, &sigil_engine::json::describe_parse_error(&e), &mut counts),
                }
            }
        });
        if let Err(e) = result {
            eprintln!("sigil: error while reading {path}: {e}");
            counts.unreadable += 1;
        }
    }
    counts
}
