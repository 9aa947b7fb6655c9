//! ATT&CK coverage of a plan, from its rules' `attack.*` tags: which techniques each tactic's
//! rules cover, as a table and as an ATT&CK Navigator layer (a heat map, score = number of
//! rules). Reads the rules' metadata only; never prints or writes a file.

use serde_json::json;
use sigil_engine::Plan;
use std::collections::{BTreeMap, BTreeSet};

/// ATT&CK Enterprise tactics, in the matrix's order, by their tag names.
pub const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// One technique or sub-technique: the tactics it was tagged with, and its rules' titles.
#[derive(Debug, Default, Clone)]
pub struct Technique {
    pub tactics: BTreeSet<String>,
    pub rules: Vec<String>,
}

/// What a plan's rules cover.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    /// By technique id (`T1562.008`).
    pub techniques: BTreeMap<String, Technique>,
    /// Titles of the rules without a technique tag.
    pub untagged: Vec<String>,
    /// Rules and correlations counted.
    pub rules: usize,
}

/// The coverage of every rule and correlation of `plan`.
pub fn coverage(plan: &Plan) -> Coverage {
    let mut coverage = Coverage::default();
    for info in plan.rules.iter().map(|r| &r.info).chain(plan.correlations.iter().map(|c| &c.info)) {
        coverage.rules += 1;
        let tags: Vec<String> = info.tags.iter().map(|t| t.to_ascii_lowercase()).collect();
        let tactics: BTreeSet<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack."))
            .filter(|t| TACTICS.contains(t))
            .map(str::to_string)
            .collect();
        let ids: Vec<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack.t"))
            .filter(|id| id.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
            .map(|id| format!("T{id}"))
            .collect();
        if ids.is_empty() {
            coverage.untagged.push(info.title.clone());
        }
        for id in ids {
            let entry = coverage.techniques.entry(id).or_default();
            entry.tactics.extend(tactics.iter().cloned());
            entry.rules.push(info.title.clone());
        }
    }
    coverage
}

impl Coverage {
    /// The table `sigil coverage` prints: a row per (tactic, technique), techniques without a
    /// tactic last, each line ending in a newline.
    pub fn table(&self) -> String {
        let mut out = format!("{:<22}  {:<12}  {:>5}  RULES\n", "TACTIC", "TECHNIQUE", "COUNT");
        for tactic in TACTICS.iter().copied().chain(std::iter::once("(none)")) {
            for (id, technique) in &self.techniques {
                let here =
                    if tactic == "(none)" { technique.tactics.is_empty() } else { technique.tactics.contains(tactic) };
                if here {
                    let mut names = technique.rules.clone();
                    names.sort();
                    names.dedup();
                    out.push_str(&format!(
                        "{tactic:<22}  {id:<12}  {:>5}  {}\n",
                        technique.rules.len(),
                        names.join("; ")
                    ));
                }
            }
        }
        out
    }

    /// The closing line: rules, techniques, tactics, untagged rules.
    pub fn summary(&self) -> String {
        let covered_tactics: BTreeSet<&String> = self.techniques.values().flat_map(|t| &t.tactics).collect();
        format!(
            "{} rules: {} techniques and sub-techniques in {} of {} tactics; {} rules without a technique tag",
            self.rules,
            self.techniques.len(),
            covered_tactics.len(),
            TACTICS.len(),
            self.untagged.len()
        )
    }

    /// A layer in the ATT&CK Navigator's format (layer 4.5): one entry per technique and
    /// tactic, scored by the number of rules, with the rule titles as the comment.
    pub fn navigator_layer(&self) -> serde_json::Value {
        let max = self.techniques.values().map(|t| t.rules.len()).max().unwrap_or(1);
        let mut entries = Vec::new();
        for (id, technique) in &self.techniques {
            let comment = technique.rules.join("; ");
            let tactics: Vec<Option<&String>> =
                if technique.tactics.is_empty() { vec![None] } else { technique.tactics.iter().map(Some).collect() };
            for tactic in tactics {
                let mut entry = json!({
                    "techniqueID": id,
                    "score": technique.rules.len(),
                    "comment": comment,
                    "enabled": true,
                    "showSubtechniques": true,
                });
                if let Some(tactic) = tactic {
                    entry["tactic"] = json!(tactic);
                }
                entries.push(entry);
            }
        }
        json!({
            "name": "Sigil rule coverage",
            "versions": {"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
            "domain": "enterprise-attack",
            "description": "Techniques covered by a Sigil rule pack; the score is the number of rules (sigil coverage).",
            "sorting": 3,
            "layout": {"layout": "side", "showID": true, "showName": true},
            "hideDisabled": false,
            "techniques": entries,
            "gradient": {"colors": ["#fff7e6", "#e6550d"], "minValue": 0, "maxValue": max},
            "legendItems": [],
            "metadata": [],
            "showTacticRowBackground": false,
            "selectTechniquesAcrossTactics": true,
            "selectSubtechniquesWithParent": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tags: &str) -> Plan {
        let rule = format!(
            "title: t\nid: 5d6f1c8e-3a4b-4c2d-9e1f-0a1b2c3d4e5f\ntags: [{tags}]\nlogsource: {{product: aws}}\n\
             detection:\n  sel: {{eventName: DeleteTrail}}\n  condition: sel\n"
        );
        let out = crate::compile_str("t.yml", &rule, &crate::Options::default());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        out.plan
    }

    #[test]
    fn techniques_are_counted_under_their_tactics() {
        let c = coverage(&plan("attack.defense-evasion, attack.t1562.008, attack.T1070, attack.tx"));
        assert_eq!(c.techniques.keys().collect::<Vec<_>>(), ["T1070", "T1562.008"]);
        assert!(c.techniques["T1070"].tactics.contains("defense-evasion"));
        assert!(c.table().contains("defense-evasion         T1562.008         1  t\n"), "{}", c.table());
        assert_eq!(c.navigator_layer()["techniques"].as_array().unwrap().len(), 2);
        assert!(c.summary().starts_with("1 rules: 2 techniques and sub-techniques in 1 of 14 tactics"));
    }

    #[test]
    fn a_rule_without_a_technique_tag_is_untagged() {
        let c = coverage(&plan("attack.discovery"));
        assert_eq!(c.untagged, ["t"]);
        assert!(c.table().lines().count() == 1);
    }
}
