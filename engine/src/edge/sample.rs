//! Deterministic sampling: the same event gets the same verdict on every run, on every host and
//! whatever the order of the stream, because the verdict is a function of the event's key alone.
//!
//! The documented rule (`docs/edge-policy.md`), which anyone can recompute:
//!
//! * the key is the text of each key field's value joined with U+001F: a string as it is (no
//!   quotes), a number, boolean, array or object as compact JSON; a missing or null field is
//!   the empty text;
//! * `h = XXH64(key as UTF-8, seed)`;
//! * the event is kept when `h < floor(rate × 2^64)` (every event when the rate is 1).
//!
//! An event where every key field is missing is kept: sampling never drops what it cannot key.
//! This module decides; it never writes events.

use crate::event;
use crate::json::Json;

/// Joins the values of several key fields.
pub const KEY_SEPARATOR: char = '\u{1f}';

/// The event's sampling key, or `None` when every key field is missing (or null).
pub fn key(event: &Json<'_>, fields: &[String]) -> Option<String> {
    let mut key = String::new();
    let mut any = false;
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            key.push(KEY_SEPARATOR);
        }
        match event::lookup(event, field).first() {
            None | Some(Json::Null) => {}
            Some(Json::String(s)) => {
                any = true;
                key.push_str(s);
            }
            Some(other) => {
                any = true;
                key.push_str(&serde_json::to_string(other).unwrap_or_default());
            }
        }
    }
    any.then_some(key)
}

/// The hash of a key: XXH64 with the given seed.
pub fn hash(key: &str, seed: u64) -> u64 {
    xxhash_rust::xxh64::xxh64(key.as_bytes(), seed)
}

/// Whether a key with hash `h` is kept at `rate`.
pub fn keeps(h: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    // `as` saturates and maps NaN to 0; rates are checked to be in (0, 1] when the policy is read.
    let threshold = (rate * 18_446_744_073_709_551_616.0) as u64;
    h < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_value_texts_joined_and_missing_fields_are_empty() {
        let event = json!({"ip": "10.0.0.1", "port": 443, "tls": true, "n": null});
        let doc = Json::from_value(&event);
        let fields = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(key(&doc, &fields(&["ip", "port"])).as_deref(), Some("10.0.0.1\u{1f}443"));
        assert_eq!(key(&doc, &fields(&["missing", "tls"])).as_deref(), Some("\u{1f}true"));
        assert_eq!(key(&doc, &fields(&["missing", "n"])), None);
    }

    #[test]
    fn the_hash_is_xxh64_of_the_reference_vectors() {
        // XXH64's reference value for the empty input with seed 0.
        assert_eq!(hash("", 0), 0xEF46_DB37_51D8_E999);
    }

    #[test]
    fn rates_cut_the_hash_space() {
        assert!(keeps(u64::MAX, 1.0));
        assert!(keeps(0, 0.000_001));
        assert!(keeps(u64::MAX / 4 - 1, 0.25));
        assert!(!keeps(u64::MAX / 4 + 1, 0.25));
    }
}
