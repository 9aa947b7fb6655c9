//! ATT&CK coverage of a plan, from its rules' `attack.*` tags: which techniques each tactic's
//! rules cover, as a table and as an ATT&CK Navigator layer (a heat map, score = number of
//! rules). Reads the rules' metadata only; never prints or writes a file.
//!
//! A technique is listed under a tactic only for the rules that carry both tags: Sigma tags do not
//! say which technique goes with which tactic, so a rule's tactics times its techniques is all a
//! rule claims, and one rule's tactic must not reach the techniques of another.
//!
//! The matrix is ATT&CK Enterprise v19, where Defense Evasion was split into Stealth (which kept
//! its id, TA0005) and Defense Impairment (TA0112). A rule tagged only with the retired
//! `defense-evasion` cannot be placed in either from its tactic tag, so the table gives it a row
//! of its own, `defense-evasion (pre-v19)`; see [`Column::DefenseEvasionPreV19`].

use serde_json::json;
use sigil_engine::Plan;
use std::collections::{BTreeMap, BTreeSet};

/// The ATT&CK version the table and the layer follow (the layer's `versions.attack`).
pub const ATTACK_VERSION: &str = "19";

/// ATT&CK Enterprise v19 tactics, in the matrix's order, by their tag names (which are the
/// Navigator's tactic short names). `attack.privilege_escalation` spellings are accepted too.
pub const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// The tactic v19 retired, still found on rules written before it.
pub const RETIRED_DEFENSE_EVASION: &str = "defense-evasion";

/// The tactics that together cover what Defense Evasion covered.
const DEFENSE_EVASION_SUCCESSORS: [&str; 2] = ["stealth", "defense-impairment"];

/// Where a technique is listed; the derived order is the table's order of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// A current tactic, by its index in [`TACTICS`].
    Tactic(usize),
    /// Rules tagged with the retired `defense-evasion` and neither successor. Not folded into
    /// Stealth although Stealth inherited TA0005: Defense Impairment took Impair Defenses and its
    /// kin, so only the technique, not the tag, tells which successor a rule meant. In the layer
    /// these pairs go under both successors; the Navigator draws a technique only under the
    /// tactics v19 lists it in, so each lands where its technique is.
    DefenseEvasionPreV19,
    /// Rules with a technique tag and no tactic tag.
    NoTactic,
}

impl Column {
    /// The name in the table's first column.
    pub fn label(self) -> &'static str {
        match self {
            Column::Tactic(i) => TACTICS[i],
            Column::DefenseEvasionPreV19 => "defense-evasion (pre-v19)",
            Column::NoTactic => "(none)",
        }
    }
}

/// What a plan's rules cover.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    /// For each (column, technique id such as `T1685.002`) that one rule tags both of, those
    /// rules, as indexes into `titles`.
    pub pairs: BTreeMap<(Column, String), Vec<usize>>,
    /// The title of every rule and correlation counted, in plan order.
    pub titles: Vec<String>,
    /// Titles of the rules without a technique tag.
    pub untagged: Vec<String>,
}

/// The coverage of every rule and correlation of `plan`.
pub fn coverage(plan: &Plan) -> Coverage {
    let mut coverage = Coverage::default();
    for info in plan.rules.iter().map(|r| &r.info).chain(plan.correlations.iter().map(|c| &c.info)) {
        let rule = coverage.titles.len();
        coverage.titles.push(info.title.clone());
        let (columns, techniques) = tag_cells(&info.tags);
        if techniques.is_empty() {
            coverage.untagged.push(info.title.clone());
            continue;
        }
        for &column in &columns {
            for technique in &techniques {
                coverage.pairs.entry((column, technique.clone())).or_default().push(rule);
            }
        }
    }
    coverage
}

/// Where one rule's (or alert's) `attack.*` tags place it: the columns its tactic tags name and
/// the technique ids (such as `T1685.002`) it carries; every column goes with every technique.
/// With no technique the columns are empty; with techniques and no tactic, the column is
/// [`Column::NoTactic`]. `sigil report` places alerts with this, so its heat map and `sigil
/// coverage` agree on every tag.
pub fn tag_cells(tags: &[String]) -> (BTreeSet<Column>, BTreeSet<String>) {
    let names: Vec<String> = tags
        .iter()
        .filter_map(|t| t.to_ascii_lowercase().strip_prefix("attack.").map(|n| n.replace('_', "-")))
        .collect();
    let techniques: BTreeSet<String> = names.iter().filter_map(|n| technique_id(n)).collect();
    if techniques.is_empty() {
        return (BTreeSet::new(), techniques);
    }
    let mut columns: BTreeSet<Column> =
        names.iter().filter_map(|n| TACTICS.iter().position(|t| t == n)).map(Column::Tactic).collect();
    let tags_a_successor = names.iter().any(|n| DEFENSE_EVASION_SUCCESSORS.contains(&n.as_str()));
    // A rule that also carries a successor tag has said where it belongs; the old tag adds nothing.
    if names.iter().any(|n| n == RETIRED_DEFENSE_EVASION) && !tags_a_successor {
        columns.insert(Column::DefenseEvasionPreV19);
    }
    if columns.is_empty() {
        columns.insert(Column::NoTactic);
    }
    (columns, techniques)
}

/// `T1685.002` for the tag name `t1685.002`; `None` for tactics, groups (`g0016`), software.
fn technique_id(name: &str) -> Option<String> {
    let id = name.strip_prefix('t')?;
    id.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then(|| format!("T{id}"))
}

impl Coverage {
    /// The table `sigil coverage` prints: a row per (tactic, technique) in matrix order, then
    /// rules tagged with the retired Defense Evasion, then techniques without a tactic; each
    /// line ends in a newline.
    pub fn table(&self) -> String {
        let tactic_header = format!("TACTIC (ATT&CK v{ATTACK_VERSION})");
        let mut out = format!("{tactic_header:<25}  {:<12}  {:>5}  RULES\n", "TECHNIQUE", "COUNT");
        for ((column, technique), rules) in &self.pairs {
            out.push_str(&format!(
                "{:<25}  {technique:<12}  {:>5}  {}\n",
                column.label(),
                rules.len(),
                self.titles_of(rules).join("; ")
            ));
        }
        out
    }

    /// The closing line: rules, techniques, tactics covered and not, old-style and untagged rules.
    pub fn summary(&self) -> String {
        let covered: BTreeSet<usize> =
            self.pairs.keys().filter_map(|(c, _)| if let Column::Tactic(i) = c { Some(*i) } else { None }).collect();
        let techniques: BTreeSet<&String> = self.pairs.keys().map(|(_, t)| t).collect();
        let mut line = format!(
            "{} rules: {} techniques and sub-techniques in {} of {} ATT&CK v{ATTACK_VERSION} tactics",
            self.titles.len(),
            techniques.len(),
            covered.len(),
            TACTICS.len()
        );
        let uncovered: Vec<&str> =
            TACTICS.iter().enumerate().filter(|(i, _)| !covered.contains(i)).map(|(_, t)| *t).collect();
        if !uncovered.is_empty() {
            line.push_str(&format!(" (none in {})", uncovered.join(", ")));
        }
        let pre_v19: BTreeSet<usize> = self
            .pairs
            .iter()
            .filter(|((c, _), _)| *c == Column::DefenseEvasionPreV19)
            .flat_map(|(_, rules)| rules.iter().copied())
            .collect();
        if !pre_v19.is_empty() {
            line.push_str(&format!("; {} rules tagged with the retired defense-evasion only", pre_v19.len()));
        }
        line.push_str(&format!("; {} rules without a technique tag", self.untagged.len()));
        line
    }

    /// A layer in the ATT&CK Navigator's format (layer 4.5, ATT&CK v19): one entry per technique
    /// and tactic, scored by the number of rules, with the rule titles as the comment.
    pub fn navigator_layer(&self) -> serde_json::Value {
        // Keyed by the layer's tactic: retired Defense Evasion pairs join both successors, and a
        // rule counts once where it meets a pair of its own.
        let mut cells: BTreeMap<(Option<&str>, &str), BTreeSet<usize>> = BTreeMap::new();
        for ((column, technique), rules) in &self.pairs {
            let tactics: Vec<Option<&str>> = match *column {
                Column::Tactic(i) => vec![Some(TACTICS[i])],
                Column::DefenseEvasionPreV19 => DEFENSE_EVASION_SUCCESSORS.iter().copied().map(Some).collect(),
                Column::NoTactic => vec![None],
            };
            for tactic in tactics {
                cells.entry((tactic, technique)).or_default().extend(rules);
            }
        }
        let max = cells.values().map(BTreeSet::len).max().unwrap_or(1);
        let entries: Vec<serde_json::Value> = cells
            .iter()
            .map(|((tactic, technique), rules)| {
                let rules: Vec<usize> = rules.iter().copied().collect();
                let mut entry = json!({
                    "techniqueID": technique,
                    "score": rules.len(),
                    "comment": self.titles_of(&rules).join("; "),
                    "enabled": true,
                    "showSubtechniques": true,
                });
                if let Some(tactic) = tactic {
                    entry["tactic"] = json!(tactic);
                }
                entry
            })
            .collect();
        json!({
            "name": "Sigil rule coverage",
            "versions": {"attack": ATTACK_VERSION, "navigator": "5.1.0", "layer": "4.5"},
            "domain": "enterprise-attack",
            "description": format!(
                "Techniques covered by a Sigil rule pack, in ATT&CK v{ATTACK_VERSION}; the score is the number \
                 of rules (sigil coverage). Rules tagged only with the retired defense-evasion are listed \
                 under both stealth and defense-impairment, and show under the one their technique is in."
            ),
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

    /// The titles of `rules`, sorted, each once.
    fn titles_of(&self, rules: &[usize]) -> Vec<String> {
        let titles: BTreeSet<&String> = rules.iter().map(|&r| &self.titles[r]).collect();
        titles.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of one rule per (title, tags), all alike but for those.
    fn plan(rules: &[(&str, &str)]) -> Plan {
        let text: Vec<String> = rules
            .iter()
            .enumerate()
            .map(|(n, (title, tags))| {
                format!(
                    "title: {title}\nid: 5d6f1c8e-3a4b-4c2d-9e1f-{n:012x}\ntags: [{tags}]\nlogsource: {{product: aws}}\n\
                     detection:\n  sel: {{eventName: DeleteTrail}}\n  condition: sel\n"
                )
            })
            .collect();
        let out = crate::compile_str("t.yml", &text.join("---\n"), &crate::Options::default());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        out.plan
    }

    /// The table's rows as (first column, technique, count).
    fn rows(c: &Coverage) -> Vec<(String, String, usize)> {
        c.table()
            .lines()
            .skip(1)
            .map(|l| {
                let (tactic, rest) = l.split_at(25);
                let mut rest = rest.split_whitespace();
                let technique = rest.next().unwrap().to_string();
                (tactic.trim_end().to_string(), technique, rest.next().unwrap().parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn techniques_are_counted_under_the_tactics_of_their_own_rule() {
        let c = coverage(&plan(&[("t", "attack.defense-impairment, attack.t1685.002, attack.T1070, attack.tx")]));
        assert_eq!(
            rows(&c),
            [("defense-impairment".into(), "T1070".into(), 1), ("defense-impairment".into(), "T1685.002".into(), 1)]
        );
        assert!(c.table().starts_with("TACTIC (ATT&CK v19)"), "{}", c.table());
        assert!(c.table().contains("defense-impairment         T1685.002         1  t\n"), "{}", c.table());
        assert_eq!(c.navigator_layer()["techniques"].as_array().unwrap().len(), 2);
        assert_eq!(c.navigator_layer()["versions"]["attack"], "19");
        assert!(c.summary().starts_with("1 rules: 2 techniques and sub-techniques in 1 of 15 ATT&CK v19 tactics"));
    }

    #[test]
    fn a_tactic_reaches_only_the_techniques_of_the_rules_that_carry_it() {
        let c = coverage(&plan(&[
            ("cloud log off", "attack.defense-impairment, attack.t1685.002"),
            ("log bucket wiped", "attack.impact, attack.t1485"),
            ("other log off", "attack.defense-impairment, attack.t1685.002"),
        ]));
        assert_eq!(
            rows(&c),
            [("defense-impairment".into(), "T1685.002".into(), 2), ("impact".into(), "T1485".into(), 1)]
        );
    }

    #[test]
    fn underscore_spellings_name_the_same_tactics() {
        let c = coverage(&plan(&[("t", "attack.privilege_escalation, attack.defense_impairment, attack.t1484.002")]));
        let tactics: Vec<String> = rows(&c).into_iter().map(|r| r.0).collect();
        assert_eq!(tactics, ["privilege-escalation", "defense-impairment"]);
    }

    #[test]
    fn the_retired_defense_evasion_keeps_a_row_of_its_own_and_joins_both_successors_in_the_layer() {
        let c = coverage(&plan(&[
            ("old", "attack.defense_evasion, attack.t1078.004"),
            ("new", "attack.stealth, attack.t1078.004"),
            ("both", "attack.defense-evasion, attack.stealth, attack.t1564.008"),
        ]));
        assert_eq!(
            rows(&c),
            [
                ("stealth".into(), "T1078.004".into(), 1),
                ("stealth".into(), "T1564.008".into(), 1),
                ("defense-evasion (pre-v19)".into(), "T1078.004".into(), 1),
            ]
        );
        assert!(c.summary().contains("; 1 rules tagged with the retired defense-evasion only;"), "{}", c.summary());
        let layer = c.navigator_layer();
        let cell = |tactic: &str, technique: &str| {
            layer["techniques"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["tactic"] == tactic && e["techniqueID"] == technique)
                .map(|e| (e["score"].as_u64().unwrap(), e["comment"].as_str().unwrap().to_string()))
        };
        assert_eq!(cell("stealth", "T1078.004"), Some((2, "new; old".into())));
        assert_eq!(cell("defense-impairment", "T1078.004"), Some((1, "old".into())));
        assert!(layer["techniques"].as_array().unwrap().iter().all(|e| e["tactic"] != "defense-evasion"));
    }

    #[test]
    fn a_technique_without_a_tactic_is_listed_last_and_a_rule_without_a_technique_is_untagged() {
        let c = coverage(&plan(&[("bare", "attack.t1070"), ("tactic only", "attack.discovery")]));
        assert_eq!(rows(&c), [("(none)".into(), "T1070".into(), 1)]);
        assert_eq!(c.untagged, ["tactic only"]);
        assert!(c.navigator_layer()["techniques"][0].get("tactic").is_none());
        assert!(c.summary().contains("in 0 of 15 ATT&CK v19 tactics (none in reconnaissance, "), "{}", c.summary());
    }
}
