//! The end-of-run summary: events read and with hits, alerts by level and kind, the top rules,
//! the first and last alert time, and the entities with the most alerts.
//!
//! Fed one [`AlertRecord`] at a time (`Summary::add`), in any order; read as JSON
//! (`to_json`, what `--summary FILE` writes) or as text for a terminal (`to_text`). The tables
//! are bounded: at most [`Limits::max_rules`] distinct rules and [`Limits::max_entities`]
//! distinct values per entity kind are counted; an alert of a rule first seen past the cap, or
//! an entity value first seen past it, is counted in `other_rules` or the kind's `untracked`, so
//! every alert is in the totals. This module never reads or writes a file.

use crate::alerts::{AlertRecord, LEVELS};
use crate::entities::EntityKind;
use serde_json::{json, Value};
use sigil_engine::time::ms_to_rfc3339_utc;
use std::collections::{BTreeMap, HashMap};

/// How much a summary keeps and shows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Distinct rules counted (default 10,000: every SigmaHQ rule fits).
    pub max_rules: usize,
    /// Distinct values counted per entity kind (default 100,000).
    pub max_entities: usize,
    /// Rows in each "top" list (default 10).
    pub top: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_rules: 10_000, max_entities: 100_000, top: 10 }
    }
}

#[derive(Debug, Clone)]
struct RuleCount {
    title: String,
    level: Option<String>,
    kind: String,
    count: u64,
    /// The order the rule was first seen in: ties in the top list keep it.
    first_seen: usize,
}

#[derive(Debug, Clone, Default)]
struct EntityTable {
    counts: HashMap<String, (u64, usize)>,
    untracked: u64,
}

/// What a run found, counted.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    limits: Limits,
    events_read: u64,
    events_with_hits: u64,
    /// Events outside `--from`/`--to`, and events without a time, as the caller counted them.
    extra_counts: BTreeMap<String, u64>,
    alerts: u64,
    by_level: BTreeMap<String, u64>,
    by_kind: BTreeMap<String, u64>,
    rules: HashMap<String, RuleCount>,
    other_rules: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    without_time: u64,
    entities: BTreeMap<EntityKind, EntityTable>,
}

impl Summary {
    pub fn new(limits: Limits) -> Summary {
        Summary { limits, ..Summary::default() }
    }

    /// The events the run read, and how many of them raised at least one detection alert.
    pub fn set_events(&mut self, read: u64, with_hits: u64) {
        self.events_read = read;
        self.events_with_hits = with_hits;
    }

    /// Another count of events to show under `events` (such as `outside_window`).
    pub fn set_event_count(&mut self, name: &str, count: u64) {
        self.extra_counts.insert(name.to_string(), count);
    }

    /// Counts one alert.
    pub fn add(&mut self, record: &AlertRecord) {
        self.alerts += 1;
        let level = record.level.clone().unwrap_or_else(|| "none".to_string());
        *self.by_level.entry(level).or_default() += 1;
        *self.by_kind.entry(record.kind.clone()).or_default() += 1;
        let seen = self.rules.len();
        match self.rules.get_mut(&record.rule_id) {
            Some(rule) => rule.count += 1,
            None if seen < self.limits.max_rules => {
                let rule = RuleCount {
                    title: record.rule_title.clone(),
                    level: record.level.clone(),
                    kind: record.kind.clone(),
                    count: 1,
                    first_seen: seen,
                };
                self.rules.insert(record.rule_id.clone(), rule);
            }
            None => self.other_rules += 1,
        }
        match record.time_ms {
            Some(t) => {
                self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
                self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
            }
            None => self.without_time += 1,
        }
        for entity in &record.entities {
            let table = self.entities.entry(entity.kind).or_default();
            let seen = table.counts.len();
            match table.counts.get_mut(&entity.value) {
                Some((count, _)) => *count += 1,
                None if seen < self.limits.max_entities => {
                    table.counts.insert(entity.value.clone(), (1, seen));
                }
                None => table.untracked += 1,
            }
        }
    }

    /// The number of alerts counted.
    pub fn alerts(&self) -> u64 {
        self.alerts
    }

    /// The summary as `--summary FILE` writes it (`docs` in the README: "Run summary").
    pub fn to_json(&self) -> Value {
        let mut events = serde_json::Map::new();
        events.insert("read".into(), json!(self.events_read));
        events.insert("with_hits".into(), json!(self.events_with_hits));
        for (name, count) in &self.extra_counts {
            events.insert(name.clone(), json!(count));
        }
        let mut by_level = serde_json::Map::new();
        // Every level, most severe first, so a reader need not know which are absent.
        for level in LEVELS.iter().rev() {
            by_level.insert(level.to_string(), json!(self.by_level.get(*level).copied().unwrap_or(0)));
        }
        for (level, count) in self.by_level.iter().filter(|(l, _)| !LEVELS.contains(&l.as_str())) {
            by_level.insert(level.clone(), json!(count));
        }
        let top_rules: Vec<Value> = self
            .top_rules()
            .into_iter()
            .map(|(id, r)| json!({"id": id, "title": r.title, "level": r.level, "kind": r.kind, "count": r.count}))
            .collect();
        let mut entities = serde_json::Map::new();
        for kind in EntityKind::ALL {
            let table = self.entities.get(&kind);
            let top: Vec<Value> = table
                .map(|t| self.top_entities(t))
                .unwrap_or_default()
                .into_iter()
                .map(|(value, count)| json!({"value": value, "count": count}))
                .collect();
            entities.insert(
                kind.as_str().into(),
                json!({
                    "top": top,
                    "distinct": table.map_or(0, |t| t.counts.len()),
                    "untracked": table.map_or(0, |t| t.untracked),
                }),
            );
        }
        json!({
            "events": events,
            "alerts": {
                "total": self.alerts,
                "by_level": by_level,
                "by_kind": self.by_kind,
                "without_time": self.without_time,
            },
            "rules": {
                "distinct": self.rules.len(),
                "other_rules": self.other_rules,
                "top": top_rules,
            },
            "first_alert_time": self.first_ms.map(ms_to_rfc3339_utc),
            "last_alert_time": self.last_ms.map(ms_to_rfc3339_utc),
            "entities": entities,
        })
    }

    /// A few lines for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let levels: Vec<String> = LEVELS
            .iter()
            .rev()
            .filter_map(|l| self.by_level.get(*l).map(|n| format!("{l} {n}")))
            .chain(self.by_level.get("none").map(|n| format!("no level {n}")))
            .collect();
        out.push_str(&format!(
            "summary: {} alerts ({}) from {} of {} events\n",
            self.alerts,
            if levels.is_empty() { "none".to_string() } else { levels.join(", ") },
            self.events_with_hits,
            self.events_read
        ));
        if let (Some(first), Some(last)) = (self.first_ms, self.last_ms) {
            out.push_str(&format!("  alert times: {} .. {}\n", ms_to_rfc3339_utc(first), ms_to_rfc3339_utc(last)));
        }
        let top_rules = self.top_rules();
        if !top_rules.is_empty() {
            out.push_str("  top rules:\n");
            for (_, rule) in top_rules {
                let level = rule.level.as_deref().unwrap_or("-");
                out.push_str(&format!("    {:>7}  {:<13} {}\n", rule.count, level, rule.title));
            }
        }
        for kind in EntityKind::ALL {
            let Some(table) = self.entities.get(&kind) else { continue };
            let top: Vec<String> =
                self.top_entities(table).into_iter().map(|(value, count)| format!("{value} ({count})")).collect();
            if !top.is_empty() {
                out.push_str(&format!("  top {}s: {}\n", kind.as_str(), top.join(", ")));
            }
        }
        out
    }

    /// The most frequent rules, ties in the order first seen.
    fn top_rules(&self) -> Vec<(&str, &RuleCount)> {
        let mut rules: Vec<(&str, &RuleCount)> = self.rules.iter().map(|(id, r)| (id.as_str(), r)).collect();
        rules.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.1.first_seen.cmp(&b.1.first_seen)));
        rules.truncate(self.limits.top);
        rules
    }

    fn top_entities<'a>(&self, table: &'a EntityTable) -> Vec<(&'a str, u64)> {
        let mut values: Vec<(&str, &(u64, usize))> = table.counts.iter().map(|(v, c)| (v.as_str(), c)).collect();
        values.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
        values.into_iter().take(self.limits.top).map(|(v, (count, _))| (v, *count)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::Entity;

    fn record(rule: &str, level: Option<&str>, time_ms: Option<i64>, account: Option<&str>) -> AlertRecord {
        AlertRecord {
            kind: "detection".into(),
            rule_id: rule.into(),
            rule_title: format!("title {rule}"),
            level: level.map(str::to_string),
            time_ms,
            entities: account.map(|a| Entity { kind: EntityKind::Account, value: a.into() }).into_iter().collect(),
        }
    }

    #[test]
    fn counts_add_up_by_level_rule_and_time() {
        let mut s = Summary::default();
        s.add(&record("a", Some("high"), Some(2_000), Some("dave")));
        s.add(&record("a", Some("high"), Some(1_000), Some("dave")));
        s.add(&record("b", Some("low"), None, Some("alice")));
        s.add(&record("c", None, Some(3_000), None));
        s.set_events(10, 3);
        let j = s.to_json();
        assert_eq!(j["alerts"]["total"], 4);
        assert_eq!(j["alerts"]["by_level"]["high"], 2);
        assert_eq!(j["alerts"]["by_level"]["none"], 1);
        assert_eq!(j["alerts"]["by_level"]["critical"], 0);
        assert_eq!(j["alerts"]["without_time"], 1);
        assert_eq!(j["rules"]["top"][0]["id"], "a");
        assert_eq!(j["rules"]["top"][0]["count"], 2);
        assert_eq!(j["first_alert_time"], "1970-01-01T00:00:01.000Z");
        assert_eq!(j["last_alert_time"], "1970-01-01T00:00:03.000Z");
        assert_eq!(j["entities"]["account"]["top"][0], json!({"value": "dave", "count": 2}));
        assert_eq!(j["events"], json!({"read": 10, "with_hits": 3}));
        assert!(s.to_text().contains("4 alerts (high 2, low 1, no level 1) from 3 of 10 events"));
    }

    #[test]
    fn tables_are_capped_and_what_falls_outside_is_counted() {
        let mut s = Summary::new(Limits { max_rules: 2, max_entities: 1, top: 10 });
        for (i, rule) in ["a", "b", "c", "c", "a"].iter().enumerate() {
            s.add(&record(rule, Some("low"), None, Some(&format!("user{i}"))));
        }
        let j = s.to_json();
        assert_eq!(j["rules"]["distinct"], 2);
        assert_eq!(j["rules"]["other_rules"], 2);
        let counted: u64 = j["rules"]["top"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum();
        assert_eq!(counted + 2, 5);
        assert_eq!(j["entities"]["account"]["distinct"], 1);
        assert_eq!(j["entities"]["account"]["untracked"], 4);
    }
}
