//! Alert suppression (a rule's `suppress:` block, Sigil's extension): one alert per group per
//! window of event time, the rest counted and reported in a summary when the window closes.
//!
//! The contract (README, "Alert format"):
//!
//! * A group is the rule and the values of its suppression's `group-by` fields (for a
//!   correlation rule, values of its own group). Its first match alerts as usual, with a
//!   `suppression` member naming the group; that alert opens a window of `timespan` from the
//!   match's event time.
//! * A later match of the group whose time falls before the window's end is suppressed: counted,
//!   not emitted. A match at or after the end closes the window and opens a new one, and alerts.
//! * A window closes when its group matches at or after its end, when the input ends, or when
//!   the group is evicted (past `max_groups`, the window ending first). A closed window that
//!   suppressed anything emits one `kind: "suppression"` alert with the count. So emitted plus
//!   suppressed always equals matches.
//! * Time is event time, per group: logs are not sorted across sources (a file of last year's
//!   events after this week's), so a match never closes another group's window. A match without
//!   a readable time takes the newest time seen so far. The decisions depend on the order of
//!   matches only, so a threaded caller decides in input order ([`Suppressor::admit`]) what its
//!   workers rendered.
//!
//! It keeps that state (bounded, saved and restored with `--state`) and builds the summaries; it
//! never reads a clock, does I/O or evaluates rules.

use crate::alert::{AlertRule, Window};
use crate::event;
use crate::json::Json;
use crate::plan::{Plan, RuleInfo, Suppression};
use crate::time;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Which rule of a plan an alert comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleRef {
    Detection(usize),
    Correlation(usize),
}

impl RuleRef {
    pub fn info(self, plan: &Plan) -> &RuleInfo {
        match self {
            RuleRef::Detection(i) => &plan.rules[i].info,
            RuleRef::Correlation(i) => &plan.correlations[i].info,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            RuleRef::Detection(_) => "detection",
            RuleRef::Correlation(_) => "correlation",
        }
    }
}

/// The group of a detection alert: each `group-by` field's first value in the event (null when
/// absent), in the rule's order.
pub fn detection_group(suppression: &Suppression, event: &Json<'_>) -> Map<String, Value> {
    suppression
        .group_by
        .iter()
        .map(|f| (f.clone(), event::lookup(event, f).first().map_or(Value::Null, Json::to_value)))
        .collect()
}

/// The group of a correlation alert: the named parts of the correlation's own group (all of it
/// when the suppression names none).
pub fn correlation_group(suppression: &Suppression, group: &Map<String, Value>) -> Map<String, Value> {
    if suppression.group_by.is_empty() {
        return group.clone();
    }
    suppression.group_by.iter().map(|f| (f.clone(), group.get(f).cloned().unwrap_or(Value::Null))).collect()
}

/// What the first alert of a window carries: its group and the window's length.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuppressionNote {
    pub group: Map<String, Value>,
    pub timespan_ms: i64,
}

/// The summary of a window that suppressed matches.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionAlertJson<'a> {
    pub kind: &'static str,
    pub rule: AlertRule<'a>,
    /// The window's end.
    pub timestamp: String,
    pub group: &'a Map<String, Value>,
    /// From the alert that opened it to `timespan` later.
    pub window: Window,
    /// Matches counted and not emitted.
    pub suppressed: u64,
    /// All matches of the window: the alert that opened it, and the suppressed ones.
    pub matches: u64,
    /// The event time of the last suppressed match.
    pub last: String,
    /// The kind of the suppressed alerts (`detection` or `correlation`).
    pub alerts: &'static str,
}

#[derive(Debug, Clone)]
struct Open {
    group: Map<String, Value>,
    start: i64,
    end: i64,
    last: i64,
    suppressed: u64,
}

/// A window that closed having suppressed matches: its summary is due.
#[derive(Debug, Clone)]
pub struct Closed {
    rule: RuleRef,
    open: Open,
}

impl Closed {
    pub fn alert<'a>(&'a self, plan: &'a Plan) -> SuppressionAlertJson<'a> {
        let open = &self.open;
        SuppressionAlertJson {
            kind: "suppression",
            rule: AlertRule::new(self.rule.info(plan)),
            timestamp: time::ms_to_rfc3339_utc(open.end),
            group: &open.group,
            window: Window { start: time::ms_to_rfc3339_utc(open.start), end: time::ms_to_rfc3339_utc(open.end) },
            suppressed: open.suppressed,
            matches: open.suppressed + 1,
            last: time::ms_to_rfc3339_utc(open.last),
            alerts: self.rule.kind(),
        }
    }
}

/// The group's identity: its values as JSON text, in `group-by` order.
fn key_of(group: &Map<String, Value>) -> String {
    serde_json::to_string(&group.values().collect::<Vec<_>>()).unwrap_or_default()
}

/// The open windows of every suppressed rule.
#[derive(Debug)]
pub struct Suppressor {
    open: HashMap<(RuleRef, String), Open>,
    /// (end, rule, group key): the order windows close in.
    by_end: BTreeSet<(i64, RuleRef, String)>,
    max_groups: usize,
    /// The newest match time seen.
    clock: Option<i64>,
}

impl Suppressor {
    pub fn new(max_groups: usize) -> Suppressor {
        Suppressor { open: HashMap::new(), by_end: BTreeSet::new(), max_groups: max_groups.max(1), clock: None }
    }

    /// Open windows.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Decides one match of a suppressed rule, in input order: true when its alert is emitted
    /// (the first of a window), false when it is counted. The group's window this match ends,
    /// and one evicted to make room, are pushed to `closed` first (render them with
    /// [`Closed::alert`] before the match's own alert).
    pub fn admit(
        &mut self,
        rule: RuleRef,
        suppression: &Suppression,
        group: Map<String, Value>,
        time: Option<i64>,
        closed: &mut Vec<Closed>,
    ) -> bool {
        let time = time.or(self.clock).unwrap_or(0);
        self.clock = Some(self.clock.map_or(time, |c| c.max(time)));
        let key = (rule, key_of(&group));
        if let Some(open) = self.open.get_mut(&key) {
            if time < open.end {
                open.suppressed += 1;
                open.last = open.last.max(time);
                return false;
            }
            self.close(key.clone(), closed);
        }
        while self.open.len() >= self.max_groups {
            let Some((_, r, k)) = self.by_end.first().cloned() else { break };
            self.close((r, k), closed);
        }
        let end = time.saturating_add(suppression.timespan_ms);
        self.by_end.insert((end, key.0, key.1.clone()));
        self.open.insert(key, Open { group, start: time, end, last: time, suppressed: 0 });
        true
    }

    fn close(&mut self, key: (RuleRef, String), closed: &mut Vec<Closed>) {
        let Some(open) = self.open.remove(&key) else { return };
        self.by_end.remove(&(open.end, key.0, key.1.clone()));
        if open.suppressed > 0 {
            closed.push(Closed { rule: key.0, open });
        }
    }

    /// Closes every window (the input ended), in the order they end.
    pub fn flush(&mut self, closed: &mut Vec<Closed>) {
        while let Some((_, r, k)) = self.by_end.first().cloned() {
            self.close((r, k), closed);
        }
    }

    /// The open windows, as `--state` saves them (rules by kind and id, so the state outlives
    /// the plan's numbering).
    pub fn save(&self, plan: &Plan) -> SavedSuppression {
        let mut windows: Vec<SavedWindow> = self
            .by_end
            .iter()
            .filter_map(|(_, r, k)| {
                let open = self.open.get(&(*r, k.clone()))?;
                Some(SavedWindow {
                    kind: r.kind().to_string(),
                    rule: r.info(plan).id.clone(),
                    group: open.group.clone(),
                    start: open.start,
                    end: open.end,
                    last: open.last,
                    suppressed: open.suppressed,
                })
            })
            .collect();
        windows.sort_by(|a, b| (a.end, &a.kind, &a.rule).cmp(&(b.end, &b.kind, &b.rule)));
        SavedSuppression { clock: self.clock, windows }
    }

    /// Restores saved windows; returns how many were dropped (their rule is not in `plan`, or
    /// no longer suppressed, or past `max_groups`).
    pub fn restore(&mut self, plan: &Plan, saved: SavedSuppression) -> usize {
        let mut dropped = 0;
        self.clock = match (self.clock, saved.clock) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for w in saved.windows {
            let rule = match w.kind.as_str() {
                "detection" => plan.rules.iter().position(|r| r.info.id == w.rule).map(RuleRef::Detection),
                "correlation" => plan.correlations.iter().position(|c| c.info.id == w.rule).map(RuleRef::Correlation),
                _ => None,
            };
            let Some(rule) = rule.filter(|r| r.info(plan).suppress.is_some()) else {
                dropped += 1;
                continue;
            };
            let key = (rule, key_of(&w.group));
            // One window per (rule, group): a second one (a state file written by hand, or
            // damaged) would leave an end-time entry without its window, which `flush` and
            // eviction could never close.
            if self.open.len() >= self.max_groups || self.open.contains_key(&key) {
                dropped += 1;
                continue;
            }
            self.by_end.insert((w.end, rule, key.1.clone()));
            self.open.insert(
                key,
                Open { group: w.group, start: w.start, end: w.end, last: w.last, suppressed: w.suppressed },
            );
        }
        dropped
    }
}

/// The suppression windows in a `--state` file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SavedSuppression {
    pub clock: Option<i64>,
    pub windows: Vec<SavedWindow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedWindow {
    pub kind: String,
    pub rule: String,
    pub group: Map<String, Value>,
    pub start: i64,
    pub end: i64,
    pub last: i64,
    pub suppressed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CompiledRule, LogSource};
    use serde_json::json;

    fn plan(timespan_ms: i64) -> Plan {
        let info = RuleInfo {
            id: "r1".into(),
            title: "Secret read".into(),
            suppress: Some(Suppression { group_by: vec!["user".into()], timespan_ms }),
            ..RuleInfo::default()
        };
        Plan {
            rules: vec![CompiledRule { info, logsource: LogSource::default(), root: 0, alert: true }],
            ..Plan::default()
        }
    }

    fn group(user: &str) -> Map<String, Value> {
        json!({"user": user}).as_object().unwrap().clone()
    }

    /// Runs matches (user, time) through a suppressor; returns the emitted flags and summaries.
    fn run(s: &mut Suppressor, plan: &Plan, matches: &[(&str, Option<i64>)]) -> (Vec<bool>, Vec<Value>) {
        let (mut emitted, mut summaries) = (Vec::new(), Vec::new());
        let suppression = plan.rules[0].info.suppress.clone().unwrap();
        for (user, time) in matches {
            let mut closed = Vec::new();
            emitted.push(s.admit(RuleRef::Detection(0), &suppression, group(user), *time, &mut closed));
            summaries.extend(closed.iter().map(|c| serde_json::to_value(c.alert(plan)).unwrap()));
        }
        (emitted, summaries)
    }

    #[test]
    fn a_state_with_two_windows_of_one_group_keeps_the_first_and_still_flushes() {
        // Found by the `state` fuzz target: the duplicate made `flush` loop forever.
        let plan = plan(60_000);
        let window = |end: i64| SavedWindow {
            kind: "detection".into(),
            rule: "r1".into(),
            group: group("a"),
            start: 0,
            end,
            last: 0,
            suppressed: 1,
        };
        let saved = SavedSuppression { clock: Some(0), windows: vec![window(60_000), window(90_000)] };
        let mut s = Suppressor::new(100);
        assert_eq!(s.restore(&plan, saved), 1);
        let mut closed = Vec::new();
        s.flush(&mut closed);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].open.end, 60_000);
        assert!(s.is_empty());
    }

    #[test]
    fn windows_follow_event_time_and_counts_add_up() {
        let plan = plan(60_000);
        let mut s = Suppressor::new(100);
        let m = [("a", Some(0)), ("a", Some(10_000)), ("b", Some(20_000)), ("a", Some(59_999)), ("a", Some(60_000))];
        let (emitted, summaries) = run(&mut s, &plan, &m);
        assert_eq!(emitted, [true, false, true, false, true]);
        // The match at 60 s closed a's first window (2 suppressed) before opening the next.
        assert_eq!(summaries.len(), 1);
        assert_eq!((summaries[0]["suppressed"].as_u64(), summaries[0]["matches"].as_u64()), (Some(2), Some(3)));
        assert_eq!(summaries[0]["group"], json!({"user": "a"}));
        assert_eq!(summaries[0]["last"], "1970-01-01T00:00:59.999Z");
        let mut rest = Vec::new();
        s.flush(&mut rest);
        // b and a's second window suppressed nothing: no summary.
        assert!(rest.is_empty());
        let suppressed: u64 = summaries.iter().map(|s| s["suppressed"].as_u64().unwrap()).sum();
        assert_eq!(emitted.iter().filter(|e| **e).count() as u64 + suppressed, m.len() as u64);
    }

    #[test]
    fn a_match_without_time_takes_the_newest_and_eviction_reports_the_count() {
        let plan = plan(60_000);
        let mut s = Suppressor::new(1);
        let (emitted, summaries) = run(&mut s, &plan, &[("a", Some(5_000)), ("a", None), ("b", Some(6_000))]);
        assert_eq!(emitted, [true, false, true]);
        assert_eq!(summaries.len(), 1, "a's window was evicted for b, with its count");
        assert_eq!(summaries[0]["suppressed"], 1);
    }

    #[test]
    fn saved_windows_resume_where_they_stopped() {
        let plan = plan(60_000);
        let whole = run(
            &mut Suppressor::new(100),
            &plan,
            &[("a", Some(0)), ("a", Some(1)), ("a", Some(2)), ("a", Some(70_000))],
        );
        let mut first = Suppressor::new(100);
        let (e1, s1) = run(&mut first, &plan, &[("a", Some(0)), ("a", Some(1))]);
        let saved = first.save(&plan);
        let text = serde_json::to_string(&saved).unwrap();
        let mut second = Suppressor::new(100);
        assert_eq!(second.restore(&plan, serde_json::from_str(&text).unwrap()), 0);
        let (e2, s2) = run(&mut second, &plan, &[("a", Some(2)), ("a", Some(70_000))]);
        assert_eq!([e1, e2].concat(), whole.0);
        assert_eq!([s1, s2].concat(), whole.1);
    }
}
