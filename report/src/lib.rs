//! What a hunt found, told to the hunter: alerts in, summaries, timelines and reports out.
//!
//! Every face that produces alerts (`sigil hunt`, `sigil report`, a host) shares these functions,
//! so a summary counts the same way everywhere. The crate reads no file and prints nothing:
//! callers bring alert lines or values and decide where the text goes.

pub mod html;
