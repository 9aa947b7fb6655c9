//! The Sigil engine: runs a compiled [`plan::Plan`] over JSON events and reports which rules fired.
//!
//! The pipeline inside this crate is small and one-way:
//!
//! * [`plan`] — the compiled, serializable form of a rule pack (what the compiler produces);
//! * [`pack`] — a plan as versioned bytes (`sigil compile -o PACK`);
//! * [`lines`] — lines of a stream, each held only up to a bound (over-long lines skipped);
//! * [`json`] — the event document, a JSON tree borrowed from the event text (depth bounded);
//! * [`layout`] — nested layouts (evtx_dump JSON) laid flat so Sigma field names reach values;
//! * [`event`] — how a Sigma field name is looked up in a JSON event (flat dotted keys, nested
//!   paths, arrays);
//! * [`matcher`] — each predicate of the plan turned into a ready-to-run matcher;
//! * [`route`] — which rules an event's (declared or recognised) logsource admits;
//! * [`prefilter`] — where the first of a few needles starts (Teddy; simd128 on wasm32);
//! * [`index`] — per route, literal needles grouped per field for one Aho-Corasick pass, and the
//!   candidate rules each needle triggers;
//! * [`time`] — timestamps in events (alert time and the time-part modifiers);
//! * [`eval`] — the [`Engine`] that evaluates every rule's condition for one event;
//! * [`enrich`] — lookup tables (CSV on the command line) joined onto events before rules run;
//! * [`correlate`] — correlation windows per group, fed with detections in input order;
//! * [`silence`] — silence rules: a watched source that goes quiet (in event time) alerts;
//! * [`edge`] — edge policies (keep, drop, sample, aggregate, tag) run after the detections;
//! * [`session`] — a sequential hunt over JSON Lines (what the Wasm guest runs), and the
//!   per-line and per-detection steps `sigil hunt` shares with it;
//! * [`alert`] — the stable alert JSON that callers print;
//! * [`explain`] — why one rule fires or not on one event, in the rule's own terms.
//!
//! Architecture invariant: this crate does no file, network, thread or clock access of its own,
//! so it builds unchanged for `wasm32-unknown-unknown`.

pub mod alert;
pub mod correlate;
pub mod edge;
pub mod enrich;
pub mod eval;
pub mod event;
pub mod explain;
pub mod fold;
pub mod index;
pub mod json;
pub mod json_lines;
pub mod layout;
pub mod lines;
pub mod match_core;
pub mod matcher;
pub mod pack;
pub mod plan;
pub mod prefilter;
pub mod route;
pub mod session;
pub mod silence;
pub mod suppress;
pub mod time;

pub use alert::{Alert, EventSource};
pub use eval::{Detection, Engine, Routing, Scratch};
pub use json::Json;
pub use plan::{Plan, PLAN_FORMAT_VERSION};
