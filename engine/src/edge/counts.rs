//! What an edge stream did, per action: the numbers an operator shows to prove what was
//! reduced. They add up: every event read is rejected, or went to exactly one action outcome
//! ([`Counts::accounted`]). This module only counts and prints.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Events read (malformed ones included).
    pub events: u64,
    /// Malformed events: reported, not forwarded.
    pub rejected: u64,
    /// Forwarded unchanged by `keep` (or a default of keep).
    pub kept: u64,
    pub dropped: u64,
    /// Forwarded by `sample` (or kept because they had none of the key fields, or were of an
    /// authentication logsource).
    pub sampled_in: u64,
    pub sampled_out: u64,
    /// Events counted into summaries.
    pub aggregated_in: u64,
    /// Summary events written.
    pub aggregated_out: u64,
    /// Events of an `aggregate` entry forwarded as they are: their window had closed, or they
    /// had no time.
    pub late: u64,
    /// Forwarded with the matching rules' titles added.
    pub tagged: u64,
    /// Alerts written (detections, correlations, silences), from the whole stream.
    pub alerts: u64,
    /// Bytes of the input lines (with their line ends) and of the forwarded lines.
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counts {
    /// Adds `other` in (streams that ran one after the other).
    pub fn add(&mut self, other: &Counts) {
        let Counts {
            events,
            rejected,
            kept,
            dropped,
            sampled_in,
            sampled_out,
            aggregated_in,
            aggregated_out,
            late,
            tagged,
            alerts,
            bytes_in,
            bytes_out,
        } = other;
        self.events += events;
        self.rejected += rejected;
        self.kept += kept;
        self.dropped += dropped;
        self.sampled_in += sampled_in;
        self.sampled_out += sampled_out;
        self.aggregated_in += aggregated_in;
        self.aggregated_out += aggregated_out;
        self.late += late;
        self.tagged += tagged;
        self.alerts += alerts;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
    }

    /// Lines written to the output: forwarded events and summaries.
    pub fn forwarded(&self) -> u64 {
        self.kept + self.sampled_in + self.tagged + self.late + self.aggregated_out
    }

    /// Events with an outcome: equals [`Counts::events`] when nothing was lost.
    pub fn accounted(&self) -> u64 {
        self.rejected
            + self.kept
            + self.dropped
            + self.sampled_in
            + self.sampled_out
            + self.aggregated_in
            + self.late
            + self.tagged
    }
}

impl std::fmt::Display for Counts {
    /// One line: `in 10 (rejected 0): kept 2, dropped 3, sampled 1 in / 1 out, aggregated 2 into
    /// 1 summaries (late 0), tagged 1; forwarded 5 lines; bytes 900 in, 300 out; alerts 1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "in {} (rejected {}): kept {}, dropped {}, sampled {} in / {} out, aggregated {} into {} summaries (late {}), tagged {}; forwarded {} lines; bytes {} in, {} out; alerts {}",
            self.events,
            self.rejected,
            self.kept,
            self.dropped,
            self.sampled_in,
            self.sampled_out,
            self.aggregated_in,
            self.aggregated_out,
            self.late,
            self.tagged,
            self.forwarded(),
            self.bytes_in,
            self.bytes_out,
            self.alerts
        )
    }
}
