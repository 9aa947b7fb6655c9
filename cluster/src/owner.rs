//! One owned correlation partition: its checkpoint restored, the feeds after it replayed and
//! then followed, in the feeds stream's order, through a `Correlator`; the correlation alerts
//! published (ids from the partition and the feed's sequence, so a replay publishes the same
//! ids and stores nothing twice); the windows checkpointed with the last feed applied.
//!
//! It owns a partition's state while its lease is held; it never decides which partition it
//! runs ([`crate::lease`] and [`crate::worker`] do) and checkpoints with compare-and-set, so a
//! stale owner that lost its lease cannot overwrite the new owner's checkpoint.

use crate::feed::FeedMessage;
use crate::ids;
use crate::metrics::Metrics;
use crate::Topology;
use async_nats::jetstream::{self, consumer, kv::Store};
use futures_util::StreamExt;
use sigil_engine::correlate::{Correlator, EventRef, SavedState};
use sigil_engine::{session, Plan};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Why an owner stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Run,
    /// Checkpoint and stop (the partition is given to another worker, or the worker drains).
    Release,
    /// The lease is lost: stop at once, write nothing.
    Lost,
}

/// A partition's saved state: the windows after applying feeds up to `last_seq`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub last_seq: u64,
    /// The time given to feeds of events without a readable one.
    pub last_time: i64,
    pub state: SavedState,
}

pub fn checkpoint_key(p: u32) -> String {
    format!("p.{p}")
}

/// What every owner of one worker shares.
pub struct Shared {
    pub js: jetstream::Context,
    pub topology: Topology,
    pub plan: Arc<Plan>,
    pub max_groups: usize,
    pub checkpoints: Store,
    pub metrics: Arc<Metrics>,
    pub checkpoint_every: Duration,
}

/// Runs partition `p` until told to stop; returns after the final checkpoint (on release) or
/// at once (on loss). An error (the checkpoint was fenced, the stream unreachable) ends the
/// ownership without a checkpoint: the next owner replays from the last good one.
pub async fn run(shared: Arc<Shared>, p: u32, mut stop: watch::Receiver<Stop>) -> Result<(), String> {
    let key = checkpoint_key(p);
    let mut correlator = Correlator::new(&shared.plan, shared.max_groups);
    let (mut revision, mut last_seq, mut last_time) = match shared.checkpoints.entry(&key).await {
        Ok(Some(entry)) if !entry.value.is_empty() => {
            let saved: Checkpoint = serde_json::from_slice(&entry.value)
                .map_err(|e| format!("partition {p}: unreadable checkpoint: {e}"))?;
            correlator.restore(saved.state).map_err(|e| format!("partition {p}: {e}"))?;
            (entry.revision, saved.last_seq, saved.last_time)
        }
        Ok(Some(entry)) => (entry.revision, 0, 0),
        Ok(None) => (0, 0, 0),
        Err(e) => return Err(format!("partition {p}: reading the checkpoint: {e}")),
    };
    let feeds = shared.js.get_stream(&shared.topology.feeds.name).await.map_err(|e| format!("feeds stream: {e}"))?;
    let deliver_policy = if last_seq == 0 {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::ByStartSequence { start_sequence: last_seq + 1 }
    };
    let reader = feeds
        .create_consumer(consumer::pull::Config {
            filter_subject: shared.topology.feed_subject(p),
            deliver_policy,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            num_replicas: 1,
            memory_storage: true,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("partition {p}: reading its feeds: {e}"))?;
    let correlation_subject = shared.topology.correlation_subject();
    let mut applied_since = 0u64;
    let mut checkpointed_at = Instant::now();
    loop {
        match *stop.borrow() {
            Stop::Run => {}
            Stop::Lost => return Ok(()),
            Stop::Release => break,
        }
        let mut batch = reader
            .batch()
            .max_messages(512)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| format!("partition {p}: fetching feeds: {e}"))?;
        let mut acks = Vec::new();
        let mut applied = 0u64;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| format!("partition {p}: fetching feeds: {e}"))?;
            let seq = message.info().map_err(|e| format!("partition {p}: {e}"))?.stream_sequence;
            if seq <= last_seq {
                continue;
            }
            let feed: FeedMessage = match serde_json::from_slice(&message.payload) {
                Ok(f) => f,
                Err(e) => {
                    // Only workers publish here; a message that is not a feed is skipped, loudly.
                    eprintln!("sigil: worker: partition {p}: feed {seq} is unreadable ({e}): skipped");
                    last_seq = seq;
                    continue;
                }
            };
            let time = feed.time.unwrap_or(last_time);
            last_time = time;
            let evidence = EventRef { file: Arc::from(feed.file.as_str()), line: feed.line };
            let mut lines = Vec::new();
            session::observe(
                &mut correlator,
                time,
                evidence,
                feed.feeds.into_iter().map(|f| f.into_feed()).collect(),
                &mut |alert| {
                    let mut line = Vec::new();
                    session::json_line(&mut line, alert);
                    line.pop();
                    lines.push(line);
                },
            );
            for (k, line) in lines.into_iter().enumerate() {
                let publish = jetstream::message::PublishMessage::build()
                    .payload(line.into())
                    .message_id(ids::correlation(p, seq, k));
                let ack = shared
                    .js
                    .send_publish(correlation_subject.clone(), publish)
                    .await
                    .map_err(|e| format!("partition {p}: publishing an alert: {e}"))?;
                acks.push(ack);
            }
            last_seq = seq;
            applied += 1;
        }
        let alerts = acks.len() as u64;
        for ack in acks {
            ack.await.map_err(|e| format!("partition {p}: an alert was not stored: {e}"))?;
        }
        Metrics::add(&shared.metrics.correlation_alerts, alerts);
        Metrics::add(&shared.metrics.feeds_applied, applied);
        applied_since += applied;
        if applied_since > 0 && checkpointed_at.elapsed() >= shared.checkpoint_every {
            revision = save(&shared, p, revision, last_seq, last_time, &correlator).await?;
            applied_since = 0;
            checkpointed_at = Instant::now();
        }
        if stop.has_changed().unwrap_or(true) {
            let _ = stop.borrow_and_update();
        }
    }
    if applied_since > 0 || revision == 0 {
        save(&shared, p, revision, last_seq, last_time, &correlator).await?;
    }
    Ok(())
}

/// Writes the checkpoint at the revision last read or written; fails when another owner wrote
/// since (this one lost the partition).
async fn save(
    shared: &Shared,
    p: u32,
    revision: u64,
    last_seq: u64,
    last_time: i64,
    correlator: &Correlator,
) -> Result<u64, String> {
    let checkpoint = Checkpoint { last_seq, last_time, state: correlator.save() };
    let bytes = serde_json::to_vec(&checkpoint).expect("a checkpoint serializes");
    let key = checkpoint_key(p);
    let written = if revision == 0 {
        shared.checkpoints.create(&key, bytes.into()).await.map_err(|e| e.to_string())
    } else {
        shared.checkpoints.update(&key, bytes.into(), revision).await.map_err(|e| e.to_string())
    };
    let revision =
        written.map_err(|e| format!("partition {p}: checkpoint refused ({e}): another worker owns it now"))?;
    Metrics::add(&shared.metrics.checkpoints, 1);
    Ok(revision)
}
