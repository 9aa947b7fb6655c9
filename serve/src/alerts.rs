//! `GET /alerts`: the alert lines as the server writes them, to each read-role subscriber, as
//! chunked JSON Lines (`application/x-ndjson`) or server-sent events (`Accept:
//! text/event-stream`). Each subscriber has a bounded buffer: one that reads too slowly misses
//! lines and is told how many (`{"kind":"lagged","missed":N}`), and ingestion never waits for
//! it. The alert output (standard output or `-o FILE`) is written whatever subscribers do.
//!
//! This module never writes the alert output; it only relays what [`crate::pool`] publishes.

use crate::body::Answer;
use crate::io::InFlight;
use crate::routes::json_answer;
use crate::Shared;
use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};

/// Alert lines each subscriber may fall behind by before it misses some.
pub const BUFFERED_LINES: usize = 4096;

/// Starts streaming the alerts to one subscriber.
pub fn subscribe(
    shared: &Arc<Shared>,
    head: &hyper::http::request::Parts,
    in_flight: InFlight,
    close: bool,
) -> Response<Answer> {
    let sse = head
        .headers
        .get(header::ACCEPT)
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("text/event-stream")));
    let lines = shared.alerts.subscribe();
    let stopping = shared.stopping.subscribe();
    if *stopping.borrow() {
        return json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"error": "the server is stopping", "status": 503}),
            true,
        );
    }
    shared.counted_ok();
    let (frames, body) = mpsc::channel::<Bytes>(16);
    tokio::spawn(relay(lines, frames, stopping, sse));
    let mut answer = Response::new(Answer::Stream { lines: body, _in_flight: in_flight });
    let kind = if sse { "text/event-stream" } else { "application/x-ndjson" };
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    answer.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if close {
        answer.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    answer
}

/// Relays published lines to one subscriber's answer until the server stops or the subscriber
/// goes; lines it fell behind on are replaced by one `lagged` line saying how many.
async fn relay(
    mut lines: broadcast::Receiver<Bytes>,
    frames: mpsc::Sender<Bytes>,
    mut stopping: watch::Receiver<bool>,
    sse: bool,
) {
    loop {
        // Lines already published go out before the stop is heeded: a subscriber gets every
        // alert written while it was subscribed.
        let next = tokio::select! {
            biased;
            next = lines.recv() => next,
            _ = stopping.wait_for(|s| *s) => break,
            _ = frames.closed() => return,
        };
        let frame = match next {
            Ok(line) => frame(&line, sse, None),
            Err(broadcast::error::RecvError::Lagged(missed)) => lagged(missed, sse),
            Err(broadcast::error::RecvError::Closed) => return,
        };
        // A subscriber that stops reading fills its channel and misses lines (`lagged`);
        // one that never reads again is closed by its connection's write timeout.
        if frames.send(frame).await.is_err() {
            return;
        }
    }
    loop {
        let frame = match lines.try_recv() {
            Ok(line) => frame(&line, sse, None),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => lagged(missed, sse),
            Err(_) => return,
        };
        if frames.send(frame).await.is_err() {
            return;
        }
    }
}

/// The line telling a subscriber it missed `missed` alert lines.
fn lagged(missed: u64, sse: bool) -> Bytes {
    frame(format!("{{\"kind\":\"lagged\",\"missed\":{missed}}}\n").as_bytes(), sse, Some("lagged"))
}

/// One alert line (with its newline) as the subscriber reads it.
fn frame(line: &[u8], sse: bool, event: Option<&str>) -> Bytes {
    if !sse {
        return Bytes::copy_from_slice(line);
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    if let Some(event) = event {
        out.extend_from_slice(format!("event: {event}\n").as_bytes());
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_that_falls_behind_is_told_how_many_lines_it_missed() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let frames = runtime.block_on(async {
            let (publish, lines) = broadcast::channel(4);
            let (stop, stopping) = watch::channel(false);
            for n in 0..10 {
                publish.send(Bytes::from(format!("{{\"n\":{n}}}\n"))).unwrap();
            }
            let _ = stop.send(true);
            let (frames, mut answer) = mpsc::channel(100);
            relay(lines, frames, stopping, false).await;
            let mut got = Vec::new();
            while let Some(frame) = answer.recv().await {
                got.push(String::from_utf8(frame.to_vec()).unwrap());
            }
            got
        });
        assert_eq!(
            frames,
            ["{\"kind\":\"lagged\",\"missed\":6}\n", "{\"n\":6}\n", "{\"n\":7}\n", "{\"n\":8}\n", "{\"n\":9}\n"]
        );
    }

    #[test]
    fn server_sent_events_carry_one_line_each() {
        assert_eq!(&frame(b"{\"a\":1}\n", true, None)[..], b"data: {\"a\":1}\n\n");
        assert_eq!(&lagged(3, true)[..], b"event: lagged\ndata: {\"kind\":\"lagged\",\"missed\":3}\n\n");
    }
}
