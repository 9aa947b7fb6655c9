//! `sigil nats init`: creates, or updates in place, the streams, the workers' durable consumer
//! and the KV buckets of a [`Topology`], and records the partition count where workers read it.
//!
//! It owns the JetStream configuration Sigil runs on: replicas, retention (`max_age`,
//! `max_bytes`), the duplicate windows, and `deny_delete`/`deny_purge` on the raw-log stream.
//! It is the log administrator's step (its credential may create streams; a worker's may not)
//! and never touches the messages.

use crate::config::{BucketSpec, StreamSpec, Topology};
use async_nats::jetstream::{self, consumer, stream};
use std::time::Duration;

/// The checkpoint-bucket key holding the partition count, so every worker uses the same.
pub const PARTITIONS_KEY: &str = "meta.partitions";

/// What `init` did, one line per stream or bucket.
pub async fn init(js: &jetstream::Context, topology: &Topology) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for spec in [&topology.events, &topology.alerts, &topology.feeds, &topology.deadletter] {
        let info = js
            .create_or_update_stream(stream_config(spec, topology.replicas))
            .await
            .map_err(|e| format!("stream {}: {e}", spec.name))?;
        done.push(format!(
            "stream {} ({}): replicas {}, max_age {}, max_bytes {}, deny_delete {}, deny_purge {}, {} messages",
            spec.name,
            spec.subject,
            info.config.num_replicas,
            show(spec.max_age),
            spec.max_bytes,
            info.config.deny_delete,
            info.config.deny_purge,
            info.state.messages
        ));
    }
    let events = js.get_stream(&topology.events.name).await.map_err(|e| format!("{}: {e}", topology.events.name))?;
    events
        .get_or_create_consumer(&topology.consumer, worker_consumer(topology))
        .await
        .map_err(|e| format!("consumer {}: {e}", topology.consumer))?;
    done.push(format!("consumer {} on {} (shared by every worker)", topology.consumer, topology.events.name));
    for (spec, history) in [(&topology.leases, 1), (&topology.checkpoints, 1)] {
        // A KV bucket is a stream named KV_<bucket>; created as one because the client's own
        // bucket calls first query the account, whose 2.9 answer it cannot read.
        js.create_or_update_stream(bucket_config(spec, topology.replicas, history))
            .await
            .map_err(|e| format!("bucket {}: {e}", spec.bucket))?;
        done.push(format!("bucket {}: replicas {}, max_age {}", spec.bucket, topology.replicas, show(spec.max_age)));
    }
    let checkpoints = js.get_key_value(&topology.checkpoints.bucket).await.map_err(|e| e.to_string())?;
    let wanted = topology.partitions.to_string();
    match checkpoints.get(PARTITIONS_KEY).await.map_err(|e| e.to_string())? {
        Some(v) if v.as_ref() != wanted.as_bytes() => {
            return Err(format!(
                "the cluster already runs {} partitions; changing it would strand their checkpoints \
                 (drain the workers and recreate the feeds stream and the checkpoint bucket to change it)",
                String::from_utf8_lossy(&v)
            ))
        }
        Some(_) => {}
        None => {
            checkpoints.put(PARTITIONS_KEY, wanted.into()).await.map_err(|e| e.to_string())?;
        }
    }
    done.push(format!("partitions: {}", topology.partitions));
    Ok(done)
}

pub fn stream_config(spec: &StreamSpec, replicas: usize) -> stream::Config {
    stream::Config {
        name: spec.name.clone(),
        subjects: vec![spec.subject.clone()],
        num_replicas: replicas,
        max_age: spec.max_age,
        max_bytes: spec.max_bytes,
        duplicate_window: spec.duplicate_window,
        deny_delete: spec.deny_delete,
        deny_purge: spec.deny_purge,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    }
}

/// The durable pull consumer the workers share: explicit acks, redelivery after `ack_wait`.
pub fn worker_consumer(topology: &Topology) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(topology.consumer.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 50_000,
        max_batch: 0,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    }
}

/// The stream of a KV bucket, configured as the client library configures one.
pub fn bucket_config(spec: &BucketSpec, replicas: usize, history: i64) -> stream::Config {
    stream::Config {
        name: format!("KV_{}", spec.bucket),
        subjects: vec![format!("$KV.{}.>", spec.bucket)],
        max_messages_per_subject: history,
        max_age: spec.max_age,
        max_bytes: -1,
        max_message_size: -1,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        num_replicas: replicas,
        discard: stream::DiscardPolicy::New,
        duplicate_window: Duration::from_secs(120).min(if spec.max_age.is_zero() {
            Duration::MAX
        } else {
            spec.max_age
        }),
        ..Default::default()
    }
}

fn show(d: Duration) -> String {
    if d.is_zero() {
        "none".into()
    } else {
        format!("{}s", d.as_secs())
    }
}
