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
//! A new owner reads its partition's feeds from the checkpoint's replay point up to the last
//! feed the stream leader holds before it applies anything, however slowly its consumer's
//! replica catches up: a feed it skipped would be dropped as already applied once a later one
//! was, and the windows would diverge from `hunt`'s.
//!
//! It owns a partition's state while its lease is held; it never decides which partition it
//! runs ([`crate::lease`] and [`crate::worker`] do). It stops writing once the lease's
//! [`Fence`] has passed, and checkpoints with compare-and-set, so a stale owner that lost its
//! lease cannot overwrite the new owner's checkpoint.

use crate::connect;
use crate::feed::FeedMessage;
use crate::ids;
use crate::lease::Fence;
use crate::metrics::Metrics;
use crate::Topology;
use async_nats::jetstream::{self, consumer, kv::Store};
use futures_util::StreamExt;
use sigil_engine::correlate::{Correlator, EventRef, SavedState};
use sigil_engine::suppress::{RuleRef, SavedSuppression, Suppressor};
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
    /// The time given to feeds of events without a readable one.
    pub last_time: i64,
    pub state: SavedState,
    /// The suppression windows of correlation rules with `suppress:` (a group lives in one
    /// partition, so its windows do too).
    #[serde(default)]
    pub suppression: SavedSuppression,
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
    /// Distinct values a value_count group tells apart (`--max-distinct-values`).
    pub max_distinct_values: usize,
    pub checkpoints: Store,
    pub metrics: Arc<Metrics>,
    pub checkpoint_every: Duration,
}

/// Feeds read and not applied yet, by event sequence, with their feeds-stream sequence.
type Buffer = BTreeMap<u64, (u64, FeedMessage)>;

/// Runs partition `p` until told to stop; returns after the final checkpoint (on release) or
/// at once (on loss, or once `fence` has passed). An error (the checkpoint was fenced, the
/// stream unreachable) ends the ownership without a checkpoint: the next owner replays from
/// the last good one.
pub async fn run(shared: Arc<Shared>, p: u32, fence: Arc<Fence>, stop: watch::Receiver<Stop>) -> Result<(), String> {
    let key = checkpoint_key(p);
    let mut correlator = Correlator::new(&shared.plan, shared.max_groups);
    correlator.set_max_distinct_values(shared.max_distinct_values);
    let mut suppressor = Suppressor::new(shared.max_groups);
    let (mut revision, mut applied, replay_from, mut last_time) = match shared.checkpoints.entry(&key).await {
        Ok(Some(entry)) if !entry.value.is_empty() => {
            let saved: Checkpoint = serde_json::from_slice(&entry.value)
                .map_err(|e| format!("partition {p}: unreadable checkpoint: {e}"))?;
            correlator.restore(saved.state).map_err(|e| format!("partition {p}: {e}"))?;
            suppressor.restore(&shared.plan, saved.suppression);
            (entry.revision, saved.applied_seq, saved.replay_from, saved.last_time)
        }
        Ok(Some(entry)) => (entry.revision, 0, 1, 0),
        Ok(None) => (0, 0, 1, 0),
        Err(e) => return Err(format!("partition {p}: reading the checkpoint: {e}")),
    };
    // Nothing counts as read before the replay point: the first pass must reach the leader's
    // last feed (see the module doc).
    let mut read = replay_from.saturating_sub(1);
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
    let detection_subject = shared.topology.detection_subject();
    let mut buffer = Buffer::new();
    let mut applied_since = 0u64;
    let mut checkpointed_at = Instant::now();
    loop {
        match *stop.borrow() {
            Stop::Run => {}
            Stop::Lost => return Ok(()),
            Stop::Release => break,
        }
        if !fence.holds() {
            return Err(format!("partition {p}: the lease was not renewed in time: stopped without a checkpoint"));
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
            // The event's held detection alerts first (as `hunt` writes an event's detections
            // before the correlations they complete): written under their own ids, or counted.
            let mut held = Vec::new();
            let mut lines = Vec::new();
            for alert in feed.held {
                let rule = alert.rule as usize;
                let Some(suppression) = shared.plan.rules.get(rule).and_then(|r| r.info.suppress.as_ref()) else {
                    held.push((alert.id, alert.line.into_bytes()));
                    continue;
                };
                let mut closed = Vec::new();
                let detection = RuleRef::Detection(rule);
                let emit = suppressor.admit(detection, suppression, alert.group, feed.time, &mut closed);
                for c in &closed {
                    lines.push(serde_json::to_vec(&c.alert(&shared.plan)).expect("an alert serializes"));
                }
                if emit {
                    held.push((alert.id, alert.line.into_bytes()));
                }
            }
            if !feed.feeds.is_empty() {
                let time = feed.time.unwrap_or(last_time);
                last_time = time;
                let evidence = EventRef { file: Arc::from(feed.file.as_str()), line: feed.line };
                session::observe(
                    &mut correlator,
                    &mut suppressor,
                    &shared.plan,
                    time,
                    evidence,
                    feed.feeds.into_iter().map(|f| f.into_feed()).collect(),
                    &mut |alert| {
                        let mut line = Vec::new();
                        alert.json_line(&mut line);
                        line.pop();
                        lines.push(line);
                    },
                );
                for warning in correlator.take_warnings() {
                    eprintln!("sigil: worker: partition {p}: warning: {warning}");
                }
            }
            let held = held.into_iter().map(|(id, line)| (detection_subject.clone(), id, line));
            let owned = lines
                .into_iter()
                .enumerate()
                .map(|(k, l)| (correlation_subject.clone(), ids::correlation(p, seq, k), l));
            for (subject, id, line) in held.chain(owned) {
                let publish = jetstream::message::PublishMessage::build().payload(line.into()).message_id(id);
                let ack = shared
                    .js
                    .send_publish(subject, publish)
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
        if applied_since > 0 && checkpointed_at.elapsed() >= shared.checkpoint_every && fence.holds() {
            let checkpoint = checkpoint(applied, &buffer, read, last_time, (&correlator, &suppressor), &shared.plan);
            revision = save(&shared, p, revision, &checkpoint).await?;
            applied_since = 0;
            checkpointed_at = Instant::now();
        }
        if count == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if (applied_since > 0 || revision == 0) && fence.holds() {
        let checkpoint = checkpoint(applied, &buffer, read, last_time, (&correlator, &suppressor), &shared.plan);
        save(&shared, p, revision, &checkpoint).await?;
    }
    Ok(())
}

/// The partition's state as a checkpoint: its windows, the last event applied, and where a new
/// owner reads from.
fn checkpoint(
    applied: u64,
    buffer: &Buffer,
    read: u64,
    last_time: i64,
    (correlator, suppressor): (&Correlator, &Suppressor),
    plan: &Plan,
) -> Checkpoint {
    Checkpoint {
        applied_seq: applied,
        replay_from: replay_point(buffer, read),
        last_time,
        state: correlator.save(),
        suppression: suppressor.save(plan),
    }
}

/// Where a new owner must start reading: the first feed not applied yet, or after the last
/// one read.
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
            // A replay reads again feeds that were read but not applied before the
            // checkpoint: the buffer's key and `applied` keep each event's feeds once.
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
