//! What a hunt found, told to the hunter: alerts in, summaries, timelines and reports out.
//!
//! Every face that produces alerts (`sigil hunt`, `sigil report`, a host) shares these functions,
//! so a summary counts the same way everywhere. The crate reads no file and prints nothing:
//! callers bring alert lines or values and decide where the text goes.
//!
//! - `alerts`: one alert as the reports count it ([`AlertRecord`]), from the engine's alert or
//!   from an alert line.
//! - `entities`: the accounts, hosts and IPs an alert is about (the field table).
//! - `summary`: the end-of-run summary ([`Summary`]), bounded, as JSON or text.
//! - `timeline`: the CSV timeline ([`Timeline`]): rows sorted by event time, bounded.
//! - `html`: the self-contained HTML report (`sigil report`), its page in `report/page/`.

pub mod alerts;
pub mod entities;
pub mod html;
pub mod summary;
pub mod timeline;

pub use alerts::AlertRecord;
pub use entities::{Entity, EntityKind};
pub use summary::Summary;
pub use timeline::{Row, Timeline};
