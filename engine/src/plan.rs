//! The compiled plan: what the rule compiler hands to the engine.
//!
//! A plan is plain data (serde), so it can be cached, shipped to a Wasm host or a browser, and
//! loaded without any YAML. It owns the *meaning* of every predicate; it never owns runtime
//! state such as compiled regexes (see [`crate::matcher`]).
//!
//! Predicates are deduplicated across rules: a rule's condition refers to them by index.

use serde::{Deserialize, Serialize};

/// Bumped whenever the serialized shape of [`Plan`] changes meaning.
pub const PLAN_FORMAT_VERSION: u32 = 5;

/// A compiled rule pack: one graph shared by every rule. Predicates are its leaves, boolean
/// nodes combine them, and each rule names the node that decides it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub format_version: u32,
    pub predicates: Vec<Predicate>,
    /// Boolean nodes in topological order: a node's children come before it.
    pub nodes: Vec<Node>,
    pub rules: Vec<CompiledRule>,
    /// Correlation rules, each after the correlations it reads (chains).
    pub correlations: Vec<Correlation>,
    /// Silence rules (Sigil's `silence:` documents): watched only when the caller enables
    /// silence detection ([`crate::session::Session::enable_silence`]).
    pub silences: Vec<Silence>,
}

/// A silence rule: a source (a logsource, and optionally each value of some fields, such as a
/// host or an account) that sends no event for `timespan_ms` of event time raises an alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Silence {
    pub info: RuleInfo,
    /// The events it watches: those whose recognised (or declared) source has every field set here.
    pub logsource: LogSource,
    /// Each combination of these fields' values is watched on its own; empty: the source as a whole.
    pub group_by: Vec<String>,
    /// How long a watched source may stay quiet, in milliseconds of event time.
    pub timespan_ms: i64,
}

/// A correlation rule: counts, distinct values, sums or sequences of detections per group
/// within a time window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Correlation {
    pub info: RuleInfo,
    pub kind: CorrelationKind,
    /// What it reads: detection rules, or earlier correlations (chains).
    pub sources: Vec<CorrelationSource>,
    /// The group key: each part's name in alerts, and the field read from each source's events
    /// (aliases let sources name the same thing differently).
    pub group_by: Vec<GroupKey>,
    /// Sliding window length in milliseconds; an event exactly this long after another is outside.
    pub timespan_ms: i64,
    /// All must hold (a range is several comparisons).
    pub condition: Vec<(Comparison, f64)>,
    /// value_count, value_sum, value_avg, value_percentile: the field(s) whose values are used.
    pub value_fields: Vec<String>,
    /// Whether this correlation's own alerts are printed (it may only feed a chain).
    pub emit: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    /// The given percentile (value_median is 50).
    ValuePercentile(u8),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum CorrelationSource {
    Rule(u32),
    Correlation(u32),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupKey {
    pub name: String,
    /// Per source, in the order of [`Correlation::sources`].
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Comparison {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Gt => left > right,
            Comparison::Gte => left >= right,
            Comparison::Lt => left < right,
            Comparison::Lte => left <= right,
            Comparison::Eq => left == right,
            Comparison::Neq => left != right,
        }
    }
}

/// A node of the plan graph; children are indices into [`Plan::nodes`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Node {
    Const(bool),
    Pred(u32),
    Not(u32),
    And(Vec<u32>),
    Or(Vec<u32>),
}

/// One detection rule, ready to evaluate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompiledRule {
    pub info: RuleInfo,
    pub logsource: LogSource,
    /// The node of [`Plan::nodes`] whose value is the rule's verdict.
    pub root: u32,
    /// Whether its matches are alerts of their own: false when a correlation uses the rule and
    /// none of the correlations using it says `generate: true`.
    pub alert: bool,
}

/// The rule's descriptive block, as it appears in alerts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RuleInfo {
    /// The rule's `id`, or its `name` when it has no id.
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub status: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    /// Where the rule came from (file path or embedded name), for diagnostics and alerts.
    pub origin: String,
    /// Sigil's `suppress:` extension: one alert per group per window, the rest counted.
    #[serde(default)]
    pub suppress: Option<Suppression>,
}

/// Alert suppression (a rule's `suppress:` block, a Sigil extension other Sigma tools ignore):
/// the first match of each group alerts; later matches within `timespan_ms` of event time after
/// it are counted, and a summary alert carries the count when the window closes
/// ([`crate::suppress`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Suppression {
    /// The fields whose values make a group (mapped by the rule's pipelines, like a correlation's
    /// `group-by`); for a correlation rule, names of its own `group-by`. Empty: one group.
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
}

/// The Sigma `logsource` fields that route events to rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

impl LogSource {
    pub fn new(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(str::to_string),
            category: category.map(str::to_string),
            service: service.map(str::to_string),
        }
    }

    /// Whether a rule written for `rule` runs on events of this declared source: every field
    /// the rule sets must be declared, with the same value. A rule field left open matches any
    /// source (a rule with only `product: aws` runs on CloudTrail); a declared field the rule
    /// leaves open does not matter. So a `category: webserver` rule never runs on events
    /// declared as `product=aws,service=cloudtrail`.
    pub fn admits(&self, rule: &LogSource) -> bool {
        fn agree(declared: &Option<String>, rule: &Option<String>) -> bool {
            match (declared, rule) {
                (Some(d), Some(r)) => d.eq_ignore_ascii_case(r),
                (None, Some(_)) => false,
                (_, None) => true,
            }
        }
        agree(&self.product, &rule.product)
            && agree(&self.category, &rule.category)
            && agree(&self.service, &rule.service)
    }
}

/// One rule's condition as a tree over predicates: what the compiler lowers a rule to before
/// the rules are merged into the plan graph.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Expr {
    Const(bool),
    Pred(u32),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A test applied to one field of an event, or to every string in it (keywords).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Predicate {
    pub target: Target,
    pub test: Test,
}

/// Joins the fields of a detection item that a pipeline mapped to several fields (`F: [a, b]`)
/// in its [`Target::Field`] name: the item holds when it holds at any of them, and, for a test
/// of absence (`null`, `|exists: false`), when the field is absent from all. Lowering splits it
/// into one predicate per field, so the engine never looks such a name up; `explain` reads it
/// the same way. U+001F cannot appear in a rule: YAML does not allow C0 control characters in a
/// document. One item instead of one alternative selection per field keeps a selection of n
/// such fields at n items, not 2^n.
pub const ANY_OF: char = '\u{1f}';

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Target {
    /// A field, by its Sigma name (dotted names reach into nested objects).
    Field(String),
    /// Field-less values: tested against every string value of the event.
    Keywords,
}

/// What a predicate checks. Every test is false on a missing field, except [`Test::Null`] and
/// [`Test::Exists`] with `false`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Test {
    /// The field is absent or JSON null.
    Null,
    /// The field is present (`true`) or absent (`false`), whatever its value.
    Exists(bool),
    /// A Sigma string: literals and wildcards.
    Str(StrPattern),
    /// Numeric comparison; numeric strings are coerced.
    Num { op: CmpOp, value: f64 },
    /// A YAML boolean: matches JSON booleans and the strings "true"/"false".
    Bool(bool),
    /// A regular expression, searched (unanchored).
    Regex(RegexSpec),
    /// The field is an IP address inside this network.
    Cidr(ipnet::IpNet),
    /// A part of the timestamp held by the field, compared with a number.
    TimePart { part: TimePart, op: CmpOp, value: i64 },
    /// Compare with another field of the same event.
    FieldRef { other: String, mode: RefMode, cased: bool },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Lt => left < right,
            CmpOp::Lte => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Gte => left >= right,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum RefMode {
    Equal,
    Contains,
    StartsWith,
    EndsWith,
}

/// A Sigma string after escapes were resolved: literal runs and wildcards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct StrPattern {
    pub tokens: Vec<Token>,
    /// `|cased` (or an encoding whose output is case-significant, such as base64).
    pub cased: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Token {
    Lit(String),
    /// `*`: any sequence, including the empty one.
    AnyString,
    /// `?`: exactly one Unicode scalar value.
    AnyChar,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct RegexSpec {
    pub pattern: String,
    pub ignore_case: bool,
    pub multi_line: bool,
    pub dot_all: bool,
}

impl Plan {
    /// Every index of the plan points at something that exists, and at something earlier where
    /// the engine relies on order (graph nodes are topological; a chained correlation comes after
    /// the correlations it reads). `sigil compile` never writes a plan that fails this; a damaged
    /// or hand-made pack could, and would otherwise index out of bounds later (a panic, and a trap
    /// in Wasm).
    pub fn check(&self) -> Result<(), String> {
        let plan = self;
        let predicates = plan.predicates.len();
        for (i, node) in plan.nodes.iter().enumerate() {
            let child = |c: &u32| (*c as usize) < i;
            let ok = match node {
                Node::Const(_) => true,
                Node::Pred(p) => (*p as usize) < predicates,
                Node::Not(c) => child(c),
                Node::And(cs) | Node::Or(cs) => cs.iter().all(child),
            };
            if !ok {
                return Err(format!("graph node {i} refers to a missing node or predicate"));
            }
        }
        for (i, rule) in plan.rules.iter().enumerate() {
            if rule.root as usize >= plan.nodes.len() {
                return Err(format!("rule {i} refers to a missing graph node"));
            }
        }
        for (c, corr) in plan.correlations.iter().enumerate() {
            let sources_ok = corr.sources.iter().all(|s| match s {
                CorrelationSource::Rule(r) => (*r as usize) < plan.rules.len(),
                CorrelationSource::Correlation(k) => (*k as usize) < c,
            });
            if !sources_ok {
                return Err(format!("correlation {c} reads a missing rule or correlation"));
            }
            if corr.group_by.iter().any(|k| k.fields.len() < corr.sources.len()) {
                return Err(format!("correlation {c} has a group-by without a field for each source"));
            }
            if matches!(corr.kind, CorrelationKind::ValuePercentile(p) if p > 100) {
                return Err(format!("correlation {c} has a percentile above 100"));
            }
            if corr.timespan_ms < 0 {
                return Err(format!("correlation {c} has a negative timespan"));
            }
        }
        if let Some(s) = plan.silences.iter().position(|s| s.timespan_ms <= 0) {
            return Err(format!("silence rule {s} has a timespan that is not positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::LogSource;

    fn ls(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource::new(product, category, service)
    }

    #[test]
    fn dangling_indices_are_refused() {
        use super::{CompiledRule, Node, Plan};
        let rule = CompiledRule { info: Default::default(), logsource: ls(None, None, None), root: 0, alert: true };
        let good = Plan { nodes: vec![Node::Const(true)], rules: vec![rule], ..Plan::default() };
        assert_eq!(good.check(), Ok(()));
        let mut bad = good.clone();
        bad.nodes.push(Node::And(vec![0, 1]));
        assert!(bad.check().unwrap_err().contains("graph node 1"));
        let mut bad = good.clone();
        bad.nodes[0] = Node::Pred(7);
        assert!(bad.check().is_err());
        let mut bad = good;
        bad.rules[0].root = 3;
        assert!(bad.check().unwrap_err().contains("rule 0"));
    }

    #[test]
    fn declared_source_admits_rules_whose_set_fields_agree() {
        let cloudtrail = ls(Some("aws"), None, Some("cloudtrail"));
        assert!(cloudtrail.admits(&ls(Some("aws"), None, Some("cloudtrail"))));
        assert!(cloudtrail.admits(&ls(Some("aws"), None, None)));
        assert!(cloudtrail.admits(&ls(None, None, None)));
        assert!(!cloudtrail.admits(&ls(Some("azure"), None, None)));
        assert!(!cloudtrail.admits(&ls(None, Some("webserver"), None)));
        assert!(!ls(Some("aws"), None, None).admits(&ls(Some("aws"), None, Some("cloudtrail"))));
    }
}
