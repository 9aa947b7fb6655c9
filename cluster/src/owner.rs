//! One owned correlation partition: its checkpoint restored, its feeds read from the feeds
//! stream and applied through a `Correlator` in the order of their events in the events stream
//! (the order `sigil hunt` reads the same input in), the correlation alerts published, the
//! windows checkpointed.
//!
//! Feeds from different workers reach a partition interleaved. The owner therefore buffers
//! them and applies, in event order, only those whose event is at or below the shared
//! consumer's ack floor: every event up to the floor has been evaluated and its feeds stored
//! (a worker acks an event only after its feeds are stored), so once the owner has read its
//! feed subject to the end, nothing earlier can still arrive. Firing is then exactly `hunt`'s
//! over the events stream's order, however the workers interleave, and deterministic: a new
//! owner that restores the checkpoint and replays from it applies the same feeds in the same
//! order, and its alerts carry the same ids (partition, event sequence, k-th alert), which the
//! alerts stream's duplicate window stores once.
//!
//! It owns a partition's state while its lease is held; it never decides which partition it
//! runs ([`crate::lease`] and [`crate::worker`] do) and checkpoints with compare-and-set, so a
//! stale owner that lost its lease cannot overwrite the new owner's checkpoint.

use crate::connect;
use crate::feed::FeedMessage;
use crate::ids;
use crate::metrics::Metrics;
use crate::Topology;
use async_nats::jetstream::{self, consumer, kv::Store};
use futures_util::StreamExt;
use sigil_engine::correlate::{Correlator, EventRef, SavedState};
use sigil_engine::{session, Plan};
use std::collections::BTreeMap;
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

/// A partition's saved state: the windows after applying every feed of events up to
/// `applied_seq`, and where in the feeds stream the feeds not applied yet begin.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The last event (events-stream sequence) whose feeds are in `state`.
    pub applied_seq: u64,
    /// The first feeds-stream sequence a new owner must read from.
    pub replay_from: u64,
    /// The last feeds-stream sequence this owner had read.
    pub read_seq: u64,
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
    /// The events stream the workers consume (its consumer's ack floor is the watermark).
    pub events_stream: String,
    pub plan: Arc<Plan>,
    pub max_groups: usize,
    pub checkpoints: Store,
    pub metrics: Arc<Metrics>,
    pub checkpoint_every: Duration,
}

/// Feeds read and not applied yet, by event sequence, with their feeds-stream sequence.
type Buffer = BTreeMap<u64, (u64, FeedMessage)>;

/// Runs partition `p` until told to stop; returns after the final checkpoint (on release) or
/// at once (on loss). An error (the checkpoint was fenced, the stream unreachable) ends the
/// ownership without a checkpoint: the next owner replays from the last good one.
pub async fn run(shared: Arc<Shared>, p: u32, stop: watch::Receiver<Stop>) -> Result<(), String> {
    let key = checkpoint_key(p);
    let mut correlator = Correlator::new(&shared.plan, shared.max_groups);
    let (mut revision, mut applied, replay_from, mut read, mut last_time) = match shared.checkpoints.entry(&key).await {
        Ok(Some(entry)) if !entry.value.is_empty() => {
            let saved: Checkpoint = serde_json::from_slice(&entry.value)
                .map_err(|e| format!("partition {p}: unreadable checkpoint: {e}"))?;
            correlator.restore(saved.state).map_err(|e| format!("partition {p}: {e}"))?;
            (entry.revision, saved.applied_seq, saved.replay_from, saved.read_seq, saved.last_time)
        }
        Ok(Some(entry)) => (entry.revision, 0, 1, 0, 0),
        Ok(None) => (0, 0, 1, 0, 0),
        Err(e) => return Err(format!("partition {p}: reading the checkpoint: {e}")),
    };
    let feeds = shared.js.get_stream(&shared.topology.feeds.name).await.map_err(|e| format!("feeds stream: {e}"))?;
    let events = shared.js.get_stream(&shared.events_stream).await.map_err(|e| format!("events stream: {e}"))?;
    let mut workers: consumer::PullConsumer = events
        .get_consumer(&shared.topology.consumer)
        .await
        .map_err(|e| format!("{}: {e}", shared.topology.consumer))?;
    let reader = feeds
        .create_consumer(connect::reader(
            shared.topology.feed_subject(p),
            consumer::DeliverPolicy::ByStartSequence { start_sequence: replay_from.max(1) },
        ))
        .await
        .map_err(|e| format!("partition {p}: reading its feeds: {e}"))?;
    let correlation_subject = shared.topology.correlation_subject();
    let mut buffer = Buffer::new();
    let mut applied_since = 0u64;
    let mut checkpointed_at = Instant::now();
    loop {
        match *stop.borrow() {
            Stop::Run => {}
            Stop::Lost => return Ok(()),
            Stop::Release => break,
        }
        // The watermark first, then the feeds to the end of the subject: every feed of an
        // event at or below the floor is then in the buffer (or applied already).
        let floor = match workers.info().await {
            Ok(info) => info.ack_floor.stream_sequence,
            Err(e) => return Err(format!("partition {p}: reading the workers' ack floor: {e}")),
        };
        let last = last_feed(&feeds, &shared.topology.feed_subject(p)).await?;
        if !read_to_end(&reader, p, applied, last, &mut read, &mut buffer, &stop).await? {
            continue;
        }
        let mut acks = Vec::new();
        let mut count = 0u64;
        while let Some(entry) = buffer.first_entry() {
            if *entry.key() > floor {
                break;
            }
            let (seq, (_, feed)) = entry.remove_entry();
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
            applied = seq;
            count += 1;
        }
        let alerts = acks.len() as u64;
        for ack in acks {
            ack.await.map_err(|e| format!("partition {p}: an alert was not stored: {e}"))?;
        }
        Metrics::add(&shared.metrics.correlation_alerts, alerts);
        Metrics::add(&shared.metrics.feeds_applied, count);
        applied_since += count;
        if applied_since > 0 && checkpointed_at.elapsed() >= shared.checkpoint_every {
            let checkpoint = checkpoint(applied, &buffer, read, last_time, &correlator);
            revision = save(&shared, p, revision, &checkpoint).await?;
            applied_since = 0;
            checkpointed_at = Instant::now();
        }
        if count == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if applied_since > 0 || revision == 0 {
        let checkpoint = checkpoint(applied, &buffer, read, last_time, &correlator);
        save(&shared, p, revision, &checkpoint).await?;
    }
    Ok(())
}

/// Where a new owner must start reading: the first feed not applied yet, or after the last
/// one read.
/// The partition's state as a checkpoint: its windows, the last event applied, and where a new
/// owner reads from.
fn checkpoint(applied: u64, buffer: &Buffer, read: u64, last_time: i64, correlator: &Correlator) -> Checkpoint {
    Checkpoint {
        applied_seq: applied,
        replay_from: replay_point(buffer, read),
        read_seq: read,
        last_time,
        state: correlator.save(),
    }
}

fn replay_point(buffer: &Buffer, read: u64) -> u64 {
    buffer.values().map(|(feed_seq, _)| *feed_seq).min().unwrap_or(read + 1)
}

/// The sequence of the partition's last feed, from the feeds stream's leader (0: none yet).
/// Read after the ack floor, it covers every feed of the events below the floor.
async fn last_feed(feeds: &jetstream::stream::Stream, subject: &str) -> Result<u64, String> {
    match feeds.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(message.sequence),
        Err(e)
            if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                || e.to_string().to_lowercase().contains("no message found") =>
        {
            Ok(0)
        }
        Err(e) => Err(format!("{subject}: the last feed: {e}")),
    }
}

/// Reads the partition's feeds up to feeds-stream sequence `last` at least (the owner's
/// consumer may sit on a replica that is a little behind the leader: it waits for it); feeds
/// of events already applied (a redelivered batch) are dropped. False when told to stop first.
async fn read_to_end(
    reader: &consumer::PullConsumer,
    p: u32,
    applied: u64,
    last: u64,
    read: &mut u64,
    buffer: &mut Buffer,
    stop: &watch::Receiver<Stop>,
) -> Result<bool, String> {
    loop {
        if *stop.borrow() != Stop::Run {
            return Ok(false);
        }
        let mut batch = reader
            .batch()
            .max_messages(1024)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .map_err(|e| format!("partition {p}: fetching feeds: {e}"))?;
        let mut pending = 0;
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| format!("partition {p}: fetching feeds: {e}"))?;
            let info = message.info().map_err(|e| format!("partition {p}: {e}"))?;
            let (feed_seq, left) = (info.stream_sequence, info.pending);
            got += 1;
            pending = left;
            // After a restore, the replay starts before `read` (feeds read but not applied
            // then): the buffer's key and `applied` keep each event's feeds once.
            *read = (*read).max(feed_seq);
            match serde_json::from_slice::<Vec<FeedMessage>>(&message.payload) {
                Ok(feeds) => {
                    for feed in feeds.into_iter().filter(|f| f.seq > applied) {
                        buffer.entry(feed.seq).or_insert((feed_seq, feed));
                    }
                }
                // Only workers publish here; a message that is not a feed is skipped, loudly.
                Err(e) => eprintln!("sigil: worker: partition {p}: feed {feed_seq} is unreadable ({e}): skipped"),
            }
        }
        if *read >= last && (got == 0 || pending == 0) {
            return Ok(true);
        }
    }
}

/// Writes the checkpoint at the revision last read or written; fails when another owner wrote
/// since (this one lost the partition).
async fn save(shared: &Shared, p: u32, revision: u64, checkpoint: &Checkpoint) -> Result<u64, String> {
    let bytes = serde_json::to_vec(checkpoint).expect("a checkpoint serializes");
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
