//! Partition leases and worker membership in one KV bucket whose `max_age` is the lease's time
//! to live: `p.N` holds the id of partition N's owner, `w.ID` says worker ID is alive.
//!
//! A lease is taken with create (only if the key is absent, expired or deleted) and renewed
//! with update at the revision last written (compare-and-set): a worker that missed its
//! renewals finds the revision moved and knows it lost the partition. A dead worker's leases
//! expire with `max_age`, and another worker creates them.
//!
//! Two things make this safe beyond what compare-and-set alone gives:
//!
//! * **Verified acquisition.** A clustered stream in nats-server before 2.10 checks an expected
//!   revision before proposing the write, not as part of it (nats-server#4320), so two
//!   concurrent creates of one key can both succeed. A create is therefore followed by a
//!   settling pause and a read of the key's last revision from the stream leader: the lease is
//!   held only when that revision is this worker's own (the later of two racing writes wins,
//!   and both workers see it).
//! * **A fence in time.** A lease is this worker's until `max_age` after its last write was
//!   applied; the [`Fence`] of each partition says it holds until two thirds of that from when
//!   the last successful write was *sent*. Owners stop writing once their fence has passed, so
//!   a worker cut off from the servers stops before anyone else can take its partitions.
//!
//! This module owns those KV operations and the balancing rule (each worker holds at most
//! ceil(P / live workers)); it never touches correlation state.

use async_nats::jetstream::kv::{Store, UpdateErrorKind};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn partition_key(p: u32) -> String {
    format!("p.{p}")
}

fn member_key(id: &str) -> String {
    format!("w.{id}")
}

/// Until when an owner may act on its partition: shared by the lease keeper, which extends it
/// on every successful renewal, and the owner, which checks it before it writes.
#[derive(Debug)]
pub struct Fence {
    origin: Instant,
    /// Milliseconds after `origin`.
    until_ms: AtomicU64,
}

impl Fence {
    fn new(until: Instant) -> Arc<Fence> {
        let origin = Instant::now();
        let fence = Fence { origin, until_ms: AtomicU64::new(0) };
        fence.extend(until);
        Arc::new(fence)
    }

    fn extend(&self, until: Instant) {
        let ms = until.saturating_duration_since(self.origin).as_millis() as u64;
        self.until_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// True while the lease is certainly still this worker's.
    pub fn holds(&self) -> bool {
        (self.origin.elapsed().as_millis() as u64) < self.until_ms.load(Ordering::Acquire)
    }
}

struct Held {
    revision: u64,
    fence: Arc<Fence>,
}

/// The leases one worker holds, with the revision of each.
pub struct Leases {
    kv: Store,
    /// The bucket's stream, and its name.
    stream: async_nats::jetstream::stream::Stream,
    bucket: String,
    id: String,
    partitions: u32,
    ttl: Duration,
    held: BTreeMap<u32, Held>,
    member_revision: Option<u64>,
}

impl Leases {
    pub fn new(
        kv: Store,
        stream: async_nats::jetstream::stream::Stream,
        bucket: &str,
        id: &str,
        partitions: u32,
        ttl: Duration,
    ) -> Leases {
        Leases {
            kv,
            stream,
            bucket: bucket.to_string(),
            id: id.to_string(),
            partitions,
            ttl,
            held: BTreeMap::new(),
            member_revision: None,
        }
    }

    pub fn held(&self) -> Vec<u32> {
        self.held.keys().copied().collect()
    }

    /// The fence of a held partition.
    pub fn fence(&self, p: u32) -> Option<Arc<Fence>> {
        self.held.get(&p).map(|h| Arc::clone(&h.fence))
    }

    /// How long after a write was sent the lease is still certainly this worker's.
    fn safe_for(&self) -> Duration {
        self.ttl * 2 / 3
    }

    /// Says this worker is alive (renewing its member key).
    pub async fn heartbeat(&mut self) -> Result<(), String> {
        let key = member_key(&self.id);
        let revision = self.kv.put(&key, self.id.clone().into()).await.map_err(|e| format!("{key}: {e}"))?;
        self.member_revision = Some(revision);
        Ok(())
    }

    /// Live workers (member keys not expired), this one included: the subjects of member keys
    /// in the bucket's stream (expired entries are gone from it; a departed worker's delete
    /// marker counts until it expires too).
    pub async fn members(&self) -> Result<usize, String> {
        let filter = format!("$KV.{}.w.>", self.bucket);
        let mut subjects =
            self.stream.info_with_subjects(&filter).await.map_err(|e| format!("listing workers: {e}"))?;
        let mut n = 0;
        while let Some(subject) = subjects.next().await {
            subject.map_err(|e| format!("listing workers: {e}"))?;
            n += 1;
        }
        Ok(n.max(1))
    }

    /// How many partitions this worker should hold with `members` workers alive.
    pub fn target(&self, members: usize) -> usize {
        (self.partitions as usize).div_ceil(members.max(1))
    }

    /// Renews every held lease; returns those that were lost: taken by another (the revision
    /// moved) or not renewed for so long that another worker may take it soon. A renewal that
    /// fails for another reason (a server lost, a leader being elected) is retried next time.
    pub async fn renew(&mut self) -> Vec<u32> {
        let mut lost = Vec::new();
        let safe_for = self.safe_for();
        for (&p, held) in self.held.iter_mut() {
            let sent = Instant::now();
            match self.kv.update(partition_key(p), self.id.clone().into(), held.revision).await {
                Ok(r) => {
                    held.revision = r;
                    held.fence.extend(sent + safe_for);
                }
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => lost.push(p),
                Err(e) => {
                    if !held.fence.holds() {
                        lost.push(p);
                    } else {
                        eprintln!("sigil: worker: partition {p}: renewing the lease: {e} (retrying)");
                    }
                }
            }
        }
        for p in &lost {
            self.held.remove(p);
        }
        lost
    }

    /// Tries to take up to `want` of `candidates`, in order; returns those this worker now
    /// holds. Creates first, then one settling pause, then each lease is verified against the
    /// key's last revision on the stream leader (see the module doc): a lease another worker's
    /// concurrent create overtook is left to it.
    pub async fn acquire(&mut self, candidates: &[u32], want: usize) -> Vec<u32> {
        let mut created = Vec::new();
        for &p in candidates {
            if created.len() >= want {
                break;
            }
            if self.held.contains_key(&p) {
                continue;
            }
            let sent = Instant::now();
            if let Ok(revision) = self.kv.create(partition_key(p), self.id.clone().into()).await {
                created.push((p, revision, sent));
            }
        }
        if created.is_empty() {
            return Vec::new();
        }
        tokio::time::sleep(self.settle()).await;
        let mut acquired = Vec::new();
        for (p, revision, sent) in created {
            let subject = format!("$KV.{}.{}", self.bucket, partition_key(p));
            match self.stream.get_last_raw_message_by_subject(&subject).await {
                Ok(last) if last.sequence == revision => {
                    let fence = Fence::new(sent + self.safe_for());
                    if fence.holds() {
                        self.held.insert(p, Held { revision, fence });
                        acquired.push(p);
                    } else {
                        let _ = self.kv.delete_expect_revision(partition_key(p), Some(revision)).await;
                    }
                }
                Ok(last) => eprintln!(
                    "sigil: worker: partition {p}: another worker's lease (revision {}) overtook ours ({revision})",
                    last.sequence
                ),
                // Unverified: given back, so that nobody waits for it to expire.
                Err(_) => {
                    let _ = self.kv.delete_expect_revision(partition_key(p), Some(revision)).await;
                }
            }
        }
        acquired
    }

    /// Long enough for any write that raced ours past the revision check to be applied too.
    fn settle(&self) -> Duration {
        (self.ttl / 6).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// Gives partition `p` up (its state must be checkpointed first): the lease is deleted at
    /// the revision this worker wrote, so another worker can take it at once.
    pub async fn release(&mut self, p: u32) {
        if let Some(held) = self.held.remove(&p) {
            let _ = self.kv.delete_expect_revision(partition_key(p), Some(held.revision)).await;
        }
    }

    /// Leaves the group: the member key is deleted (leases must be released first).
    pub async fn leave(&mut self) {
        if self.member_revision.take().is_some() {
            let _ = self.kv.delete(member_key(&self.id)).await;
        }
    }

    /// Partitions in the order this worker tries them: starting from a place that depends on
    /// its id, so workers starting together do not all race for partition 0.
    pub fn candidates(&self) -> Vec<u32> {
        let start = crate::ids::partition(self.id.as_bytes(), self.partitions);
        (0..self.partitions).map(|i| (start + i) % self.partitions).filter(|p| !self.held.contains_key(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_holds_until_its_time_and_only_moves_forward() {
        let fence = Fence::new(Instant::now() + Duration::from_millis(200));
        assert!(fence.holds());
        fence.extend(Instant::now());
        assert!(fence.holds(), "an earlier time never shortens a fence");
        std::thread::sleep(Duration::from_millis(250));
        assert!(!fence.holds());
        fence.extend(Instant::now() + Duration::from_secs(5));
        assert!(fence.holds());
    }
}
