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
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage as Publish;
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
    let js = connect::jetstream(client.clone(), Duration::from_secs(30));
    let mut counts = Counts::default();
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::new();
    while let Some(event) = events.recv().await {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(SOURCE_HEADER, &*event.source);
        headers.insert(POSITION_HEADER, event.position.to_string().as_str());
        let message = Publish::build()
            .payload(event.payload)
            .headers(headers)
            .message_id(ids::event(&event.source, event.position));
        let ack =
            js.send_publish(subject.to_string(), message).await.map_err(|e| format!("publish to {subject}: {e}"))?;
        pending.push_back(ack);
        counts.sent += 1;
        while pending.len() >= window.max(1) {
            settle(pending.pop_front(), &mut counts).await?;
        }
    }
    while let Some(ack) = pending.pop_front() {
        settle(Some(ack), &mut counts).await?;
    }
    client.flush().await.map_err(|e| e.to_string())?;
    Ok(counts)
}

async fn settle(ack: Option<PublishAckFuture>, counts: &mut Counts) -> Result<(), String> {
    let Some(ack) = ack else { return Ok(()) };
    let ack = ack.await.map_err(|e| format!("the stream did not store an event: {e}"))?;
    if ack.duplicate {
        counts.duplicates += 1;
    } else {
        counts.stored += 1;
    }
    Ok(())
}

/// The channel a reader thread hands events to [`run`] through (`blocking_send` on its side).
pub fn channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Outgoing>, tokio::sync::mpsc::Receiver<Outgoing>) {
    tokio::sync::mpsc::channel(capacity.max(1))
}

/// The sending half of [`channel`].
pub type Sender = tokio::sync::mpsc::Sender<Outgoing>;
