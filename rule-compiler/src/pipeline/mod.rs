//! Processing pipelines in pySigma's YAML format: they adapt rules written against Sigma's field
//! names and logsources to how the logs really look, at compile time.
//!
//! A pipeline is a list of transformations, each optionally limited to rules of some logsources
//! (`rule_conditions`) and to some fields (`field_name_conditions`):
//!
//! ```yaml
//! name: my fields
//! priority: 10
//! vars: {admins: [alice, bob]}
//! transformations:
//!   - id: process_fields
//!     type: field_name_mapping
//!     mapping: {CommandLine: process.command_line, Image: [process.executable, process.path]}
//!     rule_conditions: [{type: logsource, product: windows, category: process_creation}]
//! ```
//!
//! Supported transformations: `field_name_mapping` (a list of targets means any of them),
//! `field_name_prefix_mapping`, `field_name_prefix`, `add_condition`, `value_placeholders` and
//! `drop_detection_item`; rule
//! conditions of type `logsource` (with `rule_cond_op` and `rule_cond_not`); field name conditions
//! `include_fields` / `exclude_fields` (`mode: plain | re`) and `processing_item_applied` (with
//! `field_name_cond_op` and `field_name_cond_not`). Anything else is an error at its line and
//! column, so that a pipeline never half-applies.
//!
//! [`parse`] reads a pipeline; [`Chain`] holds every pipeline of a compilation in ascending
//! priority (ties keep the order given) and rewrites each typed rule before it is lowered
//! ([`Chain::apply`]), and the field names of correlations ([`Chain::map_field`]). The engine never
//! knows: the plan simply holds the mapped field names.

mod apply;
mod parse;

pub use parse::parse;

use crate::diagnostics::Pos;
use crate::modifiers::Placeholders;
use crate::yaml::Node;
use std::collections::HashMap;

/// One processing pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline's `name`, or its file name when it has none.
    pub name: String,
    /// Where it was read from, for messages.
    pub file: String,
    pub priority: i64,
    /// `vars`: values for `value_placeholders`.
    pub vars: Vec<(String, Vec<String>)>,
    pub items: Vec<Item>,
}

/// One entry of `transformations`: a transformation and when it applies.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: Option<String>,
    /// Where the entry starts in the pipeline file.
    pub pos: Pos,
    pub transformation: Transformation,
    pub rule_conditions: Vec<RuleCondition>,
    /// `rule_cond_op: or` (default `and`).
    pub rule_cond_any: bool,
    pub rule_cond_not: bool,
    pub field_conditions: Vec<FieldCondition>,
    /// `field_name_cond_op: or` (default `and`).
    pub field_cond_any: bool,
    pub field_cond_not: bool,
}

#[derive(Debug, Clone)]
pub enum Transformation {
    /// Sigma field → target fields (several: the detection item holds for any of them).
    FieldNameMapping(HashMap<String, Vec<String>>),
    /// Field name prefix → target prefixes, the first matching prefix in file order.
    FieldNamePrefixMapping(Vec<(String, Vec<String>)>),
    /// `prefix` put before every field; with `keep_original` (a Sigil extension, which pySigma
    /// rejects as an unknown key) the field also keeps its own name, as a second target: for
    /// files that mix objects holding a source's fields under the prefix (OCSF's `unmapped`)
    /// with the source's own records, passed through as they came.
    FieldNamePrefix {
        prefix: String,
        keep_original: bool,
    },
    /// A search identifier added to the rule, ANDed (or, `negated`, AND NOTed) with its condition.
    AddCondition {
        name: Option<String>,
        conditions: Node,
        negated: bool,
    },
    /// `%name%` placeholders of `|expand` values replaced with the pipelines' `vars`.
    ValuePlaceholders {
        include: Option<Vec<String>>,
        exclude: Option<Vec<String>>,
    },
    DropDetectionItem,
}

impl Transformation {
    pub fn type_name(&self) -> &'static str {
        match self {
            Transformation::FieldNameMapping(_) => "field_name_mapping",
            Transformation::FieldNamePrefixMapping(_) => "field_name_prefix_mapping",
            Transformation::FieldNamePrefix { .. } => "field_name_prefix",
            Transformation::AddCondition { .. } => "add_condition",
            Transformation::ValuePlaceholders { .. } => "value_placeholders",
            Transformation::DropDetectionItem => "drop_detection_item",
        }
    }
}

/// `type: logsource`: each of product, category and service it sets equals the rule's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleCondition {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Clone)]
pub enum FieldCondition {
    /// `include_fields` (or, `exclude`, `exclude_fields`): the field is one of `fields`, or with
    /// `mode: re` matches one of the patterns from its start (as Python's `re.match`).
    Fields { exclude: bool, fields: Vec<String>, patterns: Option<Vec<regex::Regex>> },
    /// `processing_item_applied`: the field was produced by the transformation with this `id`.
    ItemApplied(String),
}

/// The built-in pipelines, by name: `--pipeline ecs` and so on.
pub const BUILTIN: &[(&str, &str)] = &[
    ("ecs", include_str!("../../pipelines/ecs.yml")),
    ("ocsf", include_str!("../../pipelines/ocsf.yml")),
    ("windows", include_str!("../../pipelines/windows.yml")),
];

/// A built-in pipeline by name.
pub fn builtin(name: &str) -> Option<Pipeline> {
    let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
    Some(parse(&format!("builtin:{name}"), text).expect("the built-in pipelines parse (tested)"))
}

/// The names under which [`Chain`] hands pipeline `vars` to the placeholder resolver, so that a
/// placeholder a pipeline replaced never falls back to (or collides with) `--placeholder` values.
/// The control character keeps them out of reach of names written in rules.
pub(crate) fn private_name(var: &str) -> String {
    format!("\u{1}pipeline:{var}")
}

/// Every pipeline of a compilation, in the order they apply.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Items in application order, with the name of their pipeline.
    items: Vec<(String, Item)>,
    /// `vars` of all pipelines merged (a later pipeline's value wins, as in pySigma).
    vars: HashMap<String, Vec<String>>,
}

impl Chain {
    /// Orders the pipelines by ascending priority (ties: the order given).
    pub fn new(pipelines: &[Pipeline]) -> Chain {
        let mut ordered: Vec<&Pipeline> = pipelines.iter().collect();
        ordered.sort_by_key(|p| p.priority);
        let mut chain = Chain::default();
        for p in ordered {
            for (k, v) in &p.vars {
                chain.vars.insert(k.clone(), v.clone());
            }
            chain.items.extend(p.items.iter().map(|i| (p.name.clone(), i.clone())));
        }
        chain
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The pipeline variables as placeholder values, under their private names.
    pub fn placeholders(&self) -> Placeholders {
        self.vars.iter().map(|(k, v)| (private_name(k), v.clone())).collect()
    }
}
