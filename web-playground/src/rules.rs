//! Compiling the page's rule text (one rule file, several YAML documents allowed) exactly as
//! `sigil hunt --rules rule.yml` compiles `rule.yml`, and describing the result for the page:
//! diagnostics with ranges in the text, and each loaded rule with the line its document starts on.
//! This module never evaluates events.

use crate::options::Options;
use serde::Serialize;
use sigil_compiler::yaml::{self, Node};
use sigil_compiler::{Compiler, Output};

/// A rejected rule or unreadable text, positioned for the editor (1-based, end exclusive).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diagnostic {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    /// `error` (the rule is not loaded) or `warning`.
    pub severity: &'static str,
}

/// A loaded rule, for the page's list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleSummary {
    pub id: String,
    pub title: String,
    pub level: Option<String>,
    /// `detection` or `correlation`.
    pub kind: &'static str,
    /// Where its document starts in the text.
    pub line: u32,
}

pub struct Compiled {
    pub output: Output,
    pub diagnostics: Vec<Diagnostic>,
    pub rules: Vec<RuleSummary>,
}

/// What `sigil hunt --rules rule.yml [--pipeline NAME...]` compiles with.
pub fn compiler_options(options: &Options) -> sigil_compiler::Options {
    sigil_compiler::Options { pipelines: options.pipelines.clone(), ..Default::default() }
}

pub fn compile(text: &str, options: &Options) -> Compiled {
    let mut compiler = Compiler::new(compiler_options(options));
    compiler.add_file(&options.file, text);
    let output = compiler.finish();
    let mut diagnostics: Vec<Diagnostic> = output
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = (d.line.max(1), d.col.max(1));
            let (end_line, end_column) = token_end(text, line, column);
            let message = match &d.rule {
                Some(title) => format!("{} (rule '{title}')", d.message),
                None => d.message.clone(),
            };
            Diagnostic { line, column, end_line, end_column, message, severity: "error" }
        })
        .collect();
    if output.rules_seen == 0 {
        diagnostics.push(Diagnostic {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            message: "no rule yet: write a Sigma rule (YAML; separate several with ---)".into(),
            severity: "warning",
        });
    }
    let rules = summaries(text, &output);
    Compiled { output, diagnostics, rules }
}

/// Where the token at (line, column) ends: the editor underlines the token a message is about.
/// It ends before white space, YAML flow punctuation and quotes, and a `:` that ends a key.
fn token_end(text: &str, line: u32, column: u32) -> (u32, u32) {
    let Some(line_text) = text.lines().nth(line as usize - 1) else { return (line, column + 1) };
    let rest: Vec<char> = line_text.chars().skip(column as usize - 1).collect();
    let ends_key = |i: usize| rest[i] == ':' && rest.get(i + 1).is_none_or(|c| c.is_whitespace());
    let length = (0..rest.len())
        .position(|i| rest[i].is_whitespace() || ",{}[]'\"".contains(rest[i]) || ends_key(i))
        .unwrap_or(rest.len());
    (line, column + length.max(1) as u32)
}

/// Every rule of the plan, detection rules then correlations, with its document's line.
fn summaries(text: &str, output: &Output) -> Vec<RuleSummary> {
    let docs = yaml::parse_documents(text).unwrap_or_default();
    let mut used = vec![false; docs.len()];
    let mut line_of = |id: &str, title: &str| -> u32 {
        let field = |doc: &Node, key: &str| doc.get(key).and_then(Node::scalar_text);
        let found = docs.iter().enumerate().position(|(i, doc)| {
            let same = if id.is_empty() {
                field(doc, "title").as_deref() == Some(title)
            } else {
                field(doc, "id").as_deref() == Some(id) || field(doc, "name").as_deref() == Some(id)
            };
            !used[i] && same
        });
        match found {
            Some(i) => {
                used[i] = true;
                docs[i].pos.line
            }
            None => 1,
        }
    };
    let plan = &output.plan;
    let detections = plan.rules.iter().map(|r| (&r.info, "detection"));
    let correlations = plan.correlations.iter().map(|c| (&c.info, "correlation"));
    detections
        .chain(correlations)
        .map(|(info, kind)| RuleSummary {
            id: info.id.clone(),
            title: info.title.clone(),
            level: info.level.clone(),
            kind,
            line: line_of(&info.id, &info.title),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_rule_is_reported_at_its_token() {
        let text = "title: ok\nlogsource: {product: p}\ndetection:\n  sel: {a: 1}\n  condition: sel and nope\n";
        let c = compile(text, &crate::options::parse("").unwrap());
        assert_eq!(c.diagnostics.len(), 1);
        let d = &c.diagnostics[0];
        assert_eq!((d.line, d.column, d.end_column), (5, 22, 26), "{d:?}");
        assert!(d.message.contains("'nope'"));
        let flow = "title: x\nlogsource: {product: p}\ndetection: {sel: {a: 1}, condition: sel and nope}\n";
        let d = &compile(flow, &crate::options::parse("").unwrap()).diagnostics[0];
        assert_eq!((d.line, d.column, d.end_column), (3, 45, 49), "{d:?}");
    }
}
