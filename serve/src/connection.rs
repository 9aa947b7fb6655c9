//! Connections: accepted up to a cap (past it, a new connection gets a one-line 503 written
//! without waiting and is closed at once, and counted), TLS handshakes within the header
//! timeout, HTTP/1.1 by hyper with its header-read timeout (which also ends connections idle
//! between requests), and a watchdog that closes a connection whose client stopped reading its
//! answers or that sits idle with no request under way. On stop, no new connection is taken,
//! idle ones close, and requests under way finish.
//!
//! This module never reads a request: [`crate::routes`] answers them.

use crate::io::{Activity, Watched};
use crate::{routes, Shared};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

/// How long the server waits, on stop, for requests under way.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The answer a connection over the cap gets, written only if the socket takes it at once.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 63\r\nConnection: close\r\n\r\n{\"error\":\"too many connections: try again later\",\"status\":503}\n";

/// Accepts connections until the server is told to stop, then waits for those open to finish.
pub async fn accept_until_stopped(shared: Arc<Shared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let closed = Arc::new(Notify::new());
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tick.tick() => {
                if shared.stop.load(Ordering::SeqCst) { break }
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: wait for some to be freed.
                eprintln!("sigil: serve: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let counts = &shared.counts;
        if counts.connections_open.load(Ordering::SeqCst) >= shared.max_connections as u64 {
            if tls.is_none() {
                let _ = stream.try_write(OVER_CAPACITY);
            }
            let refused = counts.connections_refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused == 1 || refused.is_multiple_of(1000) {
                eprintln!(
                    "sigil: serve: {peer}: connection refused: {} open, the most allowed (--max-connections); {refused} refused so far",
                    shared.max_connections
                );
            }
            continue;
        }
        counts.connections_open.fetch_add(1, Ordering::SeqCst);
        counts.connections_accepted.fetch_add(1, Ordering::Relaxed);
        let (shared, tls, closed) = (Arc::clone(&shared), tls.clone(), Arc::clone(&closed));
        tokio::spawn(async move {
            let open = Open { shared: Arc::clone(&shared), closed };
            serve_connection(shared, stream, peer, tls).await;
            drop(open);
        });
    }
    drop(listener);
    let _ = shared.stopping.send(true);
    let grace = tokio::time::sleep(STOP_GRACE);
    tokio::pin!(grace);
    while shared.counts.connections_open.load(Ordering::SeqCst) > 0 {
        tokio::select! {
            _ = closed.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = &mut grace => {
                eprintln!("sigil: serve: {} connections still open after {} s: closed", shared.counts.connections_open.load(Ordering::SeqCst), STOP_GRACE.as_secs());
                break;
            }
        }
    }
}

/// An open connection, counted until dropped.
struct Open {
    shared: Arc<Shared>,
    closed: Arc<Notify>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.shared.counts.connections_open.fetch_sub(1, Ordering::SeqCst);
        self.closed.notify_one();
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    let socket = Some(std::os::fd::AsRawFd::as_raw_fd(&stream));
    let Some(acceptor) = tls else {
        return serve_http(shared, stream, peer, socket).await;
    };
    match tokio::time::timeout(shared.timeouts.header, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(shared, stream, peer, socket).await,
        Ok(Err(e)) => eprintln!("sigil: serve: {peer}: TLS handshake refused: {e}"),
        Err(_) => eprintln!(
            "sigil: serve: {peer}: no TLS handshake within {} s (--header-timeout): closed",
            shared.timeouts.header.as_secs_f64()
        ),
    }
}

async fn serve_http<T>(shared: Arc<Shared>, stream: T, peer: SocketAddr, socket: Option<std::os::fd::RawFd>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity), Arc::clone(&shared), peer, socket));
    let service = {
        let (shared, activity) = (Arc::clone(&shared), Arc::clone(&activity));
        service_fn(move |request| routes::handle(Arc::clone(&shared), peer, Arc::clone(&activity), request))
    };
    let timeouts = shared.timeouts;
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header)
        .max_header_size(crate::MAX_HEAD)
        .title_case_headers(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = shared.stopping.subscribe();
    let mut told_to_stop = false;
    let check_every = (timeouts.idle.min(timeouts.write) / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut watchdog = tokio::time::interval(check_every);
    loop {
        tokio::select! {
            finished = connection.as_mut() => {
                if let Err(e) = finished {
                    if e.is_timeout() {
                        eprintln!(
                            "sigil: serve: {peer}: no complete request head within {} s (--header-timeout): closed",
                            timeouts.header.as_secs_f64()
                        );
                    }
                }
                return;
            }
            _ = stopping.wait_for(|s| *s), if !told_to_stop => {
                told_to_stop = true;
                connection.as_mut().graceful_shutdown();
                // A connection that never sent a byte is no request under way.
                if activity.bytes_read.load(Ordering::Relaxed) == 0 {
                    return;
                }
            }
            _ = watchdog.tick() => {
                if let Some(stuck) = activity.write_stuck_ms() {
                    if stuck > timeouts.write.as_millis() as u64 {
                        eprintln!(
                            "sigil: serve: {peer}: the client has not read its answer for {} s: closed",
                            timeouts.write.as_secs_f64()
                        );
                        return;
                    }
                }
                let idle = activity.in_flight.load(Ordering::Relaxed) == 0 && activity.write_stuck_ms().is_none();
                if idle && activity.idle_ms() > timeouts.idle.as_millis() as u64 {
                    return;
                }
            }
        }
    }
}
