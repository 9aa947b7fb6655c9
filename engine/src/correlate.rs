//! Correlation state: detections (and correlation alerts, for chains) grouped by key in sliding
//! event-time windows, and the alerts that fire when a window meets its condition.
//!
//! Semantics (README, "Correlations"): event time; sliding windows where an event exactly
//! `timespan` after another is outside; late events count while they are inside the newest
//! window; a group whose key field is missing is grouped under null; a group fires once when its
//! condition holds, then starts afresh. State is bounded: groups expire with their window, and
//! past `max_groups` the stalest groups are evicted (counted); a `value_count` group tells apart
//! at most `max_distinct_values` values in its window ([`DEFAULT_MAX_DISTINCT_VALUES`]): a value
//! first seen while it holds that many is not kept, so its count stays at the limit (a lower
//! bound of the true count) until older values leave the window, and the group is reported once
//! ([`Correlator::take_warnings`]). This module does no I/O: the caller feeds it [`Feed`]s in
//! input order.

use crate::event;
use crate::json::Json;
use crate::plan::{Correlation, CorrelationKind, CorrelationSource, Plan};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};

/// Where an event came from, kept for the alert's evidence list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventRef {
    pub file: std::sync::Arc<str>,
    pub line: u64,
}

/// One input to one correlation: a source of it fired for this group.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub correlation: u32,
    /// Which of the correlation's sources fired.
    pub source: u32,
    pub group: Vec<Value>,
    /// The value field(s), for value_* types.
    pub values: Vec<Value>,
}

/// At most this many evidence references are kept per alert (the total is counted).
pub const MAX_EVIDENCE: usize = 100;

/// Warnings held for a caller that never takes them (a long-running worker) stop here.
const MAX_PENDING_WARNINGS: usize = 100;

/// The distinct values a `value_count` group tells apart in its window by default
/// (`--max-distinct-values`).
pub const DEFAULT_MAX_DISTINCT_VALUES: usize = 10_000;

/// A correlation that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationAlert {
    pub correlation: u32,
    pub group: Map<String, Value>,
    /// The count (event_count, value_count, temporal) or the aggregate (value_sum, …).
    pub measure: Measure,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub events: Vec<EventRef>,
    pub events_total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Count(usize),
    Value(f64),
}

/// An event reference inside the state: the file as an index into the correlator's file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Ref {
    file: u32,
    line: u64,
}

/// What an entry carries besides its time: kept small, as there is one per event in a window.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Slot {
    None,
    /// value_sum, value_avg, percentiles.
    Num(f64),
    /// value_count: the value(s) as JSON text, compared exactly.
    Text(Box<str>),
    /// An alert of a chained correlation: the events behind it.
    Chain(Box<[Ref]>),
}

/// One event in a window (48 bytes).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    time: i64,
    at: Ref,
    source: u32,
    slot: Slot,
}

impl Entry {
    fn evidence(&self) -> &[Ref] {
        match &self.slot {
            Slot::Chain(refs) => refs,
            _ => std::slice::from_ref(&self.at),
        }
    }
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Group {
    entries: VecDeque<Entry>,
    newest: i64,
    /// A value_count group that reached the distinct-value limit (reported once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    saturated: bool,
}

/// Per-correlation, per-group windows.
#[derive(Debug)]
pub struct Correlator {
    readers: Readers,
    groups: HashMap<(u32, Box<str>), Group>,
    /// Input names, referred to by index from the state.
    files: Vec<std::sync::Arc<str>>,
    file_index: HashMap<std::sync::Arc<str>, u32>,
    max_groups: usize,
    max_distinct_values: usize,
    evicted: u64,
    observed: u64,
    /// Groups that reached the distinct-value limit since the caller last took them.
    warnings: Vec<String>,
}

impl Correlator {
    /// The most groups it keeps.
    pub fn max_groups(&self) -> usize {
        self.max_groups
    }

    pub fn new(plan: &Plan, max_groups: usize) -> Correlator {
        Correlator {
            readers: Readers::new(plan),
            groups: HashMap::new(),
            files: Vec::new(),
            file_index: HashMap::new(),
            max_groups: max_groups.max(1),
            max_distinct_values: DEFAULT_MAX_DISTINCT_VALUES,
            evicted: 0,
            observed: 0,
            warnings: Vec::new(),
        }
    }

    /// Sets how many distinct values a `value_count` group tells apart (at least 1).
    pub fn set_max_distinct_values(&mut self, n: usize) {
        self.max_distinct_values = n.max(1);
    }

    pub fn max_distinct_values(&self) -> usize {
        self.max_distinct_values
    }

    /// One sentence per group that reached the distinct-value limit since the last call (each
    /// group once while it is open), naming the correlation, the group and the limit.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn is_empty(&self) -> bool {
        self.readers.correlations.is_empty()
    }

    pub fn correlation(&self, i: u32) -> &Correlation {
        &self.readers.correlations[i as usize]
    }

    /// Groups evicted because of the cap, for the end-of-run report.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// Drops every open window (an embedder starting a new stream, or rotating its state);
    /// returns how many groups were dropped.
    pub fn clear(&mut self) -> usize {
        let open = self.groups.len();
        self.groups.clear();
        open
    }

    /// What the correlations reading `rule` need from an event on which it fired.
    pub fn feeds_for_rule(&self, rule: usize, event: &Json<'_>, out: &mut Vec<Feed>) {
        self.readers.feeds_for_rule(rule, event, out);
    }

    /// Feeds the detections of one event (at `time`, in milliseconds) and returns the alerts
    /// that fire, chains included, in plan order.
    pub fn observe(&mut self, time: i64, evidence: EventRef, feeds: Vec<Feed>) -> Vec<CorrelationAlert> {
        let mut alerts = Vec::new();
        // An event that several of a correlation's rules matched is still one event, except for
        // the temporal types, which count the rules.
        let at = self.intern(&evidence);
        let mut queue: VecDeque<(Feed, Option<Box<[Ref]>>)> = VecDeque::with_capacity(feeds.len());
        for f in feeds {
            let per_rule = matches!(
                self.readers.correlations[f.correlation as usize].kind,
                CorrelationKind::Temporal | CorrelationKind::TemporalOrdered
            );
            let repeat = queue.iter().any(|(q, _)| q.correlation == f.correlation && q.group == f.group);
            if per_rule || !repeat {
                queue.push_back((f, None));
            }
        }
        while let Some((feed, chain)) = queue.pop_front() {
            if let Some((alert, refs)) = self.add(time, at, feed, chain) {
                // A correlation alert is an input of the correlations chained onto it.
                for &(c, s) in &self.readers.of_correlation[alert.correlation as usize] {
                    let corr = &self.readers.correlations[c as usize];
                    let group = corr
                        .group_by
                        .iter()
                        .map(|k| alert.group.get(&k.fields[s as usize]).cloned().unwrap_or(Value::Null))
                        .collect();
                    let feed = Feed { correlation: c, source: s, group, values: Vec::new() };
                    queue.push_back((feed, Some(refs.clone())));
                }
                alerts.push(alert);
            }
        }
        self.observed += 1;
        if self.observed.is_multiple_of(4096) {
            self.expire(time);
        }
        alerts
    }

    fn intern(&mut self, r: &EventRef) -> Ref {
        let file = match self.file_index.get(&r.file) {
            Some(&i) => i,
            None => {
                let i = self.files.len() as u32;
                self.files.push(r.file.clone());
                self.file_index.insert(r.file.clone(), i);
                i
            }
        };
        Ref { file, line: r.line }
    }

    fn external(&self, r: Ref) -> EventRef {
        EventRef { file: self.files[r.file as usize].clone(), line: r.line }
    }

    /// Adds one input to its group's window; on firing, returns the alert and its evidence.
    fn add(
        &mut self,
        time: i64,
        at: Ref,
        feed: Feed,
        chain: Option<Box<[Ref]>>,
    ) -> Option<(CorrelationAlert, Box<[Ref]>)> {
        let corr = &self.readers.correlations[feed.correlation as usize];
        let slot = match (corr.kind, chain) {
            (_, Some(refs)) => Slot::Chain(refs),
            (CorrelationKind::ValueCount, None) => {
                Slot::Text(serde_json::to_string(&feed.values).unwrap_or_default().into())
            }
            (CorrelationKind::ValueSum | CorrelationKind::ValueAvg | CorrelationKind::ValuePercentile(_), None) => {
                // A value correlation ignores events without a numeric value.
                Slot::Num(feed.values.first().and_then(number)?)
            }
            _ => Slot::None,
        };
        let key: Box<str> = serde_json::to_string(&feed.group).unwrap_or_default().into();
        let key = (feed.correlation, key);
        if !self.groups.contains_key(&key) && self.groups.len() >= self.max_groups {
            self.evict();
        }
        let corr = &self.readers.correlations[feed.correlation as usize];
        let span = corr.timespan_ms;
        let group = self.groups.entry(key).or_default();
        let position = group.entries.partition_point(|e| e.time <= time);
        if group.entries.len() == group.entries.capacity() {
            // Grow by a quarter (at least one slot): most groups hold a few events, and a
            // doubling buffer would waste up to half of a group's memory.
            group.entries.reserve_exact((group.entries.len() / 4).max(1));
        }
        group.entries.insert(position, Entry { time, at, source: feed.source, slot });
        group.newest = group.newest.max(time);
        let newest = group.newest;
        // An entry exactly `timespan` before the newest is outside the window.
        let mut left = 0;
        while group.entries.front().is_some_and(|e| e.time <= newest - span) {
            group.entries.pop_front();
            left += 1;
        }
        let mut measure = measure(corr, &group.entries);
        if let (CorrelationKind::ValueCount, Measure::Count(n)) = (corr.kind, measure) {
            if n > self.max_distinct_values {
                if let Some(new) = position.checked_sub(left) {
                    measure = Measure::Count(forget_new_value(&mut group.entries, new, n));
                }
                if !group.saturated && self.warnings.len() < MAX_PENDING_WARNINGS {
                    group.saturated = true;
                    let key: Map<String, Value> =
                        corr.group_by.iter().map(|k| k.name.clone()).zip(feed.group.iter().cloned()).collect();
                    self.warnings.push(format!(
                        "correlation '{}' ({}): group {} reached the distinct-value limit of {} values \
                         (--max-distinct-values): new values are not counted while it is full, so its count \
                         is at least {}",
                        corr.info.id,
                        corr.info.title,
                        Value::Object(key),
                        self.max_distinct_values,
                        self.max_distinct_values
                    ));
                }
            }
        }
        let number = match measure {
            Measure::Count(n) => n as f64,
            Measure::Value(v) => v,
        };
        if group.entries.is_empty() || !corr.condition.iter().all(|(op, v)| op.holds(number, *v)) {
            return None;
        }
        let refs: Vec<Ref> = group.entries.iter().flat_map(|e| e.evidence().iter().copied()).collect();
        let window_start_ms = group.entries.front().map_or(time, |e| e.time);
        // Fired: the group starts afresh (and gives its memory back), so it alerts once per window.
        group.entries = VecDeque::new();
        group.saturated = false;
        let alert = CorrelationAlert {
            correlation: feed.correlation,
            group: corr.group_by.iter().map(|k| k.name.clone()).zip(feed.group).collect(),
            measure,
            window_start_ms,
            window_end_ms: newest,
            events: refs.iter().take(MAX_EVIDENCE).map(|r| self.external(*r)).collect(),
            events_total: refs.len(),
        };
        Some((alert, refs.into_boxed_slice()))
    }

    /// Drops groups whose window has closed.
    fn expire(&mut self, now: i64) {
        let correlations = &self.readers.correlations;
        self.groups.retain(|(c, _), g| g.newest > now - correlations[*c as usize].timespan_ms && !g.entries.is_empty());
    }

    /// Makes room: the tenth of the groups that were updated longest ago go.
    fn evict(&mut self) {
        let mut by_age: Vec<(i64, (u32, Box<str>))> = self.groups.iter().map(|(k, g)| (g.newest, k.clone())).collect();
        by_age.sort_by_key(|(t, _)| *t);
        let n = (self.groups.len() / 10).max(1);
        for (_, k) in by_age.into_iter().take(n) {
            self.groups.remove(&k);
            self.evicted += 1;
        }
    }
}

/// The correlation state carried from one run to the next (`sigil hunt --state FILE`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedState {
    format: u32,
    /// The input names the entries refer to by index.
    files: Vec<String>,
    /// Groups by correlation id (ids, not positions, so a recompiled pack still matches).
    groups: Vec<(String, String, Group)>,
    evicted: u64,
}

const STATE_FORMAT: u32 = 2;

impl Correlator {
    /// The open windows, to carry over to a later run.
    pub fn save(&self) -> SavedState {
        let mut groups: Vec<(String, String, Group)> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.entries.is_empty())
            .map(|((c, key), g)| (self.readers.correlations[*c as usize].info.id.clone(), key.to_string(), g.clone()))
            .collect();
        groups.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let files = self.files.iter().map(|f| f.to_string()).collect();
        SavedState { format: STATE_FORMAT, files, groups, evicted: self.evicted }
    }

    /// Restores saved windows; groups of correlations this plan does not have are dropped and
    /// counted. A state of another format is refused.
    pub fn restore(&mut self, state: SavedState) -> Result<usize, String> {
        if state.format != STATE_FORMAT {
            return Err(format!(
                "the correlation state has format {}, this Sigil reads format {STATE_FORMAT}: start without it",
                state.format
            ));
        }
        let remap: Vec<Ref> = state
            .files
            .iter()
            .map(|f| self.intern(&EventRef { file: std::sync::Arc::from(f.as_str()), line: 0 }))
            .collect();
        let fix = |r: Ref| Ref { file: remap.get(r.file as usize).map_or(0, |m| m.file), line: r.line };
        let index: HashMap<&str, u32> =
            self.readers.correlations.iter().enumerate().map(|(i, c)| (c.info.id.as_str(), i as u32)).collect();
        let mut dropped = 0;
        let mut restored = Vec::new();
        for (id, key, mut group) in state.groups {
            for e in group.entries.iter_mut() {
                e.at = fix(e.at);
                if let Slot::Chain(refs) = &mut e.slot {
                    refs.iter_mut().for_each(|r| *r = fix(*r));
                }
            }
            match index.get(id.as_str()) {
                Some(&c) => restored.push(((c, key.into_boxed_str()), group)),
                None => dropped += 1,
            }
        }
        self.groups.extend(restored);
        self.evicted += state.evicted;
        Ok(dropped)
    }
}

/// The entry at `new` carries a value one past the distinct-value limit (`distinct` values with
/// it): it stays as an event (evidence, timing) but its value is dropped, unless the value is
/// already held by another entry. Returns the distinct count without it.
fn forget_new_value(entries: &mut VecDeque<Entry>, new: usize, distinct: usize) -> usize {
    let Some(Slot::Text(text)) = entries.get(new).map(|e| &e.slot) else { return distinct };
    let held_elsewhere =
        entries.iter().enumerate().any(|(i, e)| i != new && matches!(&e.slot, Slot::Text(t) if t == text));
    if held_elsewhere {
        return distinct;
    }
    entries[new].slot = Slot::None;
    distinct - 1
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn measure(corr: &Correlation, entries: &VecDeque<Entry>) -> Measure {
    let values = || {
        entries.iter().filter_map(|e| match e.slot {
            Slot::Num(v) => Some(v),
            _ => None,
        })
    };
    match corr.kind {
        CorrelationKind::EventCount => Measure::Count(entries.len()),
        CorrelationKind::ValueCount => {
            let distinct: std::collections::HashSet<&str> = entries
                .iter()
                .filter_map(|e| match &e.slot {
                    Slot::Text(t) => Some(&**t),
                    _ => None,
                })
                .collect();
            Measure::Count(distinct.len())
        }
        CorrelationKind::Temporal => {
            let distinct: std::collections::HashSet<u32> = entries.iter().map(|e| e.source).collect();
            Measure::Count(distinct.len())
        }
        CorrelationKind::TemporalOrdered => {
            // How many of the rules fired in their order (a subsequence, in event time).
            let mut next = 0u32;
            for e in entries {
                if e.source == next {
                    next += 1;
                }
            }
            Measure::Count(next as usize)
        }
        CorrelationKind::ValueSum => Measure::Value(values().sum()),
        CorrelationKind::ValueAvg => {
            let (sum, n) = values().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            Measure::Value(if n == 0 { 0.0 } else { sum / n as f64 })
        }
        CorrelationKind::ValuePercentile(p) => {
            let mut v: Vec<f64> = values().collect();
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                return Measure::Value(0.0);
            }
            // Linear interpolation between closest ranks.
            let rank = (f64::from(p) / 100.0) * (v.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            Measure::Value(v[lo] + (v[hi] - v[lo]) * (rank - lo as f64))
        }
    }
}

/// Which correlations read which detection rules and which other correlations: what a worker
/// thread needs to extract feeds from events while the [`Correlator`] runs elsewhere, in input
/// order (the correlator holds the same tables for chains).
#[derive(Debug, Clone)]
pub struct Readers {
    correlations: Vec<Correlation>,
    /// For each detection rule: the (correlation, source position) pairs that read it.
    of_rule: Vec<Vec<(u32, u32)>>,
    /// For each correlation: the same, for chains.
    of_correlation: Vec<Vec<(u32, u32)>>,
}

impl Readers {
    pub fn new(plan: &Plan) -> Readers {
        let mut of_rule = vec![Vec::new(); plan.rules.len()];
        let mut of_correlation = vec![Vec::new(); plan.correlations.len()];
        for (c, corr) in plan.correlations.iter().enumerate() {
            for (s, source) in corr.sources.iter().enumerate() {
                match source {
                    CorrelationSource::Rule(r) => of_rule[*r as usize].push((c as u32, s as u32)),
                    CorrelationSource::Correlation(k) => of_correlation[*k as usize].push((c as u32, s as u32)),
                }
            }
        }
        Readers { correlations: plan.correlations.clone(), of_rule, of_correlation }
    }

    /// Whether any correlation reads `rule`.
    pub fn reads(&self, rule: usize) -> bool {
        !self.of_rule[rule].is_empty()
    }

    /// What the correlations reading `rule` need from an event on which it fired.
    pub fn feeds_for_rule(&self, rule: usize, event: &Json<'_>, out: &mut Vec<Feed>) {
        let field = |name: &str| event::lookup(event, name).first().map_or(Value::Null, Json::to_value);
        for &(c, s) in &self.of_rule[rule] {
            let corr = &self.correlations[c as usize];
            let group = corr.group_by.iter().map(|k| field(&k.fields[s as usize])).collect();
            let values = corr.value_fields.iter().map(|f| field(f)).collect();
            out.push(Feed { correlation: c, source: s, group, values });
        }
    }
}
