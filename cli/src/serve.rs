//! `sigil serve --listen ADDR`: the flags of the HTTP server (`sigil_serve`), the rules,
//! lookups, tokens, TLS files and output it is given, and the signal that stops it.

use crate::seal::{self, LineSink};
use crate::{hunt, RuleSource};
use sigil_engine::Engine;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The address to listen on, HOST:PORT (port 0 picks a free port; the bound address is
    /// printed on standard error). A non-loopback address requires tokens, and TLS or
    /// --insecure-plaintext.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,
    /// A file holding a bearer token with both roles, ingest and read (`Authorization: Bearer
    /// TOKEN`); without it, the environment variable SIGIL_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A file holding the ingest token (POST /events, POST /shutdown); without it, the
    /// environment variable SIGIL_INGEST_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// A file holding the read token (GET /stats, /metrics, /alerts); without it, the
    /// environment variable SIGIL_READ_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub read_token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate issued by this CA (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Listen in plain HTTP on a non-loopback address (when a proxy in front encrypts).
    #[arg(long, conflicts_with = "tls_cert")]
    pub insecure_plaintext: bool,
    /// The largest request body accepted, in bytes; larger requests get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_body: usize,
    /// Connections open at once; more are closed at once. By default, what the open-files
    /// limit allows (raised to its hard limit at start).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds for a request head to arrive whole (also for a TLS handshake, and the longest
    /// a connection may sit idle between requests).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub header_timeout: f64,
    /// Seconds for a request body to arrive whole.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub body_timeout: f64,
    /// Seconds a connection may sit with nothing moving and no request under way, and a
    /// client may leave an answer unread, before the connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub idle_timeout: f64,
    /// Threads evaluating request bodies (by default, two per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Stop after this many requests (any outcome), as a test or a batch job would.
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
    /// Write alerts to FILE instead of standard output (a sealed FILE must not exist yet).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Seal the alerts with the key in KEYFILE (see `sigil keygen`, `sigil verify`).
    #[arg(long, value_name = "KEYFILE")]
    pub seal: Option<PathBuf>,
    /// With --seal: alert records between two checkpoints.
    #[arg(long, value_name = "N", default_value_t = seal::DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: u64,
    #[command(flatten)]
    pub source: RuleSource,
    /// As for `hunt`: auto, all, or KEY=VALUE,... declaring the events' log source.
    #[arg(long, value_name = "auto|all|KEY=VALUE,...")]
    pub logsource: Option<String>,
    /// As for `hunt`: the event field holding the event time.
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// As for `hunt`: join a CSV table onto events (repeatable).
    #[arg(long = "lookup", value_name = "NAME=FILE.csv")]
    pub lookups: Vec<String>,
    /// Cap on open correlation groups.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_groups: usize,
    /// As for `hunt`: cap on the distinct values a value_count correlation group tells apart.
    #[arg(long, value_name = "N", default_value_t = sigil_engine::correlate::DEFAULT_MAX_DISTINCT_VALUES)]
    pub max_distinct_values: usize,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let address = resolve(&args.listen)?;
    let tokens = load_tokens(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(sigil_serve::TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: args.tls_client_ca.clone() })
        }
        _ => None,
    };
    sigil_serve::check_exposure(address, !tokens.is_empty(), tls.is_some(), args.insecure_plaintext)?;
    let timeouts = sigil_serve::Timeouts {
        header: seconds(args.header_timeout, "--header-timeout")?,
        body: seconds(args.body_timeout, "--body-timeout")?,
        idle: seconds(args.idle_timeout, "--idle-timeout")?,
        write: seconds(args.idle_timeout, "--idle-timeout")?,
    };
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let plan = hunt::load_rules(&args.source)?;
    let engine = Engine::new(plan).map_err(|e| e.to_string())?;
    let lookups = args.lookups.iter().map(|spec| crate::lookup::load(spec)).collect::<Result<Vec<_>, _>>()?;
    let open_files = sigil_serve::raise_open_files_limit();
    let listener = sigil_serve::Listener::bind(address, tls.as_ref())?;
    // Only once listening: a sealed file is created once and never overwritten, so one left
    // by a server that could not start would refuse the next start.
    let sink = open_output(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let options = sigil_serve::Options {
        tokens,
        max_body: args.max_body,
        max_connections: args.max_connections.unwrap_or_else(|| sigil_serve::default_max_connections(open_files)),
        max_requests: args.max_requests,
        timeouts,
        // Twice the cores: a worker whose body waits for its turn in the stream leaves its
        // core to another.
        workers: args.workers.unwrap_or(2 * cores),
        routing: &routing,
        timestamp_field: args.timestamp_field.as_deref(),
        lookups: &lookups,
        max_groups: args.max_groups,
        max_distinct_values: args.max_distinct_values,
    };
    let outcome = sigil_serve::serve(&engine, listener, options, sink, stop)?;
    Ok(if outcome.output_failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag} {value}: give a positive number of seconds"))
}

fn resolve(listen: &str) -> Result<SocketAddr, String> {
    let mut addresses = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen}: not an address to listen on (HOST:PORT): {e}"))?;
    addresses.next().ok_or_else(|| format!("--listen {listen}: the name resolves to no address"))
}

/// The tokens and their roles: `--token-file` or `SIGIL_TOKEN` (both roles),
/// `--ingest-token-file` or `SIGIL_INGEST_TOKEN`, `--read-token-file` or `SIGIL_READ_TOKEN`.
fn load_tokens(args: &ServeArgs) -> Result<sigil_serve::Tokens, String> {
    let mut tokens = sigil_serve::Tokens::default();
    let sources = [
        (args.token_file.as_ref(), "SIGIL_TOKEN", true, true),
        (args.ingest_token_file.as_ref(), "SIGIL_INGEST_TOKEN", true, false),
        (args.read_token_file.as_ref(), "SIGIL_READ_TOKEN", false, true),
    ];
    for (file, variable, ingest, read) in sources {
        if let Some(digest) = load_token(file, variable)? {
            tokens.add(digest, ingest, read);
        }
    }
    Ok(tokens)
}

/// A token's digest, from `file` or else the environment `variable`; `None` when neither is set.
fn load_token(file: Option<&PathBuf>, variable: &str) -> Result<Option<[u8; 32]>, String> {
    let text = match file {
        Some(path) => zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
        ),
        None => match std::env::var(variable) {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(_) => return Ok(None),
        },
    };
    let from = file.map_or_else(|| variable.to_string(), |p| p.display().to_string());
    sigil_serve::token_digest(&text, &from).map(Some)
}

fn open_output(args: &ServeArgs) -> Result<LineSink<Box<dyn Write + Send>>, String> {
    let key = args.seal.as_deref().map(seal::load_key).transpose()?;
    let out: Box<dyn Write + Send> = match &args.output {
        None => Box::new(io::BufWriter::new(io::stdout())),
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            // A sealed file is evidence: never overwritten, and one file holds one chain.
            options.write(true);
            if key.is_some() {
                options.create_new(true)
            } else {
                options.create(true).truncate(true)
            };
            let file = options.open(path).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    format!(
                        "{} exists already: a sealed output is never overwritten; choose a new file",
                        path.display()
                    )
                }
                _ => format!("cannot create {}: {e}", path.display()),
            })?;
            Box::new(io::BufWriter::new(file))
        }
    };
    Ok(LineSink::new(out, key.map(|k| (k, args.checkpoint_every))))
}
