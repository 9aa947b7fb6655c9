//! `sigil edge` policy files: YAML in, the engine's [`Policy`] out, every mistake reported as
//! `file:line:column: message` (the format is `docs/edge-policy.md`).
//!
//! ```yaml
//! default: keep
//! entries:
//!   - name: evidence
//!     rules: any
//!     action: tag
//!   - name: network sample
//!     logsource: {category: network_connection}
//!     action: sample
//!     rate: 0.25
//!     key: DestinationIp
//! ```
//!
//! This module reads and checks the file's shape; what the rules it names are, and whether a
//! sample touches authentication logs, is checked against the loaded rules by the engine
//! (`Policy::resolve`). It never looks at events.

use crate::ast;
use crate::correlation::timespan;
use crate::diagnostics::{Diagnostic, Error, Pos, Result};
use crate::yaml::{self, Kind, Node};
use sigil_engine::edge::policy::{self, Action, Aggregate, Entry, Measure, Policy, Sample, Selector};

const TOP_KEYS: &[&str] = &["default", "entries", "tag-field", "silence", "timestamp-field", "max-groups"];
const COMMON_KEYS: &[&str] = &["name", "logsource", "rules", "action"];
const SAMPLE_KEYS: &[&str] = &["rate", "key", "seed", "force"];
const AGGREGATE_KEYS: &[&str] = &["window", "lateness", "by", "measure", "field"];

/// Reads a policy file; `name` is how messages refer to it.
pub fn parse(name: &str, text: &str) -> std::result::Result<Policy, Diagnostic> {
    let diagnostic = |e: Error| Diagnostic {
        file: name.to_string(),
        line: e.pos.line,
        col: e.pos.col,
        message: e.message,
        rule: None,
    };
    let docs = yaml::parse_documents(text).map_err(diagnostic)?;
    let doc = match docs.as_slice() {
        [doc] => doc,
        [] => {
            return Err(diagnostic(Error::new(
                Pos { line: 1, col: 1 },
                "the policy file is empty: see docs/edge-policy.md",
            )))
        }
        [_, second, ..] => return Err(diagnostic(Error::new(second.pos, "a policy file holds one YAML document"))),
    };
    let mut policy = read(doc).map_err(diagnostic)?;
    policy.origin = name.to_string();
    Ok(policy)
}

fn read(doc: &Node) -> Result<Policy> {
    let Kind::Map(top) = &doc.kind else {
        return Err(Error::new(doc.pos, format!("a policy is a mapping with 'entries', found {}", doc.type_name())));
    };
    unknown_keys(top, TOP_KEYS, "the policy")?;
    let mut policy = Policy::default();
    if let Some(d) = doc.get("default") {
        policy.default = match d.as_str() {
            Some("keep") => Action::Keep,
            Some("drop") => Action::Drop,
            Some("tag") => Action::Tag,
            _ => return Err(Error::new(d.pos, "'default' is keep, drop or tag")),
        };
    }
    if let Some(f) = doc.get("tag-field") {
        policy.tag_field = non_empty_str(f, "tag-field")?;
    }
    if let Some(s) = doc.get("silence") {
        policy.silence = boolean(s, "silence")?;
    }
    if let Some(f) = doc.get("timestamp-field") {
        policy.timestamp_field = Some(non_empty_str(f, "timestamp-field")?);
    }
    if let Some(m) = doc.get("max-groups") {
        policy.max_groups = match m.kind {
            Kind::Int(n) if n >= 1 => n as usize,
            _ => return Err(Error::new(m.pos, "'max-groups' is a whole number of at least 1")),
        };
    }
    let entries = doc
        .get("entries")
        .ok_or_else(|| Error::new(doc.pos, "the policy has no 'entries' (a list; it may be empty: [])"))?;
    let items = match &entries.kind {
        Kind::Seq(items) => items.as_slice(),
        Kind::Null => &[],
        _ => return Err(Error::new(entries.pos, "'entries' is a list of entries")),
    };
    policy.entries = items.iter().enumerate().map(|(i, item)| entry(i, item)).collect::<Result<_>>()?;
    Ok(policy)
}

fn entry(index: usize, node: &Node) -> Result<Entry> {
    let Kind::Map(keys) = &node.kind else {
        return Err(Error::new(node.pos, format!("an entry is a mapping, found {}", node.type_name())));
    };
    // Where the entry starts: its first key (a block mapping's own mark is its first value).
    let at = keys.first().map_or(node.pos, |(k, _)| k.pos);
    let name = match node.get("name") {
        Some(n) => non_empty_str(n, "name")?,
        None => format!("entry {}", index + 1),
    };
    let select = match (node.get("logsource"), node.get("rules")) {
        (Some(_), Some(r)) => {
            return Err(Error::new(r.pos, "an entry selects by 'logsource' or by 'rules', not both"));
        }
        (Some(_), None) => Selector::LogSource(ast::logsource(node)?),
        (None, Some(r)) => rules(r)?,
        (None, None) => {
            return Err(Error::new(
                at,
                "the entry selects nothing: give 'logsource' (product, category, service) or 'rules' (ids or titles, or any)",
            ))
        }
    };
    let action_node = node
        .get("action")
        .ok_or_else(|| Error::new(at, "the entry has no 'action' (keep, drop, tag, sample or aggregate)"))?;
    let (action, extra): (Action, &[&str]) = match action_node.as_str() {
        Some("keep") => (Action::Keep, &[]),
        Some("drop") => (Action::Drop, &[]),
        Some("tag") => (Action::Tag, &[]),
        Some("sample") => (Action::Sample(sample(node, at)?), SAMPLE_KEYS),
        Some("aggregate") => (Action::Aggregate(aggregate(node, at)?), AGGREGATE_KEYS),
        _ => return Err(Error::new(action_node.pos, "'action' is keep, drop, tag, sample or aggregate")),
    };
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(extra).copied().collect();
    unknown_keys(keys, &allowed, &format!("a {} entry", action.name()))?;
    Ok(Entry { name, pos: policy::Pos { line: at.line, col: at.col }, select, action })
}

fn rules(node: &Node) -> Result<Selector> {
    match &node.kind {
        Kind::Str(s) if s == "any" => Ok(Selector::AnyRule),
        Kind::Str(s) => Ok(Selector::Rules(vec![s.clone()])),
        Kind::Seq(items) if !items.is_empty() => Ok(Selector::Rules(
            items
                .iter()
                .map(|i| i.scalar_text().ok_or_else(|| Error::new(i.pos, "'rules' lists rule ids or titles")))
                .collect::<Result<_>>()?,
        )),
        _ => Err(Error::new(node.pos, "'rules' is any, a rule id or title, or a list of them")),
    }
}

fn sample(node: &Node, at: Pos) -> Result<Sample> {
    let rate_node = node.get("rate").ok_or_else(|| Error::new(at, "a sample entry needs 'rate' (like 0.25 or 25%)"))?;
    let rate = match &rate_node.kind {
        Kind::Float(f) => Some(*f),
        Kind::Int(i) => Some(*i as f64),
        Kind::Str(s) => s.strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok()).map(|p| p / 100.0),
        _ => None,
    }
    .filter(|r| *r > 0.0 && *r <= 1.0)
    .ok_or_else(|| {
        Error::new(rate_node.pos, "'rate' is a share of events kept, above 0 and at most 1 (0.25, or 25%)")
    })?;
    let key_node = node
        .get("key")
        .ok_or_else(|| Error::new(at, "a sample entry needs 'key': the field (or fields) whose value decides"))?;
    let key = fields(key_node, "key")?;
    let seed = match node.get("seed") {
        None => 0,
        Some(Node { kind: Kind::Int(n), .. }) if *n >= 0 => *n as u64,
        Some(s) => return Err(Error::new(s.pos, "'seed' is a whole number of at least 0")),
    };
    let force = node.get("force").map(|f| boolean(f, "force")).transpose()?.unwrap_or(false);
    Ok(Sample { rate, key, seed, force })
}

fn aggregate(node: &Node, at: Pos) -> Result<Aggregate> {
    let window = node.get("window").ok_or_else(|| {
        Error::new(at, "an aggregate entry needs 'window' (like 1m or 5m): the length of its windows")
    })?;
    let window_ms = timespan(window)?;
    let lateness_ms = node.get("lateness").map(timespan).transpose()?.unwrap_or(0);
    let by = node.get("by").map(|b| fields(b, "by")).transpose()?.unwrap_or_default();
    let field = node.get("field").map(|f| non_empty_str(f, "field")).transpose()?;
    let measure_node = node.get("measure");
    let measure = match (measure_node.map(|m| (m, m.as_str())), field) {
        (None | Some((_, Some("count"))), None) => Measure::Count,
        (Some((_, Some("sum"))), Some(f)) => Measure::Sum(f),
        (Some((_, Some("distinct"))), Some(f)) => Measure::Distinct(f),
        (Some((m, Some("sum" | "distinct"))), None) => {
            return Err(Error::new(m.pos, "a sum or distinct measure needs 'field': the field it reads"))
        }
        (None | Some((_, Some("count"))), Some(_)) => {
            let field_at = node.get("field").map_or(at, |f| f.pos);
            return Err(Error::new(field_at, "'field' goes with measure sum or distinct; count counts events"));
        }
        (Some((m, _)), _) => return Err(Error::new(m.pos, "'measure' is count, sum or distinct")),
    };
    Ok(Aggregate { window_ms, lateness_ms, by, measure })
}

/// A field name or a non-empty list of them.
fn fields(node: &Node, key: &str) -> Result<Vec<String>> {
    let list = match &node.kind {
        Kind::Str(s) if !s.is_empty() => vec![s.clone()],
        Kind::Seq(items) if !items.is_empty() => items.iter().map(|i| non_empty_str(i, key)).collect::<Result<_>>()?,
        _ => return Err(Error::new(node.pos, format!("'{key}' is a field name or a list of field names"))),
    };
    Ok(list)
}

fn non_empty_str(node: &Node, key: &str) -> Result<String> {
    match node.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        _ => Err(Error::new(node.pos, format!("'{key}' is a non-empty string"))),
    }
}

fn boolean(node: &Node, key: &str) -> Result<bool> {
    match node.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(Error::new(node.pos, format!("'{key}' is true or false"))),
    }
}

fn unknown_keys(entries: &[(Node, Node)], allowed: &[&str], what: &str) -> Result<()> {
    for (key, _) in entries {
        let name = key.scalar_text().unwrap_or_default();
        if !allowed.contains(&name.as_str()) {
            return Err(Error::new(
                key.pos,
                format!("unknown key '{name}' in {what} (it takes {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_engine::plan::LogSource;

    #[test]
    fn a_whole_policy_reads_into_entries_in_order() {
        let text = "default: drop\ntag-field: rules\nsilence: true\nentries:\n  - rules: any\n    action: tag\n  - name: net\n    logsource: {category: Network_Connection}\n    action: sample\n    rate: 25%\n    key: [DestinationIp, DestinationPort]\n  - logsource: {category: registry_event}\n    action: aggregate\n    window: 5m\n    lateness: 30s\n    by: Computer\n    measure: distinct\n    field: Image\n";
        let p = parse("p.yml", text).unwrap();
        assert_eq!((p.default.clone(), p.tag_field.as_str(), p.silence), (Action::Drop, "rules", true));
        assert_eq!(p.entries[0].select, Selector::AnyRule);
        assert_eq!(p.entries[0].name, "entry 1");
        assert_eq!(p.entries[1].select, Selector::LogSource(LogSource::new(None, Some("network_connection"), None)));
        let Action::Sample(s) = &p.entries[1].action else { panic!("sample") };
        assert_eq!((s.rate, s.key.len(), s.seed, s.force), (0.25, 2, 0, false));
        let Action::Aggregate(a) = &p.entries[2].action else { panic!("aggregate") };
        assert_eq!(
            (a.window_ms, a.lateness_ms, a.measure.clone()),
            (300_000, 30_000, Measure::Distinct("Image".into()))
        );
        assert_eq!((p.entries[2].pos.line, p.entries[2].pos.col), (12, 5));
    }

    #[test]
    fn mistakes_carry_file_line_and_column() {
        let cases = [
            (
                "entries:\n  - logsource: {product: aws}\n    action: sample\n    rate: 2\n    key: x\n",
                "p.yml:4:11:",
                "'rate'",
            ),
            (
                "entries:\n  - logsource: {product: aws}\n    action: drop\n    rate: 0.5\n",
                "p.yml:4:5:",
                "unknown key 'rate' in a drop entry",
            ),
            ("entries:\n  - action: keep\n", "p.yml:2:5:", "selects nothing"),
            ("entries:\n  - rules: any\n    action: squash\n", "p.yml:3:13:", "'action' is keep"),
            (
                "entries:\n  - rules: any\n    action: aggregate\n    window: 1m\n    measure: sum\n",
                "p.yml:5:14:",
                "needs 'field'",
            ),
            ("default: sample\nentries: []\n", "p.yml:1:10:", "'default' is keep, drop or tag"),
            ("entrys: []\n", "p.yml:1:1:", "unknown key 'entrys'"),
            (
                "entries:\n  - rules: any\n    action: aggregate\n    window: 9223372036854775807s\n",
                "p.yml:4:13:",
                "invalid timespan",
            ),
            (
                "entries:\n  - rules: any\n    action: aggregate\n    window: 1m\n    lateness: 2305843009213693952w\n",
                "p.yml:5:15:",
                "invalid timespan",
            ),
        ];
        for (text, at, message) in cases {
            let err = parse("p.yml", text).unwrap_err().to_string();
            assert!(err.starts_with(at) && err.contains(message), "{text:?}: {err}");
        }
    }
}
