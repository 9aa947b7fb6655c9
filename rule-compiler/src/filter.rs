//! Filters (Sigma v2.1 meta filter rules): a `filter:` document's selections and condition,
//! added to the detection rules it names as `(rule condition) and (filter condition)`.
//!
//! A filter applies to a rule when the rule's id or name is listed (or `rules: any`) and the
//! filter's logsource contains the rule's (each of product, category, service the filter sets
//! equals the rule's). Filters never apply to correlations. As in pySigma, the filter condition
//! is ANDed, so a suppressing filter says `condition: not selection` (SIGMA.md flags the
//! specification's own example, `condition: selection`, as inconsistent with this rewrite).

use crate::ast::{self, DetectionRule, Metadata};
use crate::diagnostics::{Error, Result};
use crate::yaml::{Kind, Node};
use sigil_engine::plan::{LogSource, RuleInfo};

#[derive(Debug, Clone)]
pub struct FilterDoc {
    pub title: String,
    pub logsource: LogSource,
    /// `None` for `rules: any` (or an empty list): every rule with a contained logsource.
    pub rules: Option<Vec<String>>,
    /// The filter's selections and condition, in the shape of a detection rule for lowering.
    pub as_rule: DetectionRule,
}

pub fn document(node: &Node) -> Result<FilterDoc> {
    let title = node
        .get("title")
        .and_then(|t| t.as_str())
        .ok_or_else(|| Error::new(node.pos, "the filter has no 'title' (it is required)"))?
        .to_string();
    if node.get("logsource").is_none() {
        return Err(Error::new(node.pos, "the filter has no 'logsource' (it is required)"));
    }
    let logsource = ast::logsource(node)?;
    let block = node.get("filter").expect("called for filter documents");
    let rules_node = block
        .get("rules")
        .ok_or_else(|| Error::new(block.pos, "the filter has no 'rules' (ids or names, or 'any')"))?;
    let rules = match &rules_node.kind {
        Kind::Str(s) if s == "any" => None,
        Kind::Str(s) => Some(vec![s.clone()]),
        Kind::Seq(items) if items.is_empty() => None,
        Kind::Seq(items) => Some(
            items
                .iter()
                .map(|i| i.scalar_text().ok_or_else(|| Error::new(i.pos, "'rules' must list rule ids or names")))
                .collect::<Result<_>>()?,
        ),
        _ => return Err(Error::new(rules_node.pos, "'rules' must be 'any' or a list of rule ids or names")),
    };
    let detection = ast::detection_block(block, "filter", &["rules"])?;
    let as_rule = DetectionRule {
        pos: node.pos,
        info: RuleInfo { title: title.clone(), ..RuleInfo::default() },
        metadata: Metadata::default(),
        logsource: logsource.clone(),
        logsource_definition: None,
        detection,
    };
    Ok(FilterDoc { title, logsource, rules, as_rule })
}

/// Whether the filter applies to a rule with this id, name and logsource.
pub fn applies(filter: &FilterDoc, info: &RuleInfo, logsource: &LogSource) -> bool {
    let named = match &filter.rules {
        None => true,
        Some(list) => list.iter().any(|r| *r == info.id || Some(r) == info.name.as_ref()),
    };
    let contains = |f: &Option<String>, r: &Option<String>| f.is_none() || f == r;
    named
        && contains(&filter.logsource.product, &logsource.product)
        && contains(&filter.logsource.category, &logsource.category)
        && contains(&filter.logsource.service, &logsource.service)
}
