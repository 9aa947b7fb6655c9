//! HTTP requests: the input's bytes sent to a real `sigil serve` (`sigil_serve::serve` on a
//! loopback port, the embedded pack, an ingest token the seeds know and a read token they do
//! not), followed by a pipelined `GET /healthz` with `Connection: close`, on one connection
//! whose client then half-closes. Whatever the bytes, the server answers in HTTP/1.x or closes,
//! within a bound, and never panics (libFuzzer aborts on a panic in any of its threads). An input
//! that stops the server (`POST /shutdown`) gets a new one for the next input.
//!
//! The server is the one `sigil serve` runs, tokio, hyper, the routes and the body limits
//! included; only its sink (nowhere) and its timeouts (short, so an incomplete request ends
//! within the fuzzer's one-second timeout) differ.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The ingest token of the fuzzed server (the seeds send it: `Authorization: Bearer ...`).
pub const INGEST_TOKEN: &str = "fuzz-ingest-token-0123456789";
/// A read token no seed holds: `/alerts` would stream for as long as the server runs.
const READ_TOKEN: &str = "fuzz-read-token-never-in-a-seed-9f3a1c77";
/// What every input is followed by: an answer that ends the connection.
const TRAILER: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
/// How long the client waits for the server's next byte or its close.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

struct Running {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
}

fn start() -> Running {
    let mut tokens = sigil_serve::Tokens::default();
    tokens.add(sigil_serve::token_digest(INGEST_TOKEN, "fuzz").expect("a long token"), true, false);
    tokens.add(sigil_serve::token_digest(READ_TOKEN, "fuzz").expect("a long token"), false, true);
    let listener = sigil_serve::Listener::bind(SocketAddr::from(([127, 0, 0, 1], 0)), None).expect("a loopback port");
    let address = listener.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    std::thread::spawn(move || {
        static ROUTING: OnceLock<sigil_engine::Routing> = OnceLock::new();
        let short = Duration::from_millis(400);
        let options = sigil_serve::Options {
            tokens,
            max_body: 64 << 10,
            max_connections: 64,
            max_requests: None,
            timeouts: sigil_serve::Timeouts { header: short, body: short, idle: short, write: short },
            workers: 1,
            routing: ROUTING.get_or_init(|| sigil_engine::Routing::Auto),
            timestamp_field: None,
            lookups: &[],
            max_groups: 1_000,
            max_distinct_values: 100,
        };
        let sink = sigil_seal::LineSink::new(Box::new(std::io::sink()) as Box<dyn Write + Send>, None);
        sigil_serve::serve(crate::fixtures::engine(), listener, options, sink, stopping).expect("the server runs");
    });
    Running { address, stop }
}

fn server() -> SocketAddr {
    static SERVER: Mutex<Option<Running>> = Mutex::new(None);
    let mut running = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    if running.as_ref().is_none_or(|r| r.stop.load(Ordering::SeqCst)) {
        *running = Some(start());
    }
    running.as_ref().expect("started").address
}

pub fn run(data: &[u8]) {
    let address = server();
    let mut stream = loop {
        match TcpStream::connect(address) {
            Ok(stream) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("the fuzzed server refused a connection: {e}"),
        }
    };
    stream.set_read_timeout(Some(ANSWER_WITHIN)).expect("a timeout");
    // The server may answer and close before it has read everything: a failed write is normal.
    let _ = stream.write_all(data).and_then(|_| stream.write_all(TRAILER));
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if answer.len() < 1 << 20 => answer.extend_from_slice(&chunk[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            // libFuzzer's timer signal (its -timeout) interrupts a blocked read now and then.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("the server neither answered nor closed within {ANSWER_WITHIN:?}: {e}"),
        }
    }
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1."),
        "the server answered with something else than HTTP/1.x: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
}
