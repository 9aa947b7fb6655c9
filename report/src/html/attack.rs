//! The report's ATT&CK heat map: for each tactic of the v19 matrix, the techniques the alerts'
//! rules are tagged with, each with its alert count. Tags are placed by
//! `sigil_compiler::coverage::tag_cells`, so a technique sits under a tactic exactly when
//! `sigil coverage` would list it there; this module only counts alerts instead of rules.

use serde_json::{json, Value};
use sigil_compiler::coverage::{tag_cells, Column, TACTICS};
use std::collections::BTreeMap;

/// `rules` are (tags, alert count) in the page's rule order. Returns `tactics` (every column's
/// label: the v19 tactics in matrix order, then the retired-tactic and no-tactic columns when
/// used), `cells` (`tactic`, `technique`, `alerts`, `rules` as indexes into the page's rules)
/// and `max` (the largest cell, for the colour scale).
pub(super) fn heat_map(rules: &[(&[String], usize)]) -> Value {
    let mut cells: BTreeMap<(Column, String), (usize, Vec<usize>)> = BTreeMap::new();
    for (index, (tags, alerts)) in rules.iter().enumerate() {
        let (columns, techniques) = tag_cells(tags);
        for column in columns {
            for technique in &techniques {
                let cell = cells.entry((column, technique.clone())).or_default();
                cell.0 += alerts;
                cell.1.push(index);
            }
        }
    }
    let mut tactics: Vec<&str> = TACTICS.to_vec();
    for extra in [Column::DefenseEvasionPreV19, Column::NoTactic] {
        if cells.keys().any(|(column, _)| *column == extra) {
            tactics.push(extra.label());
        }
    }
    let max = cells.values().map(|(alerts, _)| *alerts).max().unwrap_or(0);
    let cells: Vec<Value> = cells
        .iter()
        .map(|((column, technique), (alerts, rules))| {
            json!({"tactic": column.label(), "technique": technique, "alerts": alerts, "rules": rules})
        })
        .collect();
    json!({"tactics": tactics, "cells": cells, "max": max})
}
