//! OCSF 1.8.0: raw events mapped to OCSF classes (`sigil normalize --to ocsf`), and alerts as
//! Detection Findings (`sigil hunt --format ocsf`).
//!
//! Every function here is pure: JSON in, JSON out. A mapping returns `None` when it does not
//! apply, or when the event lacks what its class requires (a readable time, a user…): such an
//! event is passed through by the caller, never dropped. Each OCSF object holds the raw event
//! in `raw_data`, and the source fields no mapping read in `unmapped`.
//!
//! Mapped: CloudTrail (`cloudtrail`: Authentication 3002, Account Change 3001, API Activity
//! 6003), Okta System Log (`okta`: Authentication 3002, Account Change 3001), flat Windows
//! events (`windows`: Security 4624/4625 → Authentication 3002, Sysmon 1 and Security 4688 →
//! Process Activity 1007). Alerts: `finding` (Detection Finding 2004).
//!
//! Architecture invariant: no I/O. Values in, values out; the crate builds for
//! `wasm32-unknown-unknown`, so the CLI, the Wasm component and the playground map events with
//! the same code.

mod classes;
pub mod cloudtrail;
mod finding;
mod lines;
pub mod okta;
mod shape;
mod source;
pub mod windows;

pub use finding::{correlation_finding, detection_finding, silence_finding, suppression_finding};
pub use lines::{normalize_jsonl, normalize_record, Counts};

pub(crate) use classes::*;
pub(crate) use shape::*;
pub use source::Field;
pub(crate) use source::Source;

use serde_json::Value;

/// The OCSF schema version the objects follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// Maps one raw event to its OCSF object, or `None` when no mapping applies.
pub fn normalize(event: &Value) -> Option<Value> {
    if !event.is_object() {
        return None;
    }
    cloudtrail::map(event).or_else(|| okta::map(event)).or_else(|| windows::map(event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_of_no_known_source_are_not_mapped() {
        assert_eq!(normalize(&json!({"message": "hello"})), None);
        assert_eq!(normalize(&json!([1, 2])), None);
    }
}
