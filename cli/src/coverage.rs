//! `sigil coverage PATH...`: which ATT&CK tactics and techniques a pack covers, from its rules'
//! `attack.*` tags, as a table and (with `--navigator FILE`) an ATT&CK Navigator layer that
//! shows the coverage as a heat map (score = number of rules).

use crate::rules;
use crate::CoverageArgs;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

/// ATT&CK Enterprise tactics, in the matrix's order, by their tag names.
const TACTICS: &[&str] = &[
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

pub fn run(args: CoverageArgs) -> Result<ExitCode, String> {
    let out = rules::compile(&args.paths, rules::options(&args.rule_args)?)?;
    for d in &out.diagnostics {
        eprintln!("sigil: rule rejected: {d}");
    }
    let infos = out.plan.rules.iter().map(|r| &r.info).chain(out.plan.correlations.iter().map(|c| &c.info));
    // technique → (tactics it was tagged with, rule titles)
    let mut techniques: BTreeMap<String, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
    let mut untagged = Vec::new();
    let mut total = 0;
    for info in infos {
        total += 1;
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
            untagged.push(info.title.clone());
        }
        for id in ids {
            let entry = techniques.entry(id).or_default();
            entry.0.extend(tactics.iter().cloned());
            entry.1.push(info.title.clone());
        }
    }
    print_table(&techniques);
    let covered_tactics: BTreeSet<&String> = techniques.values().flat_map(|(t, _)| t).collect();
    println!(
        "{total} rules: {} techniques and sub-techniques in {} of {} tactics; {} rules without a technique tag",
        techniques.len(),
        covered_tactics.len(),
        TACTICS.len(),
        untagged.len()
    );
    if let Some(path) = &args.navigator {
        let layer = navigator_layer(&techniques);
        let text = serde_json::to_string_pretty(&layer).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("sigil: ATT&CK Navigator layer written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(techniques: &BTreeMap<String, (BTreeSet<String>, Vec<String>)>) {
    println!("{:<22}  {:<12}  {:>5}  RULES", "TACTIC", "TECHNIQUE", "COUNT");
    for tactic in TACTICS.iter().copied().chain(std::iter::once("(none)")) {
        for (id, (tactics, rules)) in techniques {
            let here = if tactic == "(none)" { tactics.is_empty() } else { tactics.contains(tactic) };
            if here {
                let mut names = rules.clone();
                names.sort();
                names.dedup();
                println!("{tactic:<22}  {id:<12}  {:>5}  {}", rules.len(), names.join("; "));
            }
        }
    }
}

/// A layer in the ATT&CK Navigator's format (layer 4.5): one entry per technique and tactic,
/// scored by the number of rules, with the rule titles as the comment.
fn navigator_layer(techniques: &BTreeMap<String, (BTreeSet<String>, Vec<String>)>) -> serde_json::Value {
    let max = techniques.values().map(|(_, r)| r.len()).max().unwrap_or(1);
    let mut entries = Vec::new();
    for (id, (tactics, rules)) in techniques {
        let comment = rules.join("; ");
        let tactics: Vec<Option<&String>> =
            if tactics.is_empty() { vec![None] } else { tactics.iter().map(Some).collect() };
        for tactic in tactics {
            let mut entry = json!({
                "techniqueID": id,
                "score": rules.len(),
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
