//! What `sigil hunt` keeps of its alerts besides printing them: the run summary (on stderr, and
//! as JSON with `--summary FILE`) and the CSV timeline (`--format csv`), both from
//! `sigil_report`.
//!
//! Workers make each detection alert's [`Found`] (its summary record, its timeline row) next to
//! its text, so the writer parses nothing again; the writer adds what is written, in input order,
//! and the alerts of the ordered stage (correlations, suppressions, silences) from their JSON.
//! This module decides nothing about rules or events.

use crate::HuntFormat;
use sigil_engine::Alert;
use sigil_report::{timeline, AlertRecord, Row, Summary, Timeline};
use std::io::{self, IsTerminal};
use std::path::PathBuf;

/// The flags of the summary and the timeline.
#[derive(clap::Args, Debug, Clone)]
pub struct FindingsArgs {
    /// Write the end-of-run summary as JSON to FILE: events read and with hits, alerts by level
    /// and kind, the top rules, the first and last alert time, the top accounts, hosts and IPs.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// When to print the summary on stderr, after the count line: `auto` (when stderr is a
    /// terminal), `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = SummaryWhen::Auto)]
    pub summary_stderr: SummaryWhen,
    /// With --format csv: the most alerts the timeline holds (it sorts them, so it holds them
    /// all); past it the hunt stops with an error rather than drop any.
    #[arg(long, value_name = "N", default_value_t = timeline::DEFAULT_MAX_ROWS)]
    pub max_timeline_rows: usize,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryWhen {
    Auto,
    Always,
    Never,
}

/// What the workers compute for each alert.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    record: bool,
    row: bool,
}

impl Wants {
    pub fn any(self) -> bool {
        self.record || self.row
    }

    /// A detection alert's record and row, as far as they are wanted.
    pub fn found(self, alert: &Alert<'_>, time_ms: Option<i64>) -> Option<Found> {
        self.any().then(|| Found {
            record: self.record.then(|| AlertRecord::of_detection(alert, time_ms)),
            row: self.row.then(|| Row::of_detection(alert, time_ms)),
        })
    }
}

/// One alert's summary record and timeline row.
#[derive(Debug)]
pub struct Found {
    record: Option<AlertRecord>,
    row: Option<Row>,
}

/// The summary and timeline of a run, filled by the writer.
pub struct Findings {
    summary: Option<Summary>,
    timeline: Option<Timeline>,
    /// Why the timeline stopped taking rows (its cap): the hunt ends with it.
    refused: Option<String>,
    print_summary: bool,
    summary_file: Option<PathBuf>,
}

impl Findings {
    pub fn new(args: &FindingsArgs, format: HuntFormat) -> Findings {
        let print_summary = match args.summary_stderr {
            SummaryWhen::Auto => io::stderr().is_terminal(),
            SummaryWhen::Always => true,
            SummaryWhen::Never => false,
        };
        Findings {
            summary: (print_summary || args.summary.is_some()).then(Summary::default),
            timeline: (format == HuntFormat::Csv).then(|| Timeline::new(args.max_timeline_rows)),
            refused: None,
            print_summary,
            summary_file: args.summary.clone(),
        }
    }

    pub fn wants(&self) -> Wants {
        Wants { record: self.summary.is_some(), row: self.timeline.is_some() }
    }

    /// Why the hunt must stop, once the timeline is full.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Adds an alert that was written.
    pub fn add(&mut self, found: Found) {
        if let (Some(summary), Some(record)) = (&mut self.summary, &found.record) {
            summary.add(record);
        }
        if let (Some(timeline), Some(row)) = (&mut self.timeline, found.row) {
            if self.refused.is_none() {
                if let Err(e) = timeline.push(row) {
                    self.refused = Some(e);
                }
            }
        }
    }

    /// Adds an alert of the ordered stage (a correlation, suppression or silence) from its JSON.
    pub fn add_json(&mut self, alert: &impl serde::Serialize) {
        if !self.wants().any() {
            return;
        }
        let value = serde_json::to_value(alert).expect("alerts serialize");
        let record = match self.summary.is_some().then(|| AlertRecord::from_json(&value)) {
            Some(Ok(record)) => Some(record),
            _ => None,
        };
        let row = self.timeline.is_some().then(|| Row::from_json(&value));
        self.add(Found { record, row });
    }

    /// The CSV timeline's bytes (header and sorted rows), with --format csv.
    pub fn take_timeline(&mut self) -> Option<Vec<u8>> {
        let timeline = self.timeline.take()?;
        let mut bytes = Vec::new();
        timeline.write_csv(&mut bytes).expect("writing to memory");
        Some(bytes)
    }

    /// Prints the summary on stderr and writes `--summary FILE`, given the run's event counts.
    pub fn finish(mut self, events: &[(&str, u64)], read: u64, with_hits: u64) -> Result<(), String> {
        let Some(summary) = &mut self.summary else { return Ok(()) };
        summary.set_events(read, with_hits);
        for (name, count) in events {
            summary.set_event_count(name, *count);
        }
        if self.print_summary {
            eprint!("{}", summary.to_text());
        }
        if let Some(path) = &self.summary_file {
            let mut text = serde_json::to_string_pretty(&summary.to_json()).expect("the summary serializes");
            text.push('\n');
            std::fs::write(path, text).map_err(|e| format!("cannot write the summary {}: {e}", path.display()))?;
        }
        Ok(())
    }
}
