//! The HTTP server of `sigil serve`: events posted as JSON Lines over HTTP, evaluated with the
//! engine and options `sigil hunt` uses, alerts written to the [`LineSink`] the caller gives
//! (standard output, a file, sealed or not).
//!
//! `POST /events` takes a body of JSON Lines and answers with what it came to; `GET /stats`
//! gives the running counts; `POST /shutdown` (and SIGINT, SIGTERM, `--max-requests`) stops
//! the server, which then prints its final counts. Each connection has its own thread; the
//! detection work of a request runs there, and correlation and output follow the order in
//! which bodies arrived ([`ordered`]), so correlations keep their state across requests and
//! the alerts are those `hunt` gives for the bodies in that order. A malformed request gets a
//! 4xx JSON error and a line on standard error and is counted; the server stays up. Tokens
//! never appear in output.
//!
//! - `http`: one connection's requests and answers (heads by httparse, bodies bounded).
//! - `ingest`: a request body's events, evaluated; correlations fed in order.
//! - `ordered`: bodies admitted in arrival order, their alerts written in that order.
//!
//! Architecture invariant: this crate owns the network side only. It loads no rules, reads no
//! file and parses no command line: the caller hands it an [`Engine`], the [`Options`], a bound
//! [`Listener`], the output and a stop flag. It logs requests it refuses on standard error.

mod http;
mod ingest;
mod ordered;

use http::{Connection, Head, HeadError};
use ingest::{Correlations, Evaluator};
use ordered::Stream;
use serde_json::json;
use sha2::{Digest, Sha256};
use sigil_engine::correlate::{Correlator, Readers};
use sigil_engine::enrich::Lookup;
use sigil_engine::{Engine, Routing, Scratch};
use sigil_seal::LineSink;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

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

/// How the server answers, and the options `hunt` also takes.
pub struct Options<'a> {
    /// `sha256(token)` of the bearer token clients must send ([`token_digest`]); `None` lets
    /// every client in, which [`Listener::bind`] allows on loopback only.
    pub token: Option<[u8; 32]>,
    /// The largest request body accepted, in bytes; larger requests get 413.
    pub max_body: usize,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Stop after this many requests (any outcome).
    pub max_requests: Option<u64>,
    pub routing: &'a Routing,
    pub timestamp_field: Option<&'a str>,
    pub lookups: &'a [Lookup],
    /// Cap on open correlation groups.
    pub max_groups: usize,
}

/// How a run ended.
pub struct Outcome {
    /// Writing alerts failed (the server stopped then).
    pub output_failed: bool,
}

/// The digest of a bearer token read from `from` (a file name or variable, for messages);
/// tokens shorter than 16 characters are refused.
pub fn token_digest(text: &str, from: &str) -> Result<[u8; 32], String> {
    let token = text.trim();
    if token.chars().count() < 16 {
        return Err(format!(
            "the token in {from} is too short ({} characters; at least 16): `sigil keygen -o FILE` makes a good one",
            token.chars().count()
        ));
    }
    Ok(Sha256::digest(token.as_bytes()).into())
}

/// Refuses to let clients off this machine in without a token.
pub fn check_exposure(address: SocketAddr, has_token: bool) -> Result<(), String> {
    if !has_token && !address.ip().is_loopback() {
        return Err(format!(
            "{address} is not a loopback address: clients elsewhere must authenticate; give a bearer token \
             with --token-file FILE or the SIGIL_TOKEN environment variable"
        ));
    }
    Ok(())
}

/// A socket listening for the server.
pub struct Listener {
    listener: TcpListener,
    bound: SocketAddr,
}

impl Listener {
    pub fn bind(address: SocketAddr) -> Result<Listener, String> {
        let listener = TcpListener::bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| format!("cannot listen on {address}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| format!("cannot listen on {bound}: {e}"))?;
        Ok(Listener { listener, bound })
    }

    /// The address bound (the port chosen, when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
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
    let correlations = Correlations {
        correlator: Correlator::new(engine.plan(), options.max_groups),
        suppressor: sigil_engine::suppress::Suppressor::new(options.max_groups),
        last_time: 0,
    };
    let bound = listener.bound;
    let server = Server {
        evaluator: Evaluator {
            engine,
            readers: &readers,
            routing: options.routing,
            timestamp_field: options.timestamp_field,
            lookups: options.lookups,
            source: Arc::from(ingest::SOURCE_NAME),
        },
        stream: Stream::new(correlations, sink),
        token: options.token,
        max_body: options.max_body,
        max_requests: options.max_requests,
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
    accept_until_stopped(&server, &listener.listener, options.max_connections.max(1));

    let output_failed = server.output_failed.load(Ordering::Relaxed);
    let counts = server.counts.to_json();
    let (mut correlations, mut sink) = server.stream.into_parts();
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
        let plan = self.evaluator.engine.plan();
        let (correlations, written) = self.stream.complete(ticket, plan, std::mem::take(&mut evaluated.items));
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
