//! Partition leases and worker membership in one KV bucket whose `max_age` is the lease's time
//! to live: `p.N` holds the id of partition N's owner, `w.ID` says worker ID is alive.
//!
//! A lease is taken with create (only if the key is absent, expired or deleted) and renewed
//! with update at the revision last written (compare-and-set): a worker that missed its
//! renewals finds the revision moved and knows it lost the partition. A dead worker's leases
//! expire with `max_age`, and another worker creates them. This module owns those KV
//! operations and the balancing rule (each worker holds at most ceil(P / live workers)); it
//! never touches correlation state.

use async_nats::jetstream::kv::Store;
use futures_util::StreamExt;
use std::collections::BTreeMap;

pub fn partition_key(p: u32) -> String {
    format!("p.{p}")
}

fn member_key(id: &str) -> String {
    format!("w.{id}")
}

/// The leases one worker holds, with the revision of each.
pub struct Leases {
    kv: Store,
    /// The bucket's stream, and its name.
    stream: async_nats::jetstream::stream::Stream,
    bucket: String,
    id: String,
    partitions: u32,
    held: BTreeMap<u32, u64>,
    member_revision: Option<u64>,
}

impl Leases {
    pub fn new(
        kv: Store,
        stream: async_nats::jetstream::stream::Stream,
        bucket: &str,
        id: &str,
        partitions: u32,
    ) -> Leases {
        Leases {
            kv,
            stream,
            bucket: bucket.to_string(),
            id: id.to_string(),
            partitions,
            held: BTreeMap::new(),
            member_revision: None,
        }
    }

    pub fn held(&self) -> Vec<u32> {
        self.held.keys().copied().collect()
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

    /// Renews every held lease; returns those that were lost (taken by another, or gone).
    pub async fn renew(&mut self) -> Vec<u32> {
        let mut lost = Vec::new();
        for (&p, revision) in self.held.iter_mut() {
            match self.kv.update(partition_key(p), self.id.clone().into(), *revision).await {
                Ok(r) => *revision = r,
                Err(_) => lost.push(p),
            }
        }
        for p in &lost {
            self.held.remove(p);
        }
        lost
    }

    /// Tries to take partition `p`; true when this worker now holds it.
    pub async fn acquire(&mut self, p: u32) -> bool {
        if self.held.contains_key(&p) {
            return true;
        }
        match self.kv.create(partition_key(p), self.id.clone().into()).await {
            Ok(revision) => {
                self.held.insert(p, revision);
                true
            }
            Err(_) => false,
        }
    }

    /// Gives partition `p` up (its state must be checkpointed first): the lease is deleted at
    /// the revision this worker wrote, so another worker can take it at once.
    pub async fn release(&mut self, p: u32) {
        if let Some(revision) = self.held.remove(&p) {
            let _ = self.kv.delete_expect_revision(partition_key(p), Some(revision)).await;
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
