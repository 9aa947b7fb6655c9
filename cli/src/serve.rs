//! `sigil serve --listen ADDR`: the flags of the HTTP server (`sigil_serve`), the rules,
//! lookups, token and output it is given, and the signal that stops it.

use crate::seal::{self, LineSink};
use crate::{hunt, RuleSource};
use sigil_engine::Engine;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The address to listen on, HOST:PORT (port 0 picks a free port; the bound address is
    /// printed on standard error). A non-loopback address requires a bearer token.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,
    /// A file holding the bearer token clients must send (`Authorization: Bearer TOKEN`);
    /// without it, the environment variable SIGIL_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The largest request body accepted, in bytes; larger requests get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_body: usize,
    /// Connections served at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections: usize,
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
}

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let address = resolve(&args.listen)?;
    let token = load_token(args.token_file.as_ref())?;
    sigil_serve::check_exposure(address, token.is_some())?;
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let plan = hunt::load_rules(&args.source)?;
    let engine = Engine::new(plan).map_err(|e| e.to_string())?;
    let lookups = args.lookups.iter().map(|spec| crate::lookup::load(spec)).collect::<Result<Vec<_>, _>>()?;
    let listener = sigil_serve::Listener::bind(address)?;
    // Only once listening: a sealed file is created once and never overwritten, so one left
    // by a server that could not start would refuse the next start.
    let sink = open_output(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    let options = sigil_serve::Options {
        token,
        max_body: args.max_body,
        max_connections: args.max_connections,
        max_requests: args.max_requests,
        routing: &routing,
        timestamp_field: args.timestamp_field.as_deref(),
        lookups: &lookups,
        max_groups: args.max_groups,
    };
    let outcome = sigil_serve::serve(&engine, listener, options, sink, stop)?;
    Ok(if outcome.output_failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn resolve(listen: &str) -> Result<SocketAddr, String> {
    let mut addresses = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen}: not an address to listen on (HOST:PORT): {e}"))?;
    addresses.next().ok_or_else(|| format!("--listen {listen}: the name resolves to no address"))
}

/// The token's digest, from `--token-file` or `SIGIL_TOKEN`; `None` when neither is set.
fn load_token(file: Option<&PathBuf>) -> Result<Option<[u8; 32]>, String> {
    let text = match file {
        Some(path) => zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
        ),
        None => match std::env::var("SIGIL_TOKEN") {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(_) => return Ok(None),
        },
    };
    let from = file.map_or_else(|| "SIGIL_TOKEN".to_string(), |p| p.display().to_string());
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
