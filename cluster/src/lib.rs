//! Sigil on a NATS JetStream cluster: events published to a replicated stream, any number of
//! workers evaluating them (each event by one worker), and correlation state partitioned across
//! the workers, leased, checkpointed, and taken over when a worker dies. `docs/scale-out.md`
//! is the design; the modules, in the order data flows:
//!
//! * [`config`] — the topology file (streams, buckets, replicas, retention);
//! * [`connect`] — URLs, TLS CA file, credentials;
//! * [`setup`] — `sigil nats init`: streams, the shared consumer and the buckets;
//! * [`ids`] — message ids and partitions, pure functions (redelivery is harmless);
//! * [`publish`] — events into the stream, one message per event;
//! * [`detect`] — one event message through the engine: alerts, feeds or a dead letter;
//! * [`feed`] — the correlation inputs of one event for one partition, as bytes;
//! * [`lease`] — which worker owns which partition (KV compare-and-set and expiry);
//! * [`owner`] — one owned partition: restore, replay, apply feeds, checkpoint;
//! * [`worker`] — `sigil worker`: the detection loop, the leases and owners, draining;
//! * [`metrics`] — counts on stderr and at `GET /metrics` (Prometheus text);
//! * [`alerts`] — `sigil alerts`: the alert stream printed.
//!
//! The CLI (`sigil publish`, `worker`, `alerts`, `nats init`) reads files and parses
//! arguments; everything else is here. The engine runs unchanged: each worker evaluates with
//! the `Engine` and the `session` steps `sigil hunt` uses, so alerts are the same bytes.

pub mod alerts;
pub mod config;
pub mod connect;
pub mod detect;
pub mod feed;
pub mod ids;
pub mod lease;
pub mod metrics;
pub mod owner;
pub mod publish;
pub mod setup;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use config::Topology;
pub use connect::Endpoint;

/// A Tokio runtime for the synchronous entry points the CLI calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
