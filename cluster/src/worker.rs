//! `sigil worker`: one member of the group that evaluates the events stream.
//!
//! * Detection: batches from the durable pull consumer every worker shares (so each event goes
//!   to one of them), each message through [`crate::detect`]; its alerts published to the
//!   alerts stream and its feeds to their partitions, every publish acknowledged by the stream
//!   before the input message is acked (at-least-once, and the message ids make the repeats
//!   harmless). A poison message goes to the dead-letter subject with its reason, then is acked.
//! * Correlation: the leases ([`crate::lease`]), renewed every third of their time to live, and
//!   one [`crate::owner`] task per partition held.
//! * Operations: SIGTERM or SIGINT drains (the batch in hand finishes, owners checkpoint, leases
//!   are released, the worker leaves the group); counts on stderr and at `--metrics`.
//!
//! It owns the orchestration; what an event means is the engine's, and the I/O shapes are
//! the other modules'.

use crate::connect::{self, Endpoint};
use crate::detect::{Detector, Outcome};
use crate::feed::{FeedMessage, Partitioner};
use crate::lease::Leases;
use crate::metrics::Metrics;
use crate::owner::{self, Shared, Stop};
use crate::publish::{POSITION_HEADER, SOURCE_HEADER};
use crate::{ids, setup, Topology};
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, consumer, AckKind};
use futures_util::{FutureExt, StreamExt};
use sigil_engine::correlate::Readers;
use sigil_engine::{Engine, Plan, Routing, Scratch};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct Options {
    pub endpoint: Endpoint,
    pub topology: Topology,
    /// The events stream (default: the topology's).
    pub stream: Option<String>,
    pub plan: Plan,
    pub routing: Routing,
    pub timestamp_field: Option<String>,
    pub max_groups: usize,
    /// Distinct values a value_count group tells apart (`--max-distinct-values`).
    pub max_distinct_values: usize,
    pub max_event_bytes: usize,
    /// Messages fetched at once.
    pub batch: usize,
    /// `--metrics ADDR`: serve `GET /metrics` there.
    pub metrics: Option<String>,
    /// This worker's name in leases and metrics (letters, digits, `-`, `_`).
    pub id: String,
    pub report_every: Duration,
    pub checkpoint_every: Duration,
    /// Drain and exit once nothing has arrived for this long and nothing is pending (batch
    /// jobs, benchmarks); `None` runs until SIGTERM.
    pub idle_exit: Option<Duration>,
}

/// What a worker did, printed when it stops.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub events: u64,
    pub detection_alerts: u64,
    pub correlation_alerts: u64,
    pub dead_letters: u64,
    pub seconds: f64,
}

/// A worker id from the host name and process id.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    let host: String = host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
    format!("{}-{}", if host.is_empty() { "host" } else { &host }, std::process::id())
}

pub fn run(options: Options) -> Result<Summary, String> {
    crate::runtime()?.block_on(run_async(options))
}

async fn run_async(options: Options) -> Result<Summary, String> {
    if options.id.is_empty() || !options.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("--id {:?}: use letters, digits, '-' and '_'", options.id));
    }
    let topology = options.topology.clone();
    let stream_name = options.stream.clone().unwrap_or_else(|| topology.events.name.clone());
    let client = options.endpoint.connect().await?;
    let js = connect::jetstream(client.clone(), Duration::from_secs(5));
    let not_initialised = |what: &str, e: &dyn std::fmt::Display| {
        format!("{what}: {e} (has `sigil nats init` created the streams and buckets?)")
    };
    // A worker started while a server comes back finds leaders being elected: it waits.
    let bucket = |name: String| {
        let js = js.clone();
        patiently(name.clone(), move || {
            let (js, name) = (js.clone(), name.clone());
            async move { js.get_key_value(&name).await.map_err(|e| not_initialised(&name, &e)) }
        })
    };
    let stream = |name: String| {
        let js = js.clone();
        patiently(name.clone(), move || {
            let (js, name) = (js.clone(), name.clone());
            async move { js.get_stream(&name).await.map_err(|e| not_initialised(&name, &e)) }
        })
    };
    let checkpoints = bucket(topology.checkpoints.bucket.clone()).await?;
    let partitions = match checkpoints.get(setup::PARTITIONS_KEY).await {
        Ok(Some(v)) => String::from_utf8_lossy(&v).parse::<u32>().unwrap_or(topology.partitions),
        _ => topology.partitions,
    };
    let lease_kv = bucket(topology.leases.bucket.clone()).await?;
    let events = stream(stream_name.clone()).await?;
    let consumer: consumer::PullConsumer = patiently(topology.consumer.clone(), || {
        let events = events.clone();
        let name = topology.consumer.clone();
        async move { events.get_consumer(&name).await.map_err(|e| not_initialised(&name, &e)) }
    })
    .await?;

    let plan = Arc::new(options.plan.clone());
    let engine = Engine::new(options.plan.clone()).map_err(|e| e.to_string())?;
    let readers = Readers::new(engine.plan());
    let partitioner = Partitioner::new(engine.plan(), partitions);
    let correlating = !engine.plan().correlations.is_empty();
    let metrics = Arc::new(Metrics::default());
    let rate = Arc::new(Mutex::new(0.0f64));
    let draining = Arc::new(AtomicBool::new(false));
    let (drain_tx, drain_rx) = watch::channel(false);
    let drain_tx = Arc::new(drain_tx);
    spawn_signal_handler(Arc::clone(&draining), Arc::clone(&drain_tx));
    if let Some(addr) = &options.metrics {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("--metrics {addr}: cannot listen: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("sigil: worker {}: metrics at http://{bound}/metrics", options.id);
        tokio::spawn(crate::metrics::serve(listener, Arc::clone(&metrics), options.id.clone(), Arc::clone(&rate)));
    }
    eprintln!(
        "sigil: worker {}: consuming {stream_name} as {}; {} correlations over {partitions} partitions",
        options.id,
        topology.consumer,
        engine.plan().correlations.len()
    );
    let shared = Arc::new(Shared {
        js: js.clone(),
        topology: topology.clone(),
        events_stream: stream_name.clone(),
        plan,
        max_groups: options.max_groups,
        max_distinct_values: options.max_distinct_values,
        checkpoints,
        metrics: Arc::clone(&metrics),
        checkpoint_every: options.checkpoint_every,
    });
    let lease_stream = stream(format!("KV_{}", topology.leases.bucket)).await?;
    let leases =
        Leases::new(lease_kv, lease_stream, &topology.leases.bucket, &options.id, partitions, topology.leases.max_age);
    let lease_task = tokio::spawn(manage_leases(
        leases,
        Arc::clone(&shared),
        drain_rx.clone(),
        topology.leases.max_age,
        correlating,
    ));

    let detector = Detector {
        engine: &engine,
        readers: &readers,
        routing: &options.routing,
        timestamp_field: options.timestamp_field.as_deref(),
        partitioner: &partitioner,
        max_event_bytes: options.max_event_bytes,
    };
    let started = Instant::now();
    let loop_result = detect_loop(
        &detector,
        &js,
        &consumer,
        &topology,
        &stream_name,
        &options,
        &metrics,
        &rate,
        &draining,
        &drain_tx,
    )
    .await;
    if let Err(e) = &loop_result {
        eprintln!("sigil: worker {}: {e}: draining", options.id);
    }
    draining.store(true, Ordering::SeqCst);
    let _ = drain_tx.send(true);
    match lease_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("sigil: worker {}: {e}", options.id),
        Err(e) => eprintln!("sigil: worker {}: the lease task failed: {e}", options.id),
    }
    client.flush().await.map_err(|e| e.to_string())?;
    let summary = Summary {
        events: Metrics::get(&metrics.events),
        detection_alerts: Metrics::get(&metrics.detection_alerts),
        correlation_alerts: Metrics::get(&metrics.correlation_alerts),
        dead_letters: Metrics::get(&metrics.dead_letters),
        seconds: started.elapsed().as_secs_f64(),
    };
    loop_result.map(|()| summary)
}

fn spawn_signal_handler(draining: Arc<AtomicBool>, drain: Arc<watch::Sender<bool>>) {
    tokio::spawn(async move {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        eprintln!("sigil: worker: stopping: finishing the batch in hand, checkpointing, releasing leases");
        draining.store(true, Ordering::SeqCst);
        let _ = drain.send(true);
    });
}

/// The consumer's messages, pulled ahead (the server sends the next ones while a batch is
/// evaluated).
async fn pull(consumer: &consumer::PullConsumer, batch: usize) -> Result<consumer::pull::Stream, String> {
    consumer
        .stream()
        .max_messages_per_batch(batch.max(1))
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("fetching events: {e}"))
}

#[allow(clippy::too_many_arguments)]
async fn detect_loop(
    detector: &Detector<'_>,
    js: &jetstream::Context,
    consumer: &consumer::PullConsumer,
    topology: &Topology,
    stream_name: &str,
    options: &Options,
    metrics: &Metrics,
    rate: &Mutex<f64>,
    draining: &AtomicBool,
    drain: &watch::Sender<bool>,
) -> Result<(), String> {
    let mut scratch = Scratch::default();
    let detection_subject = topology.detection_subject();
    let deadletter_subject = topology.deadletter_subject(stream_name);
    let mut reported_at = Instant::now();
    let mut reported_events = 0u64;
    let mut idle_since = Instant::now();
    let mut incoming: Option<consumer::pull::Stream> = None;
    while !draining.load(Ordering::SeqCst) {
        let stream = match &mut incoming {
            Some(stream) => stream,
            None => match pull(consumer, options.batch).await {
                Ok(stream) => incoming.insert(stream),
                Err(e) => {
                    // A server lost, a leader being elected: the servers come back, so does the worker.
                    eprintln!("sigil: worker {}: {e}: retrying", options.id);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
        };
        // The first message waits (briefly, to notice a drain); the rest of the batch is what
        // has arrived already.
        let mut messages = Vec::new();
        let mut broken = None;
        match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
            Err(_) => {}
            Ok(Some(Ok(m))) => messages.push(m),
            Ok(Some(Err(e))) => broken = Some(e.to_string()),
            Ok(None) => broken = Some("the pull ended".into()),
        }
        while !messages.is_empty() && messages.len() < options.batch.max(1) {
            match stream.next().now_or_never() {
                Some(Some(Ok(m))) => messages.push(m),
                Some(Some(Err(e))) => {
                    broken = Some(e.to_string());
                    break;
                }
                Some(None) => {
                    broken = Some("the pull ended".into());
                    break;
                }
                None => break,
            }
        }
        if let Some(e) = broken {
            eprintln!("sigil: worker {}: fetching events: {e}: pulling again", options.id);
            incoming = None;
            if messages.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let mut acks = Vec::new();
        let (mut alerts, mut feed_count, mut dead) = (0u64, 0u64, 0u64);
        let mut failed = None;
        let mut feeds: BTreeMap<u32, Vec<FeedMessage>> = BTreeMap::new();
        let mut seqs = (u64::MAX, 0u64);
        for message in &messages {
            let seq = match message.info() {
                Ok(info) => info.stream_sequence,
                Err(e) => {
                    failed = Some(format!("a message without JetStream metadata: {e}"));
                    break;
                }
            };
            seqs = (seqs.0.min(seq), seqs.1.max(seq));
            let header =
                |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_string());
            let source = header(SOURCE_HEADER).unwrap_or_else(|| message.subject.to_string());
            let position = header(POSITION_HEADER).and_then(|p| p.parse().ok()).unwrap_or(seq);
            let outcome = detector.evaluate(&mut scratch, seq, &source, position, &message.payload);
            let mut publishes: Vec<(String, Publish)> = Vec::new();
            match outcome {
                Outcome::Evaluated { alerts: a, feeds: f } => {
                    alerts += a.len() as u64;
                    for out in a {
                        publishes.push((
                            detection_subject.clone(),
                            Publish::build().payload(out.payload.into()).message_id(out.id),
                        ));
                    }
                    for (p, feed) in f {
                        feeds.entry(p).or_default().push(feed);
                    }
                }
                Outcome::Dead(reason) => {
                    dead += 1;
                    eprintln!("sigil: worker {}: {source}:{position} (event {seq}): dead letter: {reason}", options.id);
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Sigil-Reason", reason.as_str());
                    headers.insert("Sigil-Stream-Seq", seq.to_string().as_str());
                    headers.insert(SOURCE_HEADER, source.as_str());
                    headers.insert(POSITION_HEADER, position.to_string().as_str());
                    let keep = message.payload.len().min(DEAD_LETTER_BYTES);
                    if keep < message.payload.len() {
                        headers.insert("Sigil-Truncated", message.payload.len().to_string().as_str());
                    }
                    publishes.push((
                        deadletter_subject.clone(),
                        Publish::build()
                            .payload(message.payload.slice(..keep))
                            .headers(headers)
                            .message_id(ids::dead_letter(seq)),
                    ));
                }
            }
            for (subject, publish) in publishes {
                match js.send_publish(subject, publish).await {
                    Ok(ack) => acks.push(ack),
                    Err(e) => {
                        failed = Some(format!("publishing: {e}"));
                        break;
                    }
                }
            }
            if failed.is_some() {
                break;
            }
        }
        // The batch's feeds: one message per partition.
        if failed.is_none() {
            for (p, list) in feeds {
                feed_count += list.len() as u64;
                let id = ids::feeds(seqs.0, seqs.1, p, list.len());
                let payload = serde_json::to_vec(&list).expect("feeds serialize");
                match js
                    .send_publish(topology.feed_subject(p), Publish::build().payload(payload.into()).message_id(id))
                    .await
                {
                    Ok(ack) => acks.push(ack),
                    Err(e) => {
                        failed = Some(format!("publishing: {e}"));
                        break;
                    }
                }
            }
        }
        if failed.is_none() {
            for ack in acks {
                // One missing acknowledgement is enough to redo the batch: the others are not
                // waited for, each with its own timeout.
                if let Err(e) = ack.await {
                    failed = Some(format!("a stream did not store a message: {e}"));
                    break;
                }
            }
        }
        if let Some(reason) = failed {
            // Nothing of this batch is acked: every message comes again, and its outputs keep
            // their ids (and owners keep each event's feeds once), so nothing is stored twice.
            eprintln!("sigil: worker {}: {reason}: the batch will be redelivered", options.id);
            for message in &messages {
                let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        for message in &messages {
            // An ack that is lost means a redelivery, whose outputs keep their ids.
            if let Err(e) = message.ack().await {
                eprintln!("sigil: worker {}: acknowledging an event: {e}", options.id);
            }
        }
        Metrics::add(&metrics.events, messages.len() as u64);
        Metrics::add(&metrics.detection_alerts, alerts);
        Metrics::add(&metrics.feeds_published, feed_count);
        Metrics::add(&metrics.dead_letters, dead);
        if !messages.is_empty() {
            idle_since = Instant::now();
        }
        let idle = options.idle_exit.is_some_and(|d| idle_since.elapsed() >= d);
        if reported_at.elapsed() >= options.report_every || idle {
            let pending = match consumer.clone().info().await {
                Ok(info) => Some((info.num_pending, info.num_ack_pending)),
                Err(_) => None,
            };
            if let Some((pending, _)) = pending {
                metrics.lag.store(pending, Ordering::Relaxed);
            }
            if reported_at.elapsed() >= options.report_every {
                let events = Metrics::get(&metrics.events);
                let r = (events - reported_events) as f64 / reported_at.elapsed().as_secs_f64().max(1e-3);
                *rate.lock().unwrap_or_else(|p| p.into_inner()) = r;
                eprintln!(
                    "sigil: worker {}: {events} events ({r:.0}/s), lag {}, partitions {:?}, alerts {} detection + {} correlation, {} dead letters",
                    options.id,
                    Metrics::get(&metrics.lag),
                    metrics.owned(),
                    Metrics::get(&metrics.detection_alerts),
                    Metrics::get(&metrics.correlation_alerts),
                    Metrics::get(&metrics.dead_letters),
                );
                reported_at = Instant::now();
                reported_events = events;
            }
            if idle && pending.is_some_and(|(p, a)| p == 0 && a == 0) {
                eprintln!("sigil: worker {}: idle and nothing pending: stopping", options.id);
                draining.store(true, Ordering::SeqCst);
                let _ = drain.send(true);
            }
        }
    }
    // Events pulled ahead and not evaluated go back at once rather than after ack_wait.
    if let Some(mut stream) = incoming {
        while let Some(Some(Ok(message))) = stream.next().now_or_never() {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }
    Ok(())
}

/// How long a worker starting up waits for the servers (a leader being elected) before it gives up.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// `attempt` until it succeeds, every half second for [`STARTUP_PATIENCE`], saying so once.
async fn patiently<T, F, Fut>(what: String, mut attempt: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    let mut said = false;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if started.elapsed() >= STARTUP_PATIENCE => return Err(e),
            Err(e) => {
                if !said {
                    eprintln!("sigil: worker: {what}: {e}; retrying for {} s", STARTUP_PATIENCE.as_secs());
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The largest part of a poison message kept in its dead letter.
const DEAD_LETTER_BYTES: usize = 64 * 1024;

/// The owner task of each partition held, with the channel that stops it.
type Owners = BTreeMap<u32, (watch::Sender<Stop>, tokio::task::JoinHandle<Result<(), String>>)>;

/// Holds, renews, takes and gives up partitions every third of the lease's time to live, and
/// runs an owner task per partition held; on drain, every owner checkpoints and every lease is
/// released.
async fn manage_leases(
    mut leases: Leases,
    shared: Arc<Shared>,
    mut drain: watch::Receiver<bool>,
    ttl: Duration,
    correlating: bool,
) -> Result<(), String> {
    let mut owners: Owners = BTreeMap::new();
    let tick = (ttl / 3).max(Duration::from_millis(200));
    let publish_owned = |owners: &BTreeMap<u32, _>| {
        *shared.metrics.owned.lock().unwrap_or_else(|p| p.into_inner()) = owners.keys().copied().collect();
    };
    loop {
        if *drain.borrow() {
            break;
        }
        if correlating {
            if let Err(e) = leases.heartbeat().await {
                eprintln!("sigil: worker: heartbeat: {e}");
            }
            for p in leases.renew().await {
                eprintln!("sigil: worker: partition {p}: lease lost to another worker");
                if let Some((stop, task)) = owners.remove(&p) {
                    let _ = stop.send(Stop::Lost);
                    let _ = task.await;
                }
            }
            // Owners that ended on their own (an error) give their partition back.
            let ended: Vec<u32> = owners.iter().filter(|(_, (_, t))| t.is_finished()).map(|(p, _)| *p).collect();
            for p in ended {
                if let Some((_, task)) = owners.remove(&p) {
                    if let Ok(Err(e)) = task.await {
                        eprintln!("sigil: worker: {e}");
                    }
                }
                leases.release(p).await;
            }
            let target = match leases.members().await {
                Ok(n) => leases.target(n),
                Err(e) => {
                    eprintln!("sigil: worker: {e}");
                    owners.len()
                }
            };
            if owners.len() < target {
                let candidates = leases.candidates();
                for p in leases.acquire(&candidates, target - owners.len()).await {
                    let Some(fence) = leases.fence(p) else { continue };
                    Metrics::add(&shared.metrics.acquisitions, 1);
                    eprintln!("sigil: worker: partition {p}: owned");
                    let (stop, rx) = watch::channel(Stop::Run);
                    owners.insert(p, (stop, tokio::spawn(owner::run(Arc::clone(&shared), p, fence, rx))));
                }
            } else if owners.len() > target {
                // A worker joined: give the surplus back, checkpointed.
                let surplus: Vec<u32> = owners.keys().rev().take(owners.len() - target).copied().collect();
                for p in surplus {
                    release(&mut owners, &mut leases, p).await;
                    eprintln!("sigil: worker: partition {p}: handed over");
                }
            }
            publish_owned(&owners);
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = drain.changed() => {}
        }
    }
    let held: Vec<u32> = owners.keys().copied().collect();
    for p in held {
        release(&mut owners, &mut leases, p).await;
    }
    publish_owned(&owners);
    leases.leave().await;
    Ok(())
}

async fn release(owners: &mut Owners, leases: &mut Leases, p: u32) {
    if let Some((stop, task)) = owners.remove(&p) {
        let _ = stop.send(Stop::Release);
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("sigil: worker: {e}"),
            Err(e) => eprintln!("sigil: worker: partition {p}: {e}"),
        }
    }
    leases.release(p).await;
}
