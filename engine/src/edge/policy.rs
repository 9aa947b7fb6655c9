//! The edge policy as data: ordered entries, each selecting events (by logsource, or by the
//! rules that matched them) and naming one action; a default action for the rest.
//!
//! A policy is plain serde data, the "compiled form" that goes to a Wasm guest as JSON: the
//! YAML file is read by `sigil_compiler::edge_policy`, which fills in the positions used here
//! in messages. [`Policy::resolve`] checks a policy against a loaded plan (rule references, the
//! refusal to sample authentication logs) and gives what [`super::Edge`] runs. This module
//! never looks at events.

use crate::plan::{LogSource, Plan};
use crate::route::Source;
use serde::{Deserialize, Serialize};

/// A position in the policy file, for messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// An edge policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Where it came from (the file as given), for messages.
    pub origin: String,
    /// Tried in order: the first entry that selects an event decides what happens to it.
    pub entries: Vec<Entry>,
    /// What happens to an event no entry selects: keep, drop or tag.
    pub default: Action,
    /// The field `tag` adds, holding the titles of the rules that matched.
    pub tag_field: String,
    /// Watch the rule pack's `silence:` rules (off by default).
    pub silence: bool,
    /// The field holding the event time (default: the fields `sigil hunt` tries).
    pub timestamp_field: Option<String>,
    /// At most this many open aggregation groups (and watched silence sources).
    pub max_groups: usize,
}

/// The field `tag` adds unless the policy names another.
pub const DEFAULT_TAG_FIELD: &str = "sigil.rules";
/// Open aggregation groups kept at most unless the policy says otherwise.
pub const DEFAULT_MAX_GROUPS: usize = 100_000;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            origin: String::new(),
            entries: Vec::new(),
            default: Action::Keep,
            tag_field: DEFAULT_TAG_FIELD.to_string(),
            silence: false,
            timestamp_field: None,
            max_groups: DEFAULT_MAX_GROUPS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// How summaries and messages name the entry (`entry N` when the file gives no name).
    pub name: String,
    pub pos: Pos,
    pub select: Selector,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Selector {
    /// Events whose source has every field set here (see [`super::select`]).
    LogSource(LogSource),
    /// Events that matched one of these rules (by id, name or title).
    Rules(Vec<String>),
    /// Events that matched any rule.
    AnyRule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Forwarded as they are.
    Keep,
    Drop,
    /// Forwarded with the titles of the rules that matched them added (possibly none).
    Tag,
    Sample(Sample),
    Aggregate(Aggregate),
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::Tag => "tag",
            Action::Sample(_) => "sample",
            Action::Aggregate(_) => "aggregate",
        }
    }
}

/// Deterministic sampling: an event is kept when the hash of its key falls under the rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The share of keys kept, in (0, 1].
    pub rate: f64,
    /// The fields whose values make the key.
    pub key: Vec<String>,
    /// The XXH64 seed (0 unless the policy says otherwise).
    pub seed: u64,
    /// Sample even a selection that holds authentication logs.
    pub force: bool,
}

/// Summaries per group and per event-time window, instead of the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Tumbling windows of this length, aligned on the Unix epoch.
    pub window_ms: i64,
    /// How long after its end (in event time) a window stays open for late events.
    pub lateness_ms: i64,
    /// The fields whose values make a group.
    pub by: Vec<String>,
    pub measure: Measure,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Measure {
    Count,
    /// The sum of a field's numeric values (numbers, or strings holding one).
    Sum(String),
    /// How many distinct values a field takes.
    Distinct(String),
}

/// A policy that does not fit the loaded rules, or asks for what is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub origin: String,
    pub pos: Pos,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.origin, self.pos.line, self.pos.col, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The logsources that hold authentication events, which a policy may not sample without
/// `force: true` (sampling would hide sign-ins and failures an investigation needs):
/// `docs/edge-policy.md` lists them with the reasons.
pub const AUTHENTICATION_LOGSOURCES: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
    // (product, category, service)
    (None, Some("authentication"), None),
    (Some("windows"), None, Some("security")),
    (Some("aws"), None, Some("cloudtrail")),
    (Some("azure"), None, Some("signinlogs")),
    (Some("okta"), None, Some("okta")),
    (Some("gcp"), None, Some("google_workspace.login")),
    (Some("m365"), None, Some("audit")),
    (Some("linux"), None, Some("auth")),
    (Some("linux"), None, Some("sshd")),
    (Some("onelogin"), None, Some("onelogin.events")),
];

/// The authentication logsource a selection of `logsource` includes, if any: one that sets
/// every field the selection sets, to the same value (so `product: windows` includes the
/// Security log and `category: network_connection` does not), or, for a category of any
/// product, a selection of that category.
pub fn authentication_in(logsource: &LogSource) -> Option<LogSource> {
    authentication_logsources().find(|auth| {
        auth.admits(logsource)
            || (auth.product.is_none() && auth.category.is_some() && auth.category == logsource.category)
    })
}

fn authentication_logsources() -> impl Iterator<Item = LogSource> {
    AUTHENTICATION_LOGSOURCES.iter().map(|(p, c, s)| LogSource::new(*p, *c, *s))
}

/// An entry checked against the plan: rule references resolved to rule indices.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub entry: Entry,
    /// For [`Selector::Rules`]: per rule of the plan, whether the entry selects it.
    pub rules: Vec<bool>,
}

impl Policy {
    /// Checks the policy against the plan: every rule it names exists, and no sampling entry
    /// selects authentication logs unless it says `force: true`.
    pub(crate) fn resolve(&self, plan: &Plan) -> Result<Vec<Resolved>, PolicyError> {
        let error = |pos: Pos, message: String| PolicyError { origin: self.origin.clone(), pos, message };
        if matches!(self.default, Action::Sample(_) | Action::Aggregate(_)) {
            return Err(error(Pos::default(), "the default action is keep, drop or tag".into()));
        }
        let mut resolved = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let mut rules = Vec::new();
            if let Selector::Rules(names) = &entry.select {
                rules = vec![false; plan.rules.len()];
                for name in names {
                    let found = plan.rules.iter().enumerate().filter(|(_, r)| {
                        r.info.id == *name || r.info.title == *name || r.info.name.as_deref() == Some(name)
                    });
                    let mut any = false;
                    for (i, _) in found {
                        rules[i] = true;
                        any = true;
                    }
                    if any {
                        continue;
                    }
                    let correlation = plan.correlations.iter().any(|c| c.info.id == *name || c.info.title == *name);
                    let message = if correlation {
                        format!("'{name}' is a correlation rule: select the detection rules it reads instead")
                    } else {
                        format!("no loaded rule has the id, name or title '{name}': check the rules given with --rules or --pack")
                    };
                    return Err(error(entry.pos, message));
                }
            }
            if let Some(message) = out_of_range(&entry.action) {
                return Err(error(entry.pos, format!("entry '{}': {message}", entry.name)));
            }
            if let Action::Sample(sample) = &entry.action {
                if !sample.force {
                    if let Some(reason) = self.authentication_reason(&entry.select, plan) {
                        return Err(error(
                            entry.pos,
                            format!(
                                "entry '{}' samples {reason}, and authentication logs are never sampled: select a narrower logsource, or add 'force: true'",
                                entry.name
                            ),
                        ));
                    }
                }
            }
            resolved.push(Resolved { entry: entry.clone(), rules });
        }
        Ok(resolved)
    }

    /// Why a selection holds authentication logs, if it does.
    fn authentication_reason(&self, select: &Selector, plan: &Plan) -> Option<String> {
        match select {
            Selector::LogSource(ls) => authentication_in(ls).map(|auth| {
                format!("{} which includes the authentication logsource {}", describe(ls), describe(&auth))
            }),
            Selector::Rules(names) => plan
                .rules
                .iter()
                .filter(|r| {
                    names.iter().any(|n| r.info.id == *n || r.info.title == *n || r.info.name.as_ref() == Some(n))
                })
                .find_map(|r| {
                    rule_reads_authentication(&r.logsource)
                        .then(|| format!("the events of the rule '{}'", r.info.title))
                }),
            Selector::AnyRule => plan
                .rules
                .iter()
                .find(|r| rule_reads_authentication(&r.logsource))
                .map(|r| format!("the events of any rule, including '{}'", r.info.title)),
        }
    }
}

/// What the YAML reader refuses, checked again for a compiled policy that came as JSON (a Wasm
/// guest's `edge-batch`): a zero window would divide by zero, a rate outside (0, 1] means nothing.
fn out_of_range(action: &Action) -> Option<&'static str> {
    match action {
        Action::Sample(s) if !(s.rate > 0.0 && s.rate <= 1.0) => Some("'rate' is above 0 and at most 1"),
        Action::Sample(s) if s.key.is_empty() => Some("'key' names at least one field"),
        Action::Aggregate(a) if a.window_ms <= 0 => Some("'window' is a positive timespan"),
        Action::Aggregate(a) if a.lateness_ms < 0 => Some("'lateness' is not negative"),
        _ => None,
    }
}

/// Whether an event of `source` is of an authentication logsource (an event of unknown source
/// is not known to be): what `sample` never drops without `force`, whichever selector took it.
pub fn is_authentication(source: &Source) -> bool {
    !matches!(source, Source::Unknown) && authentication_logsources().any(|auth| source.admits(&auth))
}

/// A rule reads authentication logs when its logsource and an authentication logsource can
/// name the same events: one contains the other.
fn rule_reads_authentication(rule: &LogSource) -> bool {
    authentication_in(rule).is_some() || authentication_logsources().any(|auth| rule.admits(&auth))
}

/// `product=windows service=security`, or `every event` for an empty logsource.
pub fn describe(ls: &LogSource) -> String {
    let parts: Vec<String> = [("product", &ls.product), ("category", &ls.category), ("service", &ls.service)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        "every event".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: Option<&str>, c: Option<&str>, s: Option<&str>) -> LogSource {
        LogSource::new(p, c, s)
    }

    #[test]
    fn selections_that_include_an_authentication_log_are_found() {
        for included in [
            ls(None, None, None),
            ls(Some("windows"), None, None),
            ls(Some("windows"), None, Some("security")),
            ls(None, Some("authentication"), None),
            ls(Some("linux"), Some("authentication"), None),
            ls(Some("aws"), None, None),
            ls(None, None, Some("cloudtrail")),
            ls(Some("okta"), None, None),
            ls(Some("azure"), None, Some("signinlogs")),
        ] {
            assert!(authentication_in(&included).is_some(), "{included:?}");
        }
        for apart in [
            ls(None, Some("network_connection"), None),
            ls(Some("windows"), Some("process_access"), None),
            ls(Some("windows"), None, Some("sysmon")),
            ls(Some("azure"), None, Some("activitylogs")),
            ls(Some("windows"), Some("registry_event"), None),
        ] {
            assert_eq!(authentication_in(&apart), None, "{apart:?}");
        }
    }

    #[test]
    fn rules_reading_sign_ins_count_as_authentication() {
        assert!(rule_reads_authentication(&ls(Some("windows"), None, Some("security"))));
        assert!(rule_reads_authentication(&ls(Some("aws"), None, Some("cloudtrail"))));
        assert!(rule_reads_authentication(&ls(Some("linux"), Some("authentication"), None)));
        assert!(!rule_reads_authentication(&ls(Some("windows"), Some("process_creation"), None)));
    }
}
