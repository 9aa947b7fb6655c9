//! `sigil publish`: events into the events stream, one message per event, each with a
//! `Nats-Msg-Id` derived from its source and position ([`crate::ids::event`]) so that
//! publishing the same input again stores nothing new (within the stream's duplicate window).
//!
//! It owns the publishing and its counts; reading files (JSON Lines, `Records`, EVTX, gzip) is
//! the CLI's, which hands over one [`Outgoing`] per event. Headers `Sigil-Source` and
//! `Sigil-Position` carry where the event came from, so a worker's alerts name the same file
//! and line as `sigil hunt`'s.

use crate::connect::{self, Endpoint};
use crate::ids;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, context::PublishAckFuture};
use std::collections::VecDeque;
use std::time::Duration;

pub const SOURCE_HEADER: &str = "Sigil-Source";
pub const POSITION_HEADER: &str = "Sigil-Position";

/// One event as read: its source name (the path as given, `-` for stdin), its line or
/// position, and its JSON text.
pub struct Outgoing {
    pub source: std::sync::Arc<str>,
    pub position: u64,
    pub payload: bytes::Bytes,
}

/// What a publish came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Messages sent.
    pub sent: u64,
    /// Of those, stored for the first time.
    pub stored: u64,
    /// Of those, already in the stream (the same id within the duplicate window).
    pub duplicates: u64,
}

/// Publishes what arrives on `events` to `subject` until the channel closes; acknowledgements
/// are awaited in a window of `window` messages, and all of them before returning.
pub async fn run(
    endpoint: &Endpoint,
    subject: &str,
    mut events: tokio::sync::mpsc::Receiver<Outgoing>,
    window: usize,
) -> Result<Counts, String> {
    let client = endpoint.connect().await?;
    let js = connect::jetstream(client.clone(), Duration::from_secs(5));
    let mut counts = Counts::default();
    let mut pending: VecDeque<(PublishAckFuture, Outgoing)> = VecDeque::new();
    let mut failures = 0;
    while let Some(event) = events.recv().await {
        let ack = send_retrying(&js, subject, &event).await?;
        pending.push_back((ack, event));
        counts.sent += 1;
        while pending.len() >= window.max(1) {
            settle_front(&js, subject, &mut pending, &mut counts, &mut failures).await?;
        }
    }
    while !pending.is_empty() {
        settle_front(&js, subject, &mut pending, &mut counts, &mut failures).await?;
    }
    client.flush().await.map_err(|e| e.to_string())?;
    Ok(counts)
}

async fn send(js: &jetstream::Context, subject: &str, event: &Outgoing) -> Result<PublishAckFuture, String> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(SOURCE_HEADER, &*event.source);
    headers.insert(POSITION_HEADER, event.position.to_string().as_str());
    let message = Publish::build()
        .payload(event.payload.clone())
        .headers(headers)
        .message_id(ids::event(&event.source, event.position));
    js.send_publish(subject.to_string(), message).await.map_err(|e| format!("publish to {subject}: {e}"))
}

/// [`send`], again a few times when the client cannot send (no server reachable for a moment).
async fn send_retrying(js: &jetstream::Context, subject: &str, event: &Outgoing) -> Result<PublishAckFuture, String> {
    let mut attempt = 0;
    loop {
        match send(js, subject, event).await {
            Ok(ack) => return Ok(ack),
            Err(e) if attempt >= RETRIES => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Waits for the oldest message's acknowledgement. When it does not come (a server lost, a
/// stream leader being elected), the messages after it were most likely lost too: all of them
/// are sent again at once, under the same ids (what was stored is not stored twice), rather
/// than each waiting out its own timeout.
async fn settle_front(
    js: &jetstream::Context,
    subject: &str,
    pending: &mut VecDeque<(PublishAckFuture, Outgoing)>,
    counts: &mut Counts,
    failures: &mut u32,
) -> Result<(), String> {
    let Some((ack, event)) = pending.pop_front() else { return Ok(()) };
    match ack.await {
        Ok(ack) => {
            *failures = 0;
            if ack.duplicate {
                counts.duplicates += 1;
            } else {
                counts.stored += 1;
            }
            Ok(())
        }
        Err(e) => {
            *failures += 1;
            if *failures > RETRIES {
                return Err(format!("the stream did not store an event ({}:{}): {e}", event.source, event.position));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let unsettled: Vec<Outgoing> =
                std::iter::once(event).chain(std::mem::take(pending).into_iter().map(|(_, e)| e)).collect();
            for event in unsettled {
                let ack = send_retrying(js, subject, &event).await?;
                pending.push_back((ack, event));
            }
            Ok(())
        }
    }
}

/// Times an unacknowledged event is sent again before `publish` gives up.
const RETRIES: u32 = 20;

/// The channel a reader thread hands events to [`run`] through (`blocking_send` on its side).
pub fn channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Outgoing>, tokio::sync::mpsc::Receiver<Outgoing>) {
    tokio::sync::mpsc::channel(capacity.max(1))
}

/// The sending half of [`channel`].
pub type Sender = tokio::sync::mpsc::Sender<Outgoing>;
