//! A connection's byte stream as hyper sees it, watched: when bytes last moved, since when a
//! write has been stuck (a client that never reads its answers), and how many requests are
//! under way; and hyper's own answer to a malformed request head (an empty 400, 414 or 431)
//! replaced by the server's JSON error, counted and logged like every other refusal.
//!
//! This module decides nothing about requests: [`crate::connection`] reads [`Activity`] to
//! close a stalled connection, and [`crate::routes`] answers the well-formed ones.

use crate::Shared;
use serde_json::json;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a connection's watchdog reads.
pub struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` when a byte was last read or written.
    last_progress: AtomicU64,
    /// Milliseconds since `epoch` + 1 when a write started waiting for the client; 0 when none is.
    write_stuck_since: AtomicU64,
    pub bytes_read: AtomicU64,
    /// A request head on this connection had both `Content-Length` and `Transfer-Encoding`
    /// (hyper keeps only the latter, so the handler could not tell).
    pub ambiguous_framing: AtomicBool,
    /// Requests whose handler (or streamed answer) is running.
    pub in_flight: AtomicUsize,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_progress: AtomicU64::new(0),
            write_stuck_since: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            ambiguous_framing: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn progressed(&self) {
        self.last_progress.store(self.now(), Ordering::Relaxed);
    }

    /// Milliseconds since bytes last moved.
    pub fn idle_ms(&self) -> u64 {
        self.now().saturating_sub(self.last_progress.load(Ordering::Relaxed))
    }

    /// Milliseconds a write has waited for the client to read, if one is waiting.
    pub fn write_stuck_ms(&self) -> Option<u64> {
        match self.write_stuck_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(self.now().saturating_sub(since - 1)),
        }
    }

    fn write_waits(&self) {
        let now = self.now() + 1;
        let _ = self.write_stuck_since.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn wrote(&self) {
        self.write_stuck_since.store(0, Ordering::Relaxed);
        self.progressed();
    }
}

/// Counts a request as under way while it lives.
pub struct InFlight(Arc<Activity>);

impl InFlight {
    pub fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The stream hyper reads and writes.
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// The server's answer replacing hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
    framing: HeaderLines,
    /// The TCP socket, to acknowledge what was read at once (Linux: TCP_QUICKACK).
    socket: Option<std::os::fd::RawFd>,
}

impl<T> Watched<T> {
    pub fn new(
        inner: T,
        activity: Arc<Activity>,
        shared: Arc<Shared>,
        peer: SocketAddr,
        socket: Option<std::os::fd::RawFd>,
    ) -> Self {
        Watched { inner, activity, shared, peer, replacement: None, framing: HeaderLines::default(), socket }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut self.inner).poll_read(cx, buf));
        let read = buf.filled().len() - before;
        if read > 0 {
            let this = &mut *self;
            if this.framing.scan(&buf.filled()[before..]) {
                this.activity.ambiguous_framing.store(true, Ordering::Relaxed);
            }
            if let Some(socket) = this.socket {
                acknowledge_now(socket);
            }
            self.activity.bytes_read.fetch_add(read as u64, Ordering::Relaxed);
            self.activity.progressed();
        }
        Poll::Ready(result)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacement.is_none() {
            if let Some(status) = hyper_error_status(buf) {
                let answer = self.shared.refuse_malformed_head(self.peer, status);
                self.replacement = Some((answer, 0));
            }
        }
        let this = &mut *self;
        if let Some((answer, written)) = &mut this.replacement {
            // hyper is told its whole answer went out once the server's has.
            while *written < answer.len() {
                match Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        *written += n;
                        this.activity.wrote();
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        this.activity.write_waits();
                        return Poll::Pending;
                    }
                }
            }
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Pending => {
                this.activity.write_waits();
                Poll::Pending
            }
            Poll::Ready(result) => {
                this.activity.wrote();
                Poll::Ready(result)
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => {
                self.activity.write_waits();
                Poll::Pending
            }
            Poll::Ready(result) => Poll::Ready(result),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Asks the kernel to acknowledge what was read without its usual delay. A client that writes
/// a head and then its body (with Nagle's algorithm on, as most sockets are) holds the body back
/// until the head is acknowledged; a delayed acknowledgement would stall each such request by
/// up to 40 ms. The kernel clears the flag by itself, so it is set after every read.
#[cfg(target_os = "linux")]
fn acknowledge_now(socket: std::os::fd::RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `on` (of the size given) and touches nothing else; a socket
    // already closed only makes it fail, which is harmless here.
    unsafe {
        libc::setsockopt(
            socket,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn acknowledge_now(_socket: std::os::fd::RawFd) {}

/// Watches the lines read for a head framing a body twice: a `Content-Length` and a
/// `Transfer-Encoding` line with no blank line (the end of a head) between them. Only the first
/// bytes of each line are kept.
#[derive(Default)]
struct HeaderLines {
    /// The first bytes of the line being read.
    line: [u8; HeaderLines::KEPT],
    kept: usize,
    content_length: bool,
    transfer_encoding: bool,
}

impl HeaderLines {
    const KEPT: usize = 20;

    /// Scans `bytes`; true when a head framed its body both ways.
    fn scan(&mut self, mut bytes: &[u8]) -> bool {
        let mut ambiguous = false;
        loop {
            let end = memchr::memchr(b'\n', bytes);
            let piece = &bytes[..end.unwrap_or(bytes.len())];
            let room = Self::KEPT - self.kept;
            let taken = piece.len().min(room);
            self.line[self.kept..self.kept + taken].copy_from_slice(&piece[..taken]);
            self.kept += taken;
            let Some(end) = end else { return ambiguous };
            let line = &self.line[..self.kept];
            let starts = |name: &[u8]| line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name);
            if line.is_empty() || line == b"\r" {
                self.content_length = false;
                self.transfer_encoding = false;
            } else if starts(b"content-length:") {
                self.content_length = true;
            } else if starts(b"transfer-encoding:") {
                self.transfer_encoding = true;
            }
            ambiguous |= self.content_length && self.transfer_encoding;
            self.kept = 0;
            bytes = &bytes[end + 1..];
        }
    }
}

/// The status of hyper's own answer to a request head it could not parse: an error status
/// whose head has no `Content-Type` (every answer of the server has one).
fn hyper_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = buf[..head_end].to_ascii_lowercase();
    let typed = memchr::memmem::find(&head, b"\r\ncontent-type:").is_some();
    (status >= 400 && !typed).then_some(status)
}

/// The server's answer to a malformed request head with this status.
pub fn malformed_head_answer(status: u16, message: &str) -> Vec<u8> {
    let body = json!({"error": message, "status": status}).to_string();
    let reason = match status {
        400 => "Bad Request",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What a malformed head with this status means, for the client and the log.
pub fn malformed_head_message(status: u16) -> &'static str {
    match status {
        431 => "the request head is too large (at most 16 KiB)",
        414 => "the request target is too long",
        _ => "a malformed request: its request line or a header (such as Content-Length) cannot be read as HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::{hyper_error_status, HeaderLines};

    #[test]
    fn a_head_with_both_framings_is_seen_across_reads() {
        let mut lines = HeaderLines::default();
        assert!(!lines.scan(b"POST /events HTTP/1.1\r\nTransfer-Enc"));
        assert!(lines.scan(b"oding: chunked\r\nContent-Length: 3\r\n\r\n"));
        let mut lines = HeaderLines::default();
        assert!(!lines.scan(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n{}\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
    }

    #[test]
    fn only_an_untyped_error_answer_is_hypers() {
        assert_eq!(hyper_error_status(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"), Some(400));
        assert_eq!(hyper_error_status(b"HTTP/1.1 431 X\r\nContent-Length: 0\r\nDate: x\r\n\r\n"), Some(431));
        assert_eq!(hyper_error_status(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{}"), None);
        assert_eq!(hyper_error_status(b"HTTP/1.1 100 Continue\r\n\r\n"), None);
        assert_eq!(hyper_error_status(b"{\"a\":1}"), None);
    }
}
