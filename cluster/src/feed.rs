//! Feeds: what one event's detections mean for the correlations of one partition (the
//! engine's [`Feed`]s), and the detection alerts a suppression window of that partition may
//! hold back, with the event's sequence, time and evidence. A worker publishes the
//! feeds of a batch of events as one JSON array per partition subject.
//!
//! It owns the encoding and the choice of partition ([`Partitioner`]); it never applies a feed
//! (that is [`crate::owner`]'s job).

use crate::ids;
use serde_json::Value;
use sigil_engine::correlate::Feed;
use sigil_engine::plan::{CorrelationSource, Plan};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedMessage {
    /// The event's sequence in the events stream: owners apply feeds in this order, which is
    /// the order `sigil hunt` reads the same input in.
    pub seq: u64,
    /// Event time in ms, when the event has a readable one.
    pub time: Option<i64>,
    pub file: String,
    pub line: u64,
    pub feeds: Vec<FeedItem>,
    /// Detection alerts of rules with `suppress:`, held for the partition of their (rule,
    /// group): its owner writes or counts them in event order, as one `hunt` would.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldAlert>,
}

/// A detection alert a suppression window may hold back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeldAlert {
    /// The rule's position in the plan (every worker runs the same rules).
    pub rule: u32,
    pub group: serde_json::Map<String, Value>,
    /// The message id it is published under when written (the one an unsuppressed alert has).
    pub id: String,
    /// The alert's JSON line, without the newline.
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedItem {
    /// The correlation's position in the plan (every worker runs the same rules).
    pub c: u32,
    pub s: u32,
    pub g: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v: Vec<Value>,
}

impl FeedItem {
    pub fn from_feed(f: Feed) -> FeedItem {
        FeedItem { c: f.correlation, s: f.source, g: f.group, v: f.values }
    }

    pub fn into_feed(self) -> Feed {
        Feed { correlation: self.c, source: self.s, group: self.g, values: self.v }
    }
}

/// Which partition a feed goes to: by (correlation, group), except that correlations joined
/// by chains (one reads another's alerts) go by the chain alone, so a chain's windows share
/// one partition and its alerts feed each other as in one process.
#[derive(Debug, Clone)]
pub struct Partitioner {
    /// Per correlation: `Some(chain name)` when it belongs to a chain.
    chain: Vec<Option<String>>,
    ids: Vec<String>,
    partitions: u32,
}

impl Partitioner {
    pub fn new(plan: &Plan, partitions: u32) -> Partitioner {
        let n = plan.correlations.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut chained = vec![false; n];
        for (c, corr) in plan.correlations.iter().enumerate() {
            for source in &corr.sources {
                if let CorrelationSource::Correlation(k) = source {
                    let (a, b) = (root(&mut parent, c), root(&mut parent, *k as usize));
                    parent[a.max(b)] = a.min(b);
                    chained[c] = true;
                    chained[*k as usize] = true;
                }
            }
        }
        let ids: Vec<String> = plan.correlations.iter().map(|c| c.info.id.clone()).collect();
        let chain = (0..n).map(|c| chained[c].then(|| format!("chain:{}", ids[root(&mut parent, c)]))).collect();
        Partitioner { chain, ids, partitions }
    }

    /// The partition of a held detection alert: by its rule and suppression group.
    pub fn held_partition(&self, rule_id: &str, group: &serde_json::Map<String, Value>) -> u32 {
        let mut key = format!("suppress:{rule_id}").into_bytes();
        key.push(0);
        key.extend(serde_json::to_vec(group).unwrap_or_default());
        ids::partition(&key, self.partitions)
    }

    pub fn partition(&self, feed: &Feed) -> u32 {
        let c = feed.correlation as usize;
        match self.chain.get(c).and_then(Option::as_ref) {
            Some(chain) => ids::partition(chain.as_bytes(), self.partitions),
            None => {
                let mut key = self.ids.get(c).cloned().unwrap_or_default().into_bytes();
                key.push(0);
                key.extend(serde_json::to_vec(&feed.group).unwrap_or_default());
                ids::partition(&key, self.partitions)
            }
        }
    }
}
