//! Ad hoc search queries (`sigil search`): one line of Sigma detection items → a plan.
//!
//! `eventName=CreateAccessKey userIdentity.type=Root`, `CommandLine|contains|all=-enc,http`,
//! `mimikatz`, `/sekurlsa::\w+/i`, with `and`, `or`, `not` and parentheses. [`parse`] reads the
//! line into items and a condition; [`render`] writes the equivalent Sigma rule document (one
//! search identifier per item); [`compile`] compiles that document with the same [`Compiler`]
//! and [`Options`] as rule files, so a query means exactly what the rule would, and maps the
//! compiler's line and column back to the column in the query. This module never evaluates
//! events and never reads files.
//!
//! What a value means is Sigma's: a bare value is the plain YAML scalar it would be in a rule
//! (`4688` a number, `true` a boolean, `null` Sigma's null: the field is absent or null), a
//! double-quoted one is always a string. Sigma's escapes (`\*`, `\?`, `\\`) apply in both.

mod parse;

pub use parse::{parse, MAX_DEPTH};

use crate::{Compiler, Options};
use sigil_engine::plan::{LogSource, Plan};
use std::fmt::Write as _;

/// A parsed query: its search items in order of appearance, and the condition over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub items: Vec<Item>,
    pub condition: Cond,
}

/// One search term of the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `field|modifiers=value,value`: a detection item. The key is as written; an empty field
    /// name (`|re=...`, `|all=a,b`) makes it a keyword item with modifiers.
    Field { key: String, column: usize, values: Vec<Value> },
    /// A bare word or a quoted string: a Sigma keyword.
    Keyword(Value),
    /// `/pattern/flags`: a keyword with the `re` modifier (and `i`, `m`, `s` flags).
    Regex { pattern: String, flags: String, column: usize },
}

/// A value as written: its text (quotes and `\"` resolved) and its 1-based column.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub quoted: bool,
    pub column: usize,
}

/// The condition over the items (indices into [`Query::items`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Item(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// Why a query was refused, at a 1-based character column of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// The rule title of a compiled query (what its detections carry).
pub const RULE_TITLE: &str = "search";

/// A query's rule document, and where each of its lines came from in the query.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub document: String,
    /// Per document line (0-based): what in the query it was written from.
    origins: Vec<Origin>,
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    None,
    /// A key: its first character's column in the query, its length, and the document column
    /// where its text starts (after the opening quote).
    Key {
        column: usize,
        len: usize,
        doc_column: usize,
    },
    /// A value (or a keyword, or a regex), pointed at as a whole.
    Value {
        column: usize,
    },
}

impl Rendered {
    fn line(&mut self, text: &str, origin: Origin) {
        self.document.push_str(text);
        self.document.push('\n');
        self.origins.push(origin);
    }

    /// The query column of a position in the document (1-based line and column).
    pub fn query_column(&self, line: u32, column: u32) -> usize {
        match self.origins.get((line as usize).wrapping_sub(1)).copied().unwrap_or(Origin::None) {
            Origin::None => 1,
            Origin::Value { column } => column,
            Origin::Key { column: key, len, doc_column } => {
                let offset = (column as usize).saturating_sub(doc_column);
                key + offset.min(len.saturating_sub(1))
            }
        }
    }
}

/// A string as a YAML double-quoted scalar: JSON's escapes are YAML's.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// A bare value that YAML's core schema reads as a number, boolean or null is written plain (so
/// `EventID=4688`, `exists=true` and `field=null` mean what they mean in a rule file); anything
/// else is written quoted, so no YAML syntax in a value can change the document.
fn scalar(value: &Value) -> String {
    let t = value.text.as_str();
    let number = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        !whole.is_empty()
            && !fraction.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
    };
    let plain = matches!(t, "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE");
    if !value.quoted && (plain || number(t)) {
        t.to_string()
    } else {
        quoted(t)
    }
}

fn condition_text(cond: &Cond, out: &mut String) {
    let atom = |c: &Cond, out: &mut String| {
        if matches!(c, Cond::Item(_)) {
            condition_text(c, out);
        } else {
            out.push('(');
            condition_text(c, out);
            out.push(')');
        }
    };
    match cond {
        Cond::Item(i) => {
            let _ = write!(out, "item{}", i + 1);
        }
        Cond::Not(inner) => {
            out.push_str("not ");
            atom(inner, out);
        }
        Cond::And(items) | Cond::Or(items) => {
            let joiner = if matches!(cond, Cond::And(_)) { " and " } else { " or " };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(joiner);
                }
                atom(item, out);
            }
        }
    }
}

/// The Sigma rule document a query stands for: one search identifier `itemN` per item, the
/// query's condition over them, and `logsource` (empty: every event is admitted).
pub fn render(query: &Query, logsource: &LogSource) -> Rendered {
    let mut r = Rendered { document: String::new(), origins: Vec::new() };
    r.line(&format!("title: {RULE_TITLE}"), Origin::None);
    let declared =
        [("product", &logsource.product), ("category", &logsource.category), ("service", &logsource.service)];
    if declared.iter().all(|(_, v)| v.is_none()) {
        r.line("logsource: {}", Origin::None);
    } else {
        r.line("logsource:", Origin::None);
        for (key, value) in declared {
            if let Some(v) = value {
                r.line(&format!("  {key}: {}", quoted(v)), Origin::None);
            }
        }
    }
    r.line("detection:", Origin::None);
    for (i, item) in query.items.iter().enumerate() {
        r.line(&format!("  item{}:", i + 1), Origin::None);
        match item {
            Item::Field { key, column, values } => {
                let len = key.chars().count();
                r.line(&format!("    {}:", quoted(key)), Origin::Key { column: *column, len, doc_column: 6 });
                for v in values {
                    r.line(&format!("      - {}", scalar(v)), Origin::Value { column: v.column });
                }
            }
            Item::Keyword(v) => r.line(&format!("    - {}", scalar(v)), Origin::Value { column: v.column }),
            Item::Regex { pattern, flags, column } => {
                let mut key = String::from("|re");
                for f in flags.chars() {
                    key.push('|');
                    key.push(f);
                }
                r.line(&format!("    {}:", quoted(&key)), Origin::Value { column: *column });
                r.line(&format!("      - {}", quoted(pattern)), Origin::Value { column: *column });
            }
        }
    }
    let mut condition = String::new();
    condition_text(&query.condition, &mut condition);
    r.line(&format!("  condition: {}", quoted(&condition)), Origin::None);
    r
}

/// Parses, renders and compiles a query into a plan of one rule ([`RULE_TITLE`]), with the same
/// options (pipelines, placeholders) rule files get. Every error points at a query column.
pub fn compile(text: &str, logsource: &LogSource, options: &Options) -> Result<Plan, QueryError> {
    let query = parse(text)?;
    let rendered = render(&query, logsource);
    let mut compiler = Compiler::new(options.clone());
    compiler.add_file("query", &rendered.document);
    let out = compiler.finish();
    match out.diagnostics.into_iter().next() {
        Some(d) => Err(QueryError { column: rendered.query_column(d.line, d.col), message: d.message }),
        None => Ok(out.plan),
    }
}

#[cfg(test)]
mod tests;
