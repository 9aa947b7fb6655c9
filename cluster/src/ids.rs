//! Names that make redelivery harmless: the `Nats-Msg-Id` of every message Sigil publishes, and
//! the partition a correlation input goes to.
//!
//! Pure functions of their arguments, so a retry, a redelivered event or a replayed partition
//! publishes the very same ids and JetStream's duplicate window stores each message once:
//!
//! | message | id |
//! |---|---|
//! | event (`sigil publish`) | `e:` 16 hex digits of SHA-256(source name) `:` position |
//! | detection alert | `d:` events-stream sequence `:` k-th alert of the event `:` rule id |
//! | feeds of a batch | `f:` first `-` last events-stream sequence `:` partition `:` events |
//! | correlation alert | `c:` partition `:` events-stream sequence of the feed's event `:` k-th alert |
//! | dead letter | `x:` events-stream sequence |

use sha2::{Digest, Sha256};

pub fn event(source: &str, position: u64) -> String {
    let digest = Sha256::digest(source.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("e:{hex}:{position}")
}

pub fn detection(event_seq: u64, k: usize, rule_id: &str) -> String {
    format!("d:{event_seq}:{k}:{rule_id}")
}

/// The feeds of one batch for one partition. A redelivered batch may be cut differently and
/// get another id: owners also keep each event's feeds once (by its sequence).
pub fn feeds(first_seq: u64, last_seq: u64, partition: u32, events: usize) -> String {
    format!("f:{first_seq}-{last_seq}:{partition}:{events}")
}

pub fn correlation(partition: u32, event_seq: u64, k: usize) -> String {
    format!("c:{partition}:{event_seq}:{k}")
}

pub fn dead_letter(event_seq: u64) -> String {
    format!("x:{event_seq}")
}

/// The partition of a correlation input: FNV-1a (64 bit) of `key`, modulo `partitions`. The
/// key is the correlation's id and the group's JSON, or, for correlations joined by chains,
/// the id of the chain alone (a chain's windows must all live in one partition).
pub fn partition(key: &[u8], partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(event("a.jsonl", 3), event("a.jsonl", 3));
        assert_ne!(event("a.jsonl", 3), event("b.jsonl", 3));
        assert!(event("-", 1).starts_with("e:") && event("-", 1).ends_with(":1") && event("-", 1).len() == 20);
        assert_eq!(detection(7, 0, "r"), "d:7:0:r");
        // FNV-1a's published test vector: "a" → 0xaf63dc4c8601ec8c.
        assert_eq!(partition(b"a", u32::MAX), (0xaf63_dc4c_8601_ec8c_u64 % u64::from(u32::MAX)) as u32);
        assert!((0..1000).all(|i| partition(format!("k{i}").as_bytes(), 8) < 8));
    }
}
