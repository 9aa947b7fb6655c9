//! `sigil serve --listen ADDR`: events posted as JSON Lines over HTTP, evaluated with the
//! rules and options `sigil hunt` takes, alerts written to standard output or a (sealed) file.
//!
//! `POST /events` takes a body of JSON Lines and answers with what it came to; `GET /stats`
//! gives the running counts; `POST /shutdown` (and SIGINT, SIGTERM, `--max-requests`) stops
//! the server, which then prints its final counts. Each connection has its own thread; the
//! detection work of a request runs there, and correlation and output follow the order in
//! which bodies arrived ([`ordered`]), so correlations keep their state across requests and
//! the alerts are those `hunt` gives for the bodies in that order. A malformed request gets a
//! 4xx JSON error and a line on standard error and is counted; the server stays up. Tokens
//! never appear in output.

mod http;
mod ingest;
mod ordered;

use crate::seal::{self, LineSink};
use crate::{hunt, RuleSource};
use http::{Connection, Head, HeadError};
use ingest::{Correlations, Evaluator};
use ordered::Stream;
use serde_json::json;
use sha2::{Digest, Sha256};
use sigil_engine::correlate::{Correlator, Readers};
use sigil_engine::{Engine, Scratch};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

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

/// Running counts, readable without the evaluation lock.
#[derive(Default)]
struct Counts {
    requests_ok: AtomicU64,
    /// Per status code of refused requests.
    requests_bad: Mutex<BTreeMap<u16, u64>>,
    events_read: AtomicU64,
    events_rejected: AtomicU64,
    detections: AtomicU64,
    correlations: AtomicU64,
}

impl Counts {
    fn to_json(&self) -> serde_json::Value {
        let bad = self.requests_bad.lock().expect("counts").clone();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "requests": {"ok": load(&self.requests_ok), "bad": bad.values().sum::<u64>(), "bad_by_status": bad},
            "events": {"read": load(&self.events_read), "rejected": load(&self.events_rejected)},
            "alerts": {"detections": load(&self.detections), "correlations": load(&self.correlations)},
        })
    }
}

/// What every connection thread shares.
struct Server<'a> {
    evaluator: Evaluator<'a>,
    /// Correlation state and the output, fed in the order request bodies arrived.
    stream: Stream<Box<dyn Write + Send>>,
    /// `sha256(token)`: compared in constant time, and never kept as text.
    token: Option<[u8; 32]>,
    max_body: usize,
    max_requests: Option<u64>,
    counts: Counts,
    /// Requests answered (ok and bad), for `--max-requests`.
    requests: AtomicU64,
    stop: Arc<AtomicBool>,
    output_failed: AtomicBool,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let address = resolve(&args.listen)?;
    let token = load_token(args.token_file.as_ref())?;
    if token.is_none() && !address.ip().is_loopback() {
        return Err(format!(
            "{address} is not a loopback address: clients elsewhere must authenticate; give a bearer token \
             with --token-file FILE or the SIGIL_TOKEN environment variable"
        ));
    }
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let plan = hunt::load_rules(&args.source)?;
    let engine = Engine::new(plan).map_err(|e| e.to_string())?;
    let lookups = args.lookups.iter().map(|spec| crate::lookup::load(spec)).collect::<Result<Vec<_>, _>>()?;
    let readers = Readers::new(engine.plan());
    let correlations = Correlations { correlator: Correlator::new(engine.plan(), args.max_groups), last_time: 0 };

    let listener = TcpListener::bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| format!("cannot listen on {address}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| format!("cannot listen on {bound}: {e}"))?;
    // Only once listening: a sealed file is created once and never overwritten, so one left
    // by a server that could not start would refuse the next start.
    let sink = open_output(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;

    let server = Server {
        evaluator: Evaluator {
            engine: &engine,
            readers: &readers,
            routing: &routing,
            timestamp_field: args.timestamp_field.as_deref(),
            lookups: &lookups,
            source: Arc::from(ingest::SOURCE_NAME),
        },
        stream: Stream::new(correlations, sink),
        token,
        max_body: args.max_body,
        max_requests: args.max_requests,
        counts: Counts::default(),
        requests: AtomicU64::new(0),
        stop,
        output_failed: AtomicBool::new(false),
    };
    eprintln!(
        "sigil: serve: listening on http://{bound} (POST /events, GET /stats, POST /shutdown; token {})",
        if server.token.is_some() { "required" } else { "not required on loopback" }
    );
    let started = Instant::now();
    accept_until_stopped(&server, &listener, args.max_connections.max(1));

    let output_failed = server.output_failed.load(Ordering::Relaxed);
    let counts = server.counts.to_json();
    let (correlations, sink) = server.stream.into_parts();
    let finished = sink.finish().map(drop);
    let elapsed = started.elapsed().as_secs_f64();
    let read = counts["events"]["read"].as_u64().unwrap_or(0);
    eprintln!("sigil: serve: stopped after {elapsed:.1} s ({:.0} events/s): {counts}", read as f64 / elapsed.max(1e-3));
    if !correlations.correlator.is_empty() {
        eprintln!("sigil: serve: correlation groups open at the end: {}", correlations.correlator.open_groups());
    }
    finished.map_err(|e| format!("cannot finish the alert output: {e}"))?;
    Ok(if output_failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
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
    let token = text.trim();
    if token.chars().count() < 16 {
        return Err(format!(
            "the token in {from} is too short ({} characters; at least 16): `sigil keygen -o FILE` makes a good one",
            token.chars().count()
        ));
    }
    Ok(Some(Sha256::digest(token.as_bytes()).into()))
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

fn accept_until_stopped(server: &Server<'_>, listener: &TcpListener, max_connections: usize) {
    let open = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        while !server.stop.load(Ordering::SeqCst) {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => {
                    eprintln!("sigil: serve: cannot accept a connection: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let Ok(mut connection) = stream.set_nonblocking(false).and_then(|_| Connection::new(stream)) else {
                continue;
            };
            if open.load(Ordering::SeqCst) >= max_connections {
                server.refuse(&mut connection, peer, "-", 503, "too many connections: try again later", true);
                continue;
            }
            open.fetch_add(1, Ordering::SeqCst);
            let open = &open;
            scope.spawn(move || {
                // A bug that panics on one request ends that connection only: its ticket gives up
                // its turn as it unwinds, the slot is freed, and the server goes on.
                let served = std::panic::catch_unwind(AssertUnwindSafe(|| server.serve_connection(connection, peer)));
                if served.is_err() {
                    eprintln!(
                        "sigil: serve: {peer}: internal error while serving this connection (closed); please report it"
                    );
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
}

impl Server<'_> {
    fn serve_connection(&self, mut connection: Connection, peer: SocketAddr) {
        let mut scratch = Scratch::default();
        loop {
            let head = match connection.read_head(&self.stop) {
                Ok(head) => head,
                Err(HeadError::Closed) => return,
                Err(HeadError::Bad(status, message)) => {
                    self.refuse(&mut connection, peer, "-", status, &message, true);
                    return;
                }
            };
            let keep_alive = self.handle(&mut connection, peer, &head, &mut scratch);
            if !keep_alive || !head.keep_alive {
                return;
            }
        }
    }

    /// Answers one request; returns whether the connection can carry another.
    fn handle(&self, connection: &mut Connection, peer: SocketAddr, head: &Head, scratch: &mut Scratch) -> bool {
        let what = format!("{} {}", head.method, head.path);
        let path = head.path.split('?').next().unwrap_or_default();
        let allowed = match path {
            "/events" | "/shutdown" => "POST",
            "/stats" => "GET",
            _ => {
                return self.refuse_unread(connection, peer, &what, head, 404, "no such path: POST /events, GET /stats")
            }
        };
        if head.method != allowed {
            let message = format!("{path} takes {allowed}");
            return self.refuse_unread(connection, peer, &what, head, 405, &message);
        }
        if !self.authorized(head) {
            return self.refuse_unread(
                connection,
                peer,
                &what,
                head,
                401,
                "missing or wrong bearer token: send Authorization: Bearer TOKEN",
            );
        }
        // A body sent with these is not wanted; it is skipped when small, else the connection closes.
        let body_skipped = path == "/events" || self.skip_body(connection, head);
        match path {
            "/stats" => self.ok(connection, head, &self.counts.to_json(), !body_skipped),
            "/shutdown" => {
                self.stop.store(true, Ordering::SeqCst);
                self.counts.requests_ok.fetch_add(1, Ordering::Relaxed);
                self.counted();
                let _ = connection.respond(200, self.counts.to_json().to_string().as_bytes(), true, &[]);
                false
            }
            _ => self.post_events(connection, peer, &what, head, scratch),
        }
    }

    fn post_events(
        &self,
        connection: &mut Connection,
        peer: SocketAddr,
        what: &str,
        head: &Head,
        scratch: &mut Scratch,
    ) -> bool {
        let length = match (head.content_length, head.chunked) {
            (Some(n), false) => n,
            _ => {
                let message = "send the body with a Content-Length (chunked bodies are not taken)";
                return self.refuse(connection, peer, what, 411, message, true);
            }
        };
        if length > self.max_body {
            let message = format!("the body is {length} bytes; at most {} are taken (--max-body)", self.max_body);
            return self.refuse(connection, peer, what, 413, &message, true);
        }
        let body = match connection.read_body(length, &self.stop) {
            Ok(body) => body,
            Err(HeadError::Closed) => return false,
            Err(HeadError::Bad(status, message)) => return self.refuse(connection, peer, what, status, &message, true),
        };
        let lines =
            body.iter().filter(|&&b| b == b'\n').count() + usize::from(!body.is_empty() && !body.ends_with(b"\n"));
        let ticket = self.stream.admit(lines as u64);
        let first_line = ticket.first_line;
        let mut evaluated = self.evaluator.evaluate(scratch, &body, first_line);
        let (correlations, written) = self.stream.complete(ticket, std::mem::take(&mut evaluated.items));
        if let Err(e) = written {
            if !self.output_failed.swap(true, Ordering::SeqCst) {
                eprintln!("sigil: serve: cannot write alerts: {e}: stopping");
            }
            self.stop.store(true, Ordering::SeqCst);
        }
        let counts = &self.counts;
        counts.events_read.fetch_add(evaluated.read, Ordering::Relaxed);
        counts.events_rejected.fetch_add(evaluated.rejected.len() as u64, Ordering::Relaxed);
        counts.detections.fetch_add(evaluated.detections, Ordering::Relaxed);
        counts.correlations.fetch_add(correlations, Ordering::Relaxed);
        let answer = json!({
            "first_line": first_line + 1,
            "lines": lines,
            "read": evaluated.read,
            "rejected": evaluated.rejected.len(),
            "rejected_lines": evaluated.rejected.iter().take(100).collect::<Vec<_>>(),
            "alerts": evaluated.detections + correlations,
        });
        if let Some(first) = evaluated.rejected.first() {
            let message = format!(
                "{} of {} events rejected (first: line {}, column {}: {}); the others were evaluated",
                evaluated.rejected.len(),
                evaluated.read + evaluated.rejected.len() as u64,
                first.line,
                first.column,
                first.reason
            );
            self.count_bad(peer, what, 422, &message);
            return connection.respond(422, answer.to_string().as_bytes(), false, &[]).is_ok();
        }
        self.ok(connection, head, &answer, false)
    }

    /// Answers 200; returns whether the connection stays open (`close` closes it anyway).
    fn ok(&self, connection: &mut Connection, head: &Head, answer: &serde_json::Value, close: bool) -> bool {
        self.counts.requests_ok.fetch_add(1, Ordering::Relaxed);
        self.counted();
        let close = close || !head.keep_alive;
        connection.respond(200, answer.to_string().as_bytes(), close, &[]).is_ok() && !close
    }

    fn authorized(&self, head: &Head) -> bool {
        let Some(expected) = &self.token else { return true };
        let presented = head.header("authorization").and_then(bearer_token).unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        digest.ct_eq(expected).into()
    }

    /// Reads and drops a request's body when it is small; false when the connection cannot
    /// carry another request.
    fn skip_body(&self, connection: &mut Connection, head: &Head) -> bool {
        match (head.content_length.unwrap_or(0), head.chunked) {
            (0, false) => true,
            (n, false) if n <= self.max_body => connection.read_body(n, &self.stop).is_ok(),
            _ => false,
        }
    }

    /// Refuses a request whose body has not been read: a small body is skipped so the
    /// connection goes on; a large or unknown one closes it.
    fn refuse_unread(
        &self,
        connection: &mut Connection,
        peer: SocketAddr,
        what: &str,
        head: &Head,
        status: u16,
        message: &str,
    ) -> bool {
        let skipped = self.skip_body(connection, head);
        self.refuse(connection, peer, what, status, message, !skipped) && skipped
    }

    /// Answers with a JSON error, counts it and reports it on standard error; returns whether
    /// the connection stays open.
    fn refuse(
        &self,
        connection: &mut Connection,
        peer: SocketAddr,
        what: &str,
        status: u16,
        message: &str,
        close: bool,
    ) -> bool {
        self.count_bad(peer, what, status, message);
        let body = json!({"error": message, "status": status}).to_string();
        let extra: &[(&str, &str)] = match status {
            401 => &[("WWW-Authenticate", "Bearer")],
            405 if what.contains("/stats") => &[("Allow", "GET")],
            405 => &[("Allow", "POST")],
            _ => &[],
        };
        connection.respond(status, body.as_bytes(), close, extra).is_ok() && !close
    }

    fn count_bad(&self, peer: SocketAddr, what: &str, status: u16, message: &str) {
        *self.counts.requests_bad.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_default() += 1;
        eprintln!("sigil: serve: {peer} {what}: {status}: {message}");
        self.counted();
    }

    /// One more request answered, whatever its outcome: `--max-requests` stops the server.
    fn counted(&self) {
        let answered = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max_requests.is_some_and(|max| answered >= max) {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme name is case-insensitive
/// (RFC 9110, 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
