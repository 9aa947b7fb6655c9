//! Silence detection (Sigil's `silence:` rules; off unless the caller enables it): a watched
//! source that sends no event for a rule's timespan raises one alert, the signature of logging
//! switched off (ATT&CK T1562.008).
//!
//! Time is event time across the whole stream: the stream's clock is the newest event time
//! seen from any source, so a source is silent when the other sources' events have moved the
//! clock `timespan` past its last event. A source (one value of the rule's `group-by` fields:
//! a host, an account) is watched from its first event; it alerts once per silence episode and
//! is re-armed when it speaks again. This module keeps that state and builds the alerts; it
//! never reads a clock or does I/O, and never evaluates rules.
//!
//! An event is taken in two steps, so that a threaded caller can do the first on any thread:
//! [`sightings`] reads the event (which rules see it, for which group; no state), then
//! [`SilenceWatch::advance`] moves the clock, raises alerts and hears the sources, in input order.

use crate::alert::{AlertRule, Window};
use crate::correlate::EventRef;
use crate::edge::select;
use crate::event;
use crate::json::Json;
use crate::plan::Silence;
use crate::route::Source;
use crate::time;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// A silence alert: shaped like a correlation alert (rule, timestamp, group, window, events),
/// with `kind: "silence"`, a count of 0 and the last event the source sent.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceAlertJson<'a> {
    pub kind: &'static str,
    pub rule: AlertRule<'a>,
    /// When the silence reached the rule's timespan: the last event's time plus the timespan.
    pub timestamp: String,
    pub group: Map<String, Value>,
    /// Events from the source inside the window: none, by definition.
    pub count: usize,
    /// From the source's last event to the moment its silence reached the timespan.
    pub window: Window,
    pub events: &'a [EventRef],
    pub events_total: usize,
    /// The last event the source sent before it went quiet.
    pub last_event: &'a EventRef,
}

/// What is known of one watched source.
#[derive(Debug, Clone)]
struct Heard {
    last_seen: i64,
    last_event: EventRef,
    group: Vec<Value>,
    /// Alerted for the current episode; cleared when the source speaks again.
    silent: bool,
}

/// One silence rule that sees an event, and the source (group) the event speaks for. Worked out
/// by [`sightings`] from the event alone, so on any thread; [`SilenceWatch::advance`] takes
/// them in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The rule's position in the silence rules the watch was made with.
    rule: u32,
    /// The group's values as JSON text: the source's identity.
    key: Box<str>,
    group: Vec<Value>,
}

/// The silence rules among `silences` whose logsource selects an event of `source`, each with
/// the values of its `group-by` fields in `event`. Pure: no state is read or changed, so
/// callers may compute it away from the watch (`sigil hunt` does on its worker threads), as
/// long as `silences` is the list the watch was made with (a plan's `silences`).
pub fn sightings(silences: &[Silence], event: &Json<'_>, source: &Source) -> Vec<Sighting> {
    let mut out = Vec::new();
    for (rule, silence) in silences.iter().enumerate() {
        if !select::selects(source, &silence.logsource) {
            continue;
        }
        let group: Vec<Value> = silence
            .group_by
            .iter()
            .map(|f| event::lookup(event, f).first().map_or(Value::Null, Json::to_value))
            .collect();
        let key: Box<str> = serde_json::to_string(&group).unwrap_or_default().into();
        out.push(Sighting { rule: rule as u32, key, group });
    }
    out
}

/// The state of every silence rule of a plan over one stream.
#[derive(Debug)]
pub struct SilenceWatch {
    silences: Vec<Silence>,
    heard: HashMap<(u32, Box<str>), Heard>,
    /// `(deadline, rule, group key)` of every source not alerted yet, soonest first.
    deadlines: BTreeSet<(i64, u32, Box<str>)>,
    clock: Option<i64>,
    /// The time of the last event that had one: events without a readable time take it.
    last_time: Option<i64>,
    max_groups: usize,
    untracked: u64,
}

impl SilenceWatch {
    /// Watches `silences`, keeping at most `max_groups` sources (the others are counted).
    pub fn new(silences: Vec<Silence>, max_groups: usize) -> SilenceWatch {
        SilenceWatch {
            silences,
            heard: HashMap::new(),
            deadlines: BTreeSet::new(),
            clock: None,
            last_time: None,
            max_groups: max_groups.max(1),
            untracked: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.silences.is_empty()
    }

    /// Sources first heard once `max_groups` were watched, and so never watched.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Takes one event, of `source`, at `time` (milliseconds of event time, `None` when it has
    /// no readable time): [`sightings`] then [`SilenceWatch::advance`], for a caller that does
    /// both in input order. Returns how many alerts were written.
    pub fn observe(
        &mut self,
        event: &Json<'_>,
        source: &Source,
        time: Option<i64>,
        evidence: &EventRef,
        write: &mut dyn FnMut(&SilenceAlertJson<'_>),
    ) -> u64 {
        let seen = sightings(&self.silences, event, source);
        self.advance(time, evidence, seen, write)
    }

    /// The in-order step of one event, at `time` (`None`: the time of the event before it; an
    /// event before any time is ignored), found at `evidence`, with its `sightings`. First the
    /// alerts of the sources whose silence the stream's clock now reaches go to `write` (an
    /// event that ends a long gap of its own source reports that gap); then the event's
    /// sources are heard. Returns how many alerts were written.
    pub fn advance(
        &mut self,
        time: Option<i64>,
        evidence: &EventRef,
        sightings: Vec<Sighting>,
        write: &mut dyn FnMut(&SilenceAlertJson<'_>),
    ) -> u64 {
        let Some(time) = time.or(self.last_time) else { return 0 };
        self.last_time = Some(time);
        let clock = self.clock.map_or(time, |c| c.max(time));
        self.clock = Some(clock);
        let mut alerts = 0;
        while let Some(first) = self.deadlines.first().filter(|(deadline, _, _)| *deadline <= clock) {
            let (deadline, rule, key) = first.clone();
            self.deadlines.pop_first();
            let Some(heard) = self.heard.get_mut(&(rule, key)) else { continue };
            heard.silent = true;
            let Some(silence) = self.silences.get(rule as usize) else { continue };
            let group = silence.group_by.iter().cloned().zip(heard.group.iter().cloned()).collect();
            alerts += 1;
            write(&SilenceAlertJson {
                kind: "silence",
                rule: AlertRule::new(&silence.info),
                timestamp: time::ms_to_rfc3339_utc(deadline),
                group,
                count: 0,
                window: Window {
                    start: time::ms_to_rfc3339_utc(heard.last_seen),
                    end: time::ms_to_rfc3339_utc(deadline),
                },
                events: &[],
                events_total: 0,
                last_event: &heard.last_event,
            });
        }
        for Sighting { rule, key, group } in sightings {
            let Some(silence) = self.silences.get(rule as usize) else { continue };
            let span = silence.timespan_ms;
            let full = self.heard.len() >= self.max_groups;
            match self.heard.get_mut(&(rule, key.clone())) {
                // A late event from before an episode does not end it.
                Some(heard) if heard.silent && time <= heard.last_seen => {}
                Some(heard) => {
                    if !heard.silent {
                        self.deadlines.remove(&(heard.last_seen.saturating_add(span), rule, key.clone()));
                    }
                    if time >= heard.last_seen {
                        heard.last_seen = time;
                        heard.last_event = evidence.clone();
                    }
                    heard.silent = false;
                    self.deadlines.insert((heard.last_seen.saturating_add(span), rule, key));
                }
                None if full => self.untracked += 1,
                None => {
                    self.deadlines.insert((time.saturating_add(span), rule, key.clone()));
                    let heard = Heard { last_seen: time, last_event: evidence.clone(), group, silent: false };
                    self.heard.insert((rule, key), heard);
                }
            }
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LogSource, RuleInfo};
    use serde_json::json;
    use std::sync::Arc;

    const MINUTE: i64 = 60_000;

    fn watch(group_by: &[&str]) -> SilenceWatch {
        let rule = Silence {
            info: RuleInfo { id: "s1".into(), title: "Sysmon went quiet".into(), ..RuleInfo::default() },
            logsource: LogSource::new(Some("windows"), None, Some("sysmon")),
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            timespan_ms: 10 * MINUTE,
        };
        SilenceWatch::new(vec![rule], 100)
    }

    /// Feeds `(minute, host, channel)` events; returns the alerts as JSON.
    fn feed(watch: &mut SilenceWatch, events: &[(i64, &str, &str)]) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (line, (minute, host, channel)) in events.iter().enumerate() {
            let event = json!({"Channel": channel, "EventID": 1, "Computer": host});
            let doc = Json::from_value(&event);
            let source = crate::route::recognize(&doc);
            let evidence = EventRef { file: Arc::from("in"), line: line as u64 + 1 };
            watch.observe(&doc, &source, Some(minute * MINUTE), &evidence, &mut |a| {
                out.push(serde_json::to_value(a).unwrap())
            });
        }
        out
    }

    const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

    #[test]
    fn a_host_that_goes_quiet_alerts_once_at_its_last_event_plus_the_timespan() {
        let mut w = watch(&["Computer"]);
        let mut events = vec![(0, "a", SYSMON), (0, "b", SYSMON), (3, "a", SYSMON)];
        // b keeps speaking; a never does again.
        events.extend((1..40).map(|m| (m, "b", SYSMON)));
        let alerts = feed(&mut w, &events);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["group"], json!({"Computer": "a"}));
        assert_eq!(alerts[0]["timestamp"], "1970-01-01T00:13:00.000Z");
        assert_eq!(alerts[0]["window"]["start"], "1970-01-01T00:03:00.000Z");
        assert_eq!(alerts[0]["last_event"]["line"], 3);
        assert_eq!(alerts[0]["kind"], "silence");
    }

    #[test]
    fn speaking_again_re_arms_and_other_sources_never_alert() {
        let mut w = watch(&[]);
        let events = [
            (0, "a", SYSMON),
            (5, "x", "Security"),
            (20, "x", "Security"), // clock at 20: sysmon silent since 0 → one alert
            (25, "x", "Security"),
            (26, "a", SYSMON), // speaks again: re-armed
            (30, "x", "Security"),
            (37, "x", "Security"), // 11 minutes after 26 → a second episode
        ];
        let alerts = feed(&mut w, &events);
        let times: Vec<&str> = alerts.iter().map(|a| a["timestamp"].as_str().unwrap()).collect();
        assert_eq!(times, ["1970-01-01T00:10:00.000Z", "1970-01-01T00:36:00.000Z"]);
    }

    #[test]
    fn sightings_taken_apart_then_advanced_in_order_give_the_alerts_of_observe() {
        let events: Vec<(Option<i64>, &str, &str)> = vec![
            (Some(0), "a", SYSMON),
            (Some(0), "b", SYSMON),
            (None, "a", SYSMON), // takes minute 0
            (Some(4), "x", "Security"),
            (Some(15), "b", SYSMON), // a and b silent since 0: both alert at 10, b re-armed
            (None, "x", "Security"),
            (Some(30), "x", "Security"), // b silent since 15: alert at 25
        ];
        let docs: Vec<serde_json::Value> = events
            .iter()
            .map(|(_, host, channel)| json!({"Channel": channel, "EventID": 1, "Computer": host}))
            .collect();
        let evidence = |line: usize| EventRef { file: Arc::from("in"), line: line as u64 + 1 };
        let (mut whole, mut split) = (watch(&["Computer"]), watch(&["Computer"]));
        let (mut by_observe, mut by_advance) = (Vec::new(), Vec::new());
        let mut seen = Vec::new();
        for (line, doc) in docs.iter().enumerate() {
            let doc = Json::from_value(doc);
            let source = crate::route::recognize(&doc);
            whole.observe(&doc, &source, events[line].0.map(|m| m * MINUTE), &evidence(line), &mut |a| {
                by_observe.push(serde_json::to_value(a).unwrap())
            });
            seen.push(sightings(&split.silences, &doc, &source));
        }
        for (line, seen) in seen.into_iter().enumerate() {
            split.advance(events[line].0.map(|m| m * MINUTE), &evidence(line), seen, &mut |a| {
                by_advance.push(serde_json::to_value(a).unwrap())
            });
        }
        let got: Vec<(&str, &str)> = by_observe
            .iter()
            .map(|a| (a["group"]["Computer"].as_str().unwrap(), a["timestamp"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [("a", "1970-01-01T00:10:00.000Z"), ("b", "1970-01-01T00:10:00.000Z"), ("b", "1970-01-01T00:25:00.000Z")]
        );
        // a's timeless event (line 3) took minute 0 and is the last event a sent.
        assert_eq!(by_observe[0]["last_event"]["line"], 3);
        assert_eq!(by_observe, by_advance);
    }

    #[test]
    fn a_source_that_keeps_speaking_never_alerts() {
        let mut w = watch(&["Computer"]);
        let events: Vec<(i64, &str, &str)> = (0..100).map(|m| (m * 9, "a", SYSMON)).collect();
        assert!(feed(&mut w, &events).is_empty());
    }
}
