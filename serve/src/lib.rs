//! The HTTP server of `sigil serve`: events posted as JSON Lines over HTTP (or HTTPS), evaluated
//! with the engine and options `sigil hunt` uses, alerts written to the [`LineSink`] the caller
//! gives (standard output, a file, sealed or not) and streamed to subscribers.
//!
//! `POST /events` takes a body of JSON Lines (by `Content-Length` or chunked) and answers with
//! what it came to; `GET /stats` and `GET /metrics` (Prometheus text) give the running counts;
//! `GET /alerts` streams the alert lines as they are written; `GET /healthz` says the server is
//! up; `POST /shutdown` (and SIGINT, SIGTERM, `--max-requests`) stops the server, which then
//! prints its final counts. Tokens hold roles ([`Tokens`]): ingest (`/events`, `/shutdown`)
//! and read (`/stats`, `/metrics`, `/alerts`). A malformed or refused request gets a 4xx JSON
//! error and a line on standard error and is counted; the server stays up. Tokens never
//! appear in output.
//!
//! HTTP/1.1 is hyper's, over tokio: connections cost a task and a buffer, not a thread, so ten
//! thousand idle ones do not keep a legitimate client out. Detection work runs on a few worker
//! threads ([`pool`]); correlation and output follow the order in which bodies were admitted
//! ([`ordered`]), so correlations keep their state across requests and the alerts are those
//! `hunt` gives for the bodies in that order.
//!
//! - `connection`: accepting (up to a cap), TLS, hyper, timeouts, stopping.
//! - `io`: a connection's bytes watched (stalls), and hyper's own errors made JSON.
//! - `routes`: one request: path, role, body, answer.
//! - `body`: bodies read within limits; the answers' bodies.
//! - `auth`: tokens, roles, constant-time comparison.
//! - `tls`: rustls configuration from PEM files.
//! - `alerts`: `GET /alerts` subscribers.
//! - `metrics`: the counts, as JSON and Prometheus text.
//! - `pool`: the worker threads; `ingest`: one body evaluated; `ordered`: the stream's order.
//!
//! Architecture invariant: this crate owns the network side only. It loads no rules, reads no
//! file but the TLS ones it is pointed at, and parses no command line: the caller hands it an
//! [`Engine`], the [`Options`], a bound [`Listener`], the output and a stop flag. It logs
//! requests it refuses on standard error.

mod alerts;
mod auth;
mod body;
mod connection;
mod ingest;
mod io;
mod metrics;
mod ordered;
mod pool;
mod routes;
mod tls;

pub use auth::{token_digest, Tokens};
pub use tls::TlsFiles;

use ingest::{Correlations, Evaluator};
use metrics::Counts;
use ordered::Stream;
use pool::{Done, Job};
use sigil_engine::correlate::{Correlator, Readers};
use sigil_engine::enrich::Lookup;
use sigil_engine::{Engine, Routing};
use sigil_seal::LineSink;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot, watch};

/// Request line and headers together, at most.
pub const MAX_HEAD: usize = 16 << 10;

/// How long the server waits for clients.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a request head to arrive whole, counted from when the server starts waiting for it
    /// (so it also ends a connection idle between requests), and for a TLS handshake.
    pub header: Duration,
    /// For a request body to arrive whole.
    pub body: Duration,
    /// For a connection with no request under way and no byte moving.
    pub idle: Duration,
    /// For a client to read an answer the server is writing.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let thirty = Duration::from_secs(30);
        Timeouts { header: thirty, body: thirty, idle: thirty, write: thirty }
    }
}

/// How the server answers, and the options `hunt` also takes.
pub struct Options<'a> {
    /// The tokens clients must send, with their roles; none lets every client in, which
    /// [`check_exposure`] allows on loopback only.
    pub tokens: Tokens,
    /// The largest request body accepted, in bytes; larger requests get 413.
    pub max_body: usize,
    /// Connections open at once; more are closed at once (and counted).
    pub max_connections: usize,
    /// Stop after this many requests (any outcome).
    pub max_requests: Option<u64>,
    pub timeouts: Timeouts,
    /// Threads evaluating bodies.
    pub workers: usize,
    pub routing: &'a Routing,
    pub timestamp_field: Option<&'a str>,
    pub lookups: &'a [Lookup],
    /// Cap on open correlation groups.
    pub max_groups: usize,
    /// Cap on the distinct values a `value_count` group tells apart in its window.
    pub max_distinct_values: usize,
}

/// How a run ended.
pub struct Outcome {
    /// Writing alerts failed (the server stopped then).
    pub output_failed: bool,
}

/// Refuses to let clients off this machine in without tokens, or in plain text unless told to.
pub fn check_exposure(address: SocketAddr, has_token: bool, tls: bool, insecure_plaintext: bool) -> Result<(), String> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    if !has_token {
        return Err(format!(
            "{address} is not a loopback address: clients elsewhere must authenticate; give tokens with \
             --ingest-token-file FILE and --read-token-file FILE (or --token-file FILE, or the SIGIL_INGEST_TOKEN, \
             SIGIL_READ_TOKEN or SIGIL_TOKEN environment variables)"
        ));
    }
    if !tls && !insecure_plaintext {
        return Err(format!(
            "{address} is not a loopback address: events and tokens would cross the network in plain text; give \
             --tls-cert FILE --tls-key FILE, or --insecure-plaintext if a proxy in front encrypts"
        ));
    }
    Ok(())
}

/// Raises this process's limit on open files (RLIMIT_NOFILE) to the hard limit, so idle
/// sockets run into `--max-connections` rather than out of descriptors; returns the limit.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        // rlim_t is not u64 on every platform.
        #[allow(clippy::unnecessary_cast)]
        let limit = limit.rlim_cur as u64;
        limit
    }
}

/// The connection cap that fits an open-files limit: the descriptors left once the server's
/// own (rules, output, threads, the listener) are set aside.
pub fn default_max_connections(open_files_limit: u64) -> usize {
    open_files_limit.saturating_sub(128).max(16) as usize
}

/// A socket listening for the server, with the runtime that will serve it.
pub struct Listener {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    bound: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Listener {
    /// Listens on `address`, with TLS when `tls` is given (its files are read now, so a bad
    /// one stops the start).
    pub fn bind(address: SocketAddr, tls: Option<&TlsFiles>) -> Result<Listener, String> {
        let tls = tls.map(tls::server_config).transpose()?.map(tokio_rustls::TlsAcceptor::from);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            // Parsing and copying bytes is light next to evaluation, which runs on the
            // workers: one thread for all connections leaves the cores to them.
            .worker_threads(1)
            .thread_name("sigil-serve-io")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
        let listener = runtime.block_on(async {
            let socket = match address {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }?;
            socket.set_reuseaddr(true)?;
            socket.bind(address)?;
            // A deep backlog: a burst of connections waits in the kernel instead of being refused.
            socket.listen(4096)
        });
        let listener = listener.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| format!("cannot listen on {address}: {e}"))?;
        Ok(Listener { runtime, listener, bound, tls })
    }

    /// The address bound (the port chosen, when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }
}

/// What the connections' tasks share.
pub(crate) struct Shared {
    counts: Counts,
    tokens: Tokens,
    max_body: usize,
    max_connections: usize,
    max_requests: Option<u64>,
    timeouts: Timeouts,
    /// Requests answered (ok and bad), for `--max-requests`.
    requests: AtomicU64,
    stop: Arc<AtomicBool>,
    /// Told to connections once the server stops accepting.
    stopping: watch::Sender<bool>,
    output_failed: AtomicBool,
    /// Bodies for the workers; `None` once they are told to finish.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Alert lines for `GET /alerts` subscribers.
    alerts: broadcast::Sender<bytes::Bytes>,
}

impl Shared {
    /// Evaluates a body on a worker; `None` when the server is stopping or the worker failed.
    async fn evaluate(&self, body: Vec<u8>) -> Option<Done> {
        let lines =
            memchr::memchr_iter(b'\n', &body).count() as u64 + u64::from(!body.is_empty() && !body.ends_with(b"\n"));
        let (reply, done) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(jobs) => jobs.send(Job { body, lines, reply }).is_ok(),
            None => false,
        };
        if !sent {
            return None;
        }
        done.await.ok()
    }

    /// Alert lines just written: counted by level and sent to subscribers.
    fn publish(&self, bytes: &[u8]) {
        self.counts.count_alert_lines(bytes);
        if self.alerts.receiver_count() > 0 {
            for line in pool::lines(bytes) {
                let _ = self.alerts.send(line);
            }
        }
    }

    /// Reads and drops a small body of a refused request; false when the connection must close.
    async fn skip(&self, body: hyper::body::Incoming, expects_continue: bool) -> bool {
        body::skip_small(body, expects_continue, self.timeouts.body).await
    }

    fn count_bad(&self, peer: SocketAddr, what: &str, status: u16, message: &str) {
        self.counts.count_bad(status);
        eprintln!("sigil: serve: {peer} {what}: {status}: {message}");
        self.counted();
    }

    /// hyper could not parse a request head: counted and logged; the JSON answer to send.
    fn refuse_malformed_head(&self, peer: SocketAddr, status: u16) -> Vec<u8> {
        let message = io::malformed_head_message(status);
        self.count_bad(peer, "-", status, message);
        io::malformed_head_answer(status, message)
    }

    fn counted_ok(&self) {
        self.counts.requests_ok.fetch_add(1, Ordering::Relaxed);
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

/// Serves until `stop` is set (by the caller's signal handler, `POST /shutdown` or
/// `--max-requests`), then finishes the output and prints the final counts.
pub fn serve(
    engine: &Engine,
    listener: Listener,
    options: Options<'_>,
    sink: LineSink<Box<dyn Write + Send>>,
    stop: Arc<AtomicBool>,
) -> Result<Outcome, String> {
    let readers = Readers::new(engine.plan());
    let mut correlator = Correlator::new(engine.plan(), options.max_groups);
    correlator.set_max_distinct_values(options.max_distinct_values);
    let correlations = Correlations {
        correlator,
        suppressor: sigil_engine::suppress::Suppressor::new(options.max_groups),
        last_time: 0,
    };
    let evaluator = Evaluator {
        engine,
        readers: &readers,
        routing: options.routing,
        timestamp_field: options.timestamp_field,
        lookups: options.lookups,
        source: Arc::from(ingest::SOURCE_NAME),
    };
    let stream = Stream::new(correlations, sink);
    let (jobs, queue) = mpsc::channel();
    let queue = Mutex::new(queue);
    let shared = Arc::new(Shared {
        counts: Counts::default(),
        tokens: options.tokens,
        max_body: options.max_body,
        max_connections: options.max_connections.max(1),
        max_requests: options.max_requests,
        timeouts: options.timeouts,
        requests: AtomicU64::new(0),
        stop,
        stopping: watch::channel(false).0,
        output_failed: AtomicBool::new(false),
        jobs: Mutex::new(Some(jobs)),
        alerts: broadcast::channel(alerts::BUFFERED_LINES).0,
    });
    let Listener { runtime, listener, bound, tls } = listener;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let tokens = &shared.tokens;
    eprintln!(
        "sigil: serve: listening on {scheme}://{bound} (POST /events, GET /stats, /metrics, /alerts, /healthz, POST /shutdown; \
         tokens {}; at most {} connections)",
        if tokens.is_empty() { "not required on loopback" } else { "required" },
        shared.max_connections
    );
    let started = Instant::now();
    std::thread::scope(|scope| {
        for n in 0..options.workers.max(1) {
            let (evaluator, stream, queue, shared) = (&evaluator, &stream, &queue, &*shared);
            let spawned = std::thread::Builder::new()
                .name(format!("sigil-serve-worker-{n}"))
                .spawn_scoped(scope, move || pool::work(evaluator, stream, queue, shared));
            if let Err(e) = spawned {
                eprintln!("sigil: serve: cannot start a worker thread: {e}");
            }
        }
        runtime.block_on(connection::accept_until_stopped(Arc::clone(&shared), listener, tls));
        // The workers finish the bodies queued, then return.
        shared.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
    });
    runtime.shutdown_timeout(Duration::from_secs(1));

    let output_failed = shared.output_failed.load(Ordering::Relaxed);
    let counts = shared.counts.to_json();
    let (mut correlations, mut sink) = stream.into_parts();
    // The stream ended: suppression windows close, and the counts they hold are written.
    let summaries = correlations.finish(engine.plan());
    let closing = summaries.iter().filter(|&&b| b == b'\n').count();
    if closing > 0 {
        eprintln!("sigil: serve: {closing} suppression summaries written as the stream ended");
    }
    let finished = sink.write_lines(&summaries).and_then(|_| sink.finish().map(drop));
    let elapsed = started.elapsed().as_secs_f64();
    let read = counts["events"]["read"].as_u64().unwrap_or(0);
    eprintln!("sigil: serve: stopped after {elapsed:.1} s ({:.0} events/s): {counts}", read as f64 / elapsed.max(1e-3));
    if !correlations.correlator.is_empty() {
        eprintln!("sigil: serve: correlation groups open at the end: {}", correlations.correlator.open_groups());
    }
    finished.map_err(|e| format!("cannot finish the alert output: {e}"))?;
    Ok(Outcome { output_failed })
}
