//! The HTTP/1.1 that `sigil serve` speaks: request heads (parsed by `httparse`), bodies of a
//! declared `Content-Length` up to a limit, keep-alive, and JSON responses.
//!
//! Every limit is enforced before memory is committed: a head is at most [`MAX_HEAD`] bytes, a
//! body is refused from its declared length (the connection is then closed, never drained),
//! a request that takes longer than [`REQUEST_TIMEOUT`] to arrive is dropped, and so is a
//! connection idle for [`IDLE_TIMEOUT`] or whose client stops reading for [`WRITE_TIMEOUT`],
//! so no client holds a connection slot for ever. A body is framed by one `Content-Length`
//! only: any other framing (a second length, a `Transfer-Encoding`) is never guessed at, as a
//! proxy in front could read it otherwise and smuggle a request in. This module decides
//! nothing about paths, tokens or events: that is the server's.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Request line and headers together.
pub const MAX_HEAD: usize = 16 << 10;
const MAX_HEADERS: usize = 64;
/// A request must have fully arrived this long after its first byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A keep-alive connection with no request under way is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A response that the client has not taken whole this long after it was sent closes the
/// connection (a deadline for the response, not for each write: a peer's kernel that frees a
/// little room now and then would renew a per-write timeout for ever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a blocked read wakes to notice a shutdown.
const POLL: Duration = Duration::from_millis(200);

/// A request head.
pub struct Head {
    pub method: String,
    pub path: String,
    headers: Vec<(String, String)>,
    pub content_length: Option<usize>,
    pub chunked: bool,
    pub keep_alive: bool,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why no request head could be read.
pub enum HeadError {
    /// The peer closed the connection, or the connection is idle and the server stopping or
    /// done waiting for it.
    Closed,
    /// A malformed or oversized request: answer with this status and message, then close.
    Bad(u16, String),
}

/// One client connection: reads requests one after another and answers each.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read past the current request (a pipelining client's next request).
    buffer: Vec<u8>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> io::Result<Connection> {
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(POLL))?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: Vec::new() })
    }

    /// Reads the next request head. While the connection is idle (no byte of a request yet),
    /// `stop` closes it.
    pub fn read_head(&mut self, stop: &AtomicBool) -> Result<Head, HeadError> {
        let mut started: Option<Instant> = (!self.buffer.is_empty()).then(Instant::now);
        loop {
            if let Some(head) = self.parse_head()? {
                return Ok(head);
            }
            if self.buffer.len() >= MAX_HEAD {
                return Err(HeadError::Bad(431, format!("the request head is longer than {MAX_HEAD} bytes")));
            }
            match self.fill(&mut started, stop)? {
                0 if self.buffer.is_empty() => return Err(HeadError::Closed),
                0 => return Err(HeadError::Bad(400, "the connection closed in the middle of a request head".into())),
                _ => {}
            }
        }
    }

    fn parse_head(&mut self) -> Result<Option<Head>, HeadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let length = match request.parse(&self.buffer) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HeadError::Bad(400, format!("not an HTTP/1.1 request: {e}"))),
        };
        let version = request.version.unwrap_or(1);
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).trim().to_string()))
            .collect();
        let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let all = |name: &'static str| headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name));
        let mut content_length = None;
        for (_, v) in all("content-length") {
            // Digits only (`+5` parses as a usize), and one value: RFC 9112, section 6.3.
            let n = Some(v)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| HeadError::Bad(400, format!("Content-Length '{v}' is not a number of bytes")))?;
            if content_length.is_some_and(|first| first != n) {
                return Err(HeadError::Bad(400, "two different Content-Length headers: send one".into()));
            }
            content_length = Some(n);
        }
        let chunked = all("transfer-encoding").any(|(_, v)| !v.eq_ignore_ascii_case("identity"));
        let connection = find("connection").map(str::to_ascii_lowercase).unwrap_or_default();
        let keep_alive = if version == 0 { connection.contains("keep-alive") } else { !connection.contains("close") };
        let head = Head {
            method: request.method.unwrap_or_default().to_string(),
            path: request.path.unwrap_or_default().to_string(),
            headers,
            content_length,
            chunked,
            keep_alive,
        };
        self.buffer.drain(..length);
        Ok(Some(head))
    }

    /// Reads a body of exactly `length` bytes (already checked against the limit).
    pub fn read_body(&mut self, length: usize, stop: &AtomicBool) -> Result<Vec<u8>, HeadError> {
        let mut started = Some(Instant::now());
        while self.buffer.len() < length {
            if self.fill(&mut started, stop)? == 0 {
                return Err(HeadError::Bad(
                    400,
                    format!("the connection closed after {} of {length} body bytes", self.buffer.len()),
                ));
            }
        }
        let rest = self.buffer.split_off(length);
        Ok(std::mem::replace(&mut self.buffer, rest))
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    fn fill(&mut self, started: &mut Option<Instant>, stop: &AtomicBool) -> Result<usize, HeadError> {
        let mut chunk = [0u8; 64 << 10];
        let waiting = Instant::now();
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    started.get_or_insert_with(Instant::now);
                    self.buffer.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => match started {
                    None if stop.load(Ordering::Relaxed) || waiting.elapsed() > IDLE_TIMEOUT => {
                        return Err(HeadError::Closed)
                    }
                    Some(t) if t.elapsed() > REQUEST_TIMEOUT => {
                        let waited = REQUEST_TIMEOUT.as_secs();
                        return Err(HeadError::Bad(408, format!("the request did not arrive within {waited} s")));
                    }
                    _ => {}
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(HeadError::Closed),
            }
        }
    }

    /// Sends a JSON response.
    pub fn respond(&mut self, status: u16, body: &[u8], close: bool, extra: &[(&str, &str)]) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            reason(status),
            body.len()
        );
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let deadline = Instant::now() + WRITE_TIMEOUT;
        self.send(head.as_bytes(), deadline)?;
        self.send(body, deadline)
    }

    /// Writes all of `bytes`, unless the client has not taken them by `deadline`.
    fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if Instant::now() > deadline {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
