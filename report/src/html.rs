//! The self-contained HTML report of `sigil report` (and `hunt --report`): alert lines in, one
//! HTML string out, with the alerts embedded as JSON and the page's script and style inlined, so
//! the file opens anywhere, offline, and makes no request.
//!
//! This module owns what the page is given: which alerts are embedded (at most
//! [`Options::max_alerts`], the rest counted), which lines were not alerts (counted, the first
//! [`MALFORMED_LISTED`] kept with their line), the rules with their counts, and the ATT&CK heat
//! map (tags read by `sigil_compiler::coverage::tag_cells`, as `sigil coverage` reads them). It
//! never reads a file or prints: the caller feeds lines and writes [`Report::html`] where it
//! wants. How the data is drawn is the page's (`report/page/`, plain JavaScript and CSS).

mod attack;
mod payload;

use crate::alerts::{level_rank, AlertRecord};
use crate::entities::Entity;
use crate::summary::{Limits, Summary};
use serde_json::Value;
use std::collections::HashMap;

/// At most this many alerts are embedded unless the caller says otherwise (`--max-alerts`):
/// about 350 MB of HTML for Windows alerts with their events, still readable by a browser.
pub const DEFAULT_MAX_ALERTS: usize = 100_000;

/// At most this many malformed lines are listed with their reason; the rest are only counted.
pub const MALFORMED_LISTED: usize = 100;

/// The levels in the order the page stacks and colours them: `alerts::LEVELS`, then `(none)`
/// for an alert whose rule has no level or one Sigma does not define.
pub const LEVELS: [&str; 6] = ["informational", "low", "medium", "high", "critical", "(none)"];

const PAGE_HTML: &str = include_str!("../page/report.html");
const PAGE_CSS: &str = include_str!("../page/report.css");
const PAGE_JS: &str = include_str!("../page/report.js");

/// What the caller decides about a report.
#[derive(Debug, Clone)]
pub struct Options {
    /// The page's title.
    pub title: String,
    /// The most alerts embedded; later ones are counted and reported as left out.
    pub max_alerts: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { title: "Sigil report".to_string(), max_alerts: DEFAULT_MAX_ALERTS }
    }
}

/// A line that was not an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line in the input.
    pub line: u64,
    /// Why it is not an alert.
    pub reason: String,
}

/// The finished report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The whole HTML document.
    pub html: String,
    /// Alerts embedded.
    pub embedded: usize,
    /// Alerts read but not embedded, over [`Options::max_alerts`].
    pub left_out: usize,
    /// Lines that were not alerts, counted.
    pub malformed: u64,
    /// The first [`MALFORMED_LISTED`] of them, with their reason.
    pub malformed_listed: Vec<Malformed>,
}

/// One embedded alert: its time (ms since the epoch), rule, level, entities and the line as written.
struct Embedded {
    time_ms: Option<i64>,
    rule: usize,
    level: usize,
    entities: Vec<Entity>,
    line: String,
}

/// A rule that fired, with how often.
struct RuleCount {
    id: String,
    title: String,
    level: usize,
    tags: Vec<String>,
    alerts: usize,
}

/// Builds a report line by line, holding only the embedded alerts' text.
pub struct ReportBuilder {
    options: Options,
    alerts: Vec<Embedded>,
    rules: Vec<RuleCount>,
    rule_index: HashMap<(String, String), usize>,
    /// The embedded alerts counted as `sigil hunt --summary` counts them: the top entities.
    summary: Summary,
    left_out: usize,
    malformed: u64,
    malformed_listed: Vec<Malformed>,
}

impl ReportBuilder {
    pub fn new(options: Options) -> Self {
        ReportBuilder {
            options,
            alerts: Vec::new(),
            rules: Vec::new(),
            rule_index: HashMap::new(),
            summary: Summary::new(Limits::default()),
            left_out: 0,
            malformed: 0,
            malformed_listed: Vec::new(),
        }
    }

    /// Adds line `line` (1-based) of alert JSON Lines. Blank lines are skipped; a line that is
    /// not an alert object with `rule.title` is counted as malformed.
    pub fn push_line(&mut self, line: u64, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => return self.push_malformed(line, format!("not an alert: not JSON: {e}")),
        };
        let title = value.get("rule").and_then(|rule| rule.get("title")).and_then(Value::as_str);
        let record = match AlertRecord::from_json(&value) {
            Ok(record) if title.is_some() => record,
            _ => {
                return self
                    .push_malformed(line, "not an alert: a JSON object with rule.title was expected".to_string())
            }
        };
        if self.alerts.len() >= self.options.max_alerts {
            self.left_out += 1;
            return;
        }
        self.summary.add(&record);
        let level = record.level.as_deref().and_then(level_rank).unwrap_or(LEVELS.len() - 1);
        let tags: Vec<String> = value["rule"]["tags"]
            .as_array()
            .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let rule = self.rule_of(&record, level, tags);
        self.rules[rule].alerts += 1;
        self.alerts.push(Embedded {
            time_ms: record.time_ms,
            rule,
            level,
            entities: record.entities,
            line: text.to_string(),
        });
    }

    /// Counts a line that could not be read as an alert (not UTF-8, over a length limit, ...).
    pub fn push_malformed(&mut self, line: u64, reason: String) {
        self.malformed += 1;
        if self.malformed_listed.len() < MALFORMED_LISTED {
            self.malformed_listed.push(Malformed { line, reason });
        }
    }

    /// The report of every line pushed.
    pub fn finish(mut self) -> Report {
        // By event time, alerts without one last; the sort is stable, so ties keep input order.
        self.alerts.sort_by_key(|a| (a.time_ms.is_none(), a.time_ms));
        let payload = payload::write(&self);
        let title = escape_html(&self.options.title);
        let html = fill(
            PAGE_HTML,
            &[("{{TITLE}}", &title), ("/*{{CSS}}*/", PAGE_CSS), ("{{DATA}}", &payload), ("/*{{JS}}*/", PAGE_JS)],
        );
        Report {
            html,
            embedded: self.alerts.len(),
            left_out: self.left_out,
            malformed: self.malformed,
            malformed_listed: self.malformed_listed,
        }
    }

    fn rule_of(&mut self, record: &AlertRecord, level: usize, tags: Vec<String>) -> usize {
        let key = (record.rule_id.clone(), record.rule_title.clone());
        if let Some(&i) = self.rule_index.get(&key) {
            return i;
        }
        self.rules.push(RuleCount { id: key.0.clone(), title: key.1.clone(), level, tags, alerts: 0 });
        self.rule_index.insert(key, self.rules.len() - 1);
        self.rules.len() - 1
    }
}

/// The report of a whole text of alert JSON Lines.
pub fn render(text: &str, options: Options) -> Report {
    let mut builder = ReportBuilder::new(options);
    for (n, line) in text.lines().enumerate() {
        builder.push_line(n as u64 + 1, line);
    }
    builder.finish()
}

/// `template` with each marker, in order, replaced by its text. Markers are found in the
/// template only, never in text already put in, so no alert or title can place a marker.
fn fill(template: &str, parts: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + parts.iter().map(|(_, text)| text.len()).sum::<usize>());
    let mut rest = template;
    for (marker, text) in parts {
        let (before, after) = rest.split_once(marker).expect("the page template holds every marker, in order");
        out.push_str(before);
        out.push_str(text);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Text for an HTML element or attribute value.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
