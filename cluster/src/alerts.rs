//! `sigil alerts`: the alerts stream printed as JSON Lines, in stream order, from the start;
//! with `follow`, it waits for new alerts instead of stopping at the last one.
//!
//! It owns reading the alerts stream (an ephemeral consumer that acknowledges nothing, so
//! reading changes nothing) and nothing else.

use crate::connect::{self, Endpoint};
use crate::Topology;
use async_nats::jetstream::consumer;
use futures_util::StreamExt;
use std::io::Write;
use std::time::Duration;

/// Which alerts to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    All,
    Detection,
    Correlation,
}

/// Writes every alert (each followed by a newline) to `out`; returns how many.
pub async fn print(
    endpoint: &Endpoint,
    topology: &Topology,
    kind: Kind,
    follow: bool,
    out: &mut dyn Write,
) -> Result<u64, String> {
    let client = endpoint.connect().await?;
    let js = connect::jetstream(client, Duration::from_secs(10));
    let mut stream =
        js.get_stream(&topology.alerts.name).await.map_err(|e| format!("{}: {e}", topology.alerts.name))?;
    let last = stream.info().await.map_err(|e| e.to_string())?.state.last_sequence;
    let filter_subject = match kind {
        Kind::All => String::new(),
        Kind::Detection => topology.detection_subject(),
        Kind::Correlation => topology.correlation_subject(),
    };
    let reader = stream
        .create_consumer(connect::reader(filter_subject, consumer::DeliverPolicy::All))
        .await
        .map_err(|e| format!("reading {}: {e}", topology.alerts.name))?;
    let mut printed = 0u64;
    let mut seen = 0u64;
    loop {
        if !follow && seen >= last {
            break;
        }
        let mut batch = reader
            .batch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let mut got = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| e.to_string())?;
            seen = message.info().map_err(|e| e.to_string())?.stream_sequence;
            out.write_all(&message.payload).and_then(|_| out.write_all(b"\n")).map_err(|e| e.to_string())?;
            printed += 1;
            got += 1;
        }
        if got > 0 {
            out.flush().map_err(|e| e.to_string())?;
        } else if !follow {
            // Filtered out, or nothing more: the consumer has no message left up to `last`.
            let info = reader.clone().info().await.map_err(|e| e.to_string())?.clone();
            if info.num_pending == 0 {
                break;
            }
        }
    }
    Ok(printed)
}
