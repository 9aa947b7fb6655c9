//! The Sigil rule compiler: Sigma rule files → a [`Plan`] the engine runs.
//!
//! A pipeline of small stages, each its own module:
//!
//! * [`yaml`] — YAML text → nodes with line and column (the only YAML-aware module);
//! * [`ast`] — nodes → typed rule documents, their shape checked;
//! * [`condition`] — condition strings → condition trees (nom lexer, precedence parser);
//! * [`correlation`] — correlation documents read, then resolved into chains of the plan;
//! * [`filter`] — filter documents, ANDed into the rules they name;
//! * [`value`] — Sigma strings: escapes, wildcards, placeholders, encodings;
//! * [`templates`] — Sigma v1 multi-document templates (`action: global`) merged into rules;
//! * [`modifiers`] — `field|mod|mod: values` → tests on one field;
//! * [`lower`] — a rule → one expression over the plan's shared predicates;
//! * [`graph`] — every rule's expression merged into one petgraph DAG (shared nodes,
//!   simplified), written out as the plan's node arena;
//! * [`outline`] — each rule's condition as written (names, items), for explanations;
//! * [`silence`] — Sigil's `silence:` documents (a source that must keep sending events);
//! * [`edge_policy`] — `sigil edge` policy files, read into the engine's policy data;
//! * [`select`] — which rules a run keeps (level, status, tags, ids), checked before lowering;
//! * [`pipeline`] — pySigma processing pipelines (field mappings, added conditions, ...) that
//!   rewrite each typed rule before it is lowered;
//! * [`query`] — one-line search queries (`sigil search`) rendered as a rule and compiled here;
//! * this module — the driver: files in, a plan and diagnostics out.
//!
//! Architecture invariant: the compiler reads no files itself. Callers hand it text, so it runs
//! the same in the CLI, in tests and in a browser.

pub mod ast;
pub mod condition;
pub mod correlation;
pub mod coverage;
pub mod diagnostics;
pub mod edge_policy;
pub mod filter;
pub mod graph;
pub mod lower;
pub mod modifiers;
pub mod outline;
pub mod pipeline;
pub mod query;
pub mod select;
pub mod silence;
pub mod templates;
pub mod value;
pub mod yaml;

pub use diagnostics::{Diagnostic, Pos};
pub use modifiers::Placeholders;
pub use pipeline::Pipeline;
pub use sigil_engine::plan::Plan;

use sigil_engine::plan::{CompiledRule, Expr, LogSource, RuleInfo, PLAN_FORMAT_VERSION};

/// Compiler settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Values for `%name%` placeholders used with `|expand`.
    pub placeholders: Placeholders,
    /// Processing pipelines applied to every rule, filter and correlation before lowering, in
    /// ascending priority (ties: this order).
    pub pipelines: Vec<Pipeline>,
    /// The rules to keep ([`select::Selection`]); the default keeps every rule.
    pub selection: select::Selection,
}

/// Builds one plan from many rule files. One bad rule or file never stops the others.
#[derive(Debug, Default)]
pub struct Compiler {
    options: Options,
    /// `options.pipelines` in the order they apply.
    chain: pipeline::Chain,
    interner: lower::Interner,
    rules: Vec<(RuleInfo, LogSource, Expr)>,
    correlations: Vec<correlation::Pending>,
    filters: Vec<(filter::FilterDoc, Expr)>,
    silences: Vec<sigil_engine::plan::Silence>,
    diagnostics: Vec<Diagnostic>,
    documents: usize,
    /// Documents the selection left out, and those it silenced, as `Output` reports them.
    left_out_count: usize,
    silenced_count: usize,
    /// Detection rules the selection left out, not lowered: `finish` lowers those a correlation
    /// reads (they run, silently), and drops the rest.
    left_out: Vec<(String, ast::DetectionRule)>,
}

/// What the compiler made of its input.
#[derive(Debug)]
pub struct Output {
    pub plan: Plan,
    /// One per rejected rule (or unreadable file).
    pub diagnostics: Vec<Diagnostic>,
    /// Rule documents seen, accepted or not. An unreadable file counts as one.
    pub rules_seen: usize,
    pub graph: graph::GraphStats,
    /// Rules and silence rules the selection left out: not compiled.
    pub left_out: usize,
    /// Rules the selection left out that a correlation reads, and correlations it left out:
    /// compiled and run, but they never alert.
    pub silenced: usize,
}

impl Compiler {
    pub fn new(mut options: Options) -> Compiler {
        let chain = pipeline::Chain::new(&options.pipelines);
        // Pipeline variables, under names only the pipelines' `value_placeholders` write.
        options.placeholders.extend(chain.placeholders());
        Compiler { options, chain, ..Compiler::default() }
    }

    /// Compiles every document of one rule file. `name` is how diagnostics and alerts refer to it.
    pub fn add_file(&mut self, name: &str, text: &str) {
        let docs = match yaml::parse_documents(text).and_then(templates::expand) {
            Ok(docs) => docs,
            Err(e) => {
                self.documents += 1;
                self.reject(name, e.pos, e.message, None);
                return;
            }
        };
        for doc in &docs {
            self.documents += 1;
            let title = doc.get("title").and_then(|t| t.as_str()).map(str::to_string);
            let mut rule = match ast::document(doc) {
                Ok(ast::Document::Detection(rule)) => rule,
                Ok(ast::Document::Filter(mut doc)) => {
                    let lowered = self
                        .chain
                        .apply(&mut doc.as_rule)
                        .and_then(|()| lower::lower(&doc.as_rule, &self.options.placeholders, &mut self.interner));
                    match lowered {
                        Ok(condition) => self.filters.push((*doc, condition)),
                        Err(e) => self.reject(name, e.pos, e.message, title),
                    }
                    continue;
                }
                Ok(ast::Document::Silence(mut doc)) => {
                    if !self.options.selection.admits(&doc.info) {
                        self.left_out_count += 1;
                        continue;
                    }
                    doc.info.origin = name.to_string();
                    // Pipelines rename the group-by fields as they rename the fields of rules.
                    let logsource = doc.logsource.clone();
                    doc.group_by.iter_mut().for_each(|f| *f = self.chain.map_field(&logsource, f));
                    self.silences.push(*doc);
                    continue;
                }
                Ok(ast::Document::Correlation(mut doc)) => {
                    doc.info.origin = name.to_string();
                    self.correlations.push(correlation::Pending { file: name.to_string(), doc: *doc });
                    continue;
                }
                Err(e) => {
                    self.reject(name, e.pos, e.message, title);
                    continue;
                }
            };
            // Checked on the typed rule: a rule the run does not want is never lowered.
            if !self.options.selection.admits(&rule.info) {
                self.left_out.push((name.to_string(), *rule));
                continue;
            }
            self.lower_rule(name, &mut rule, title);
        }
    }

    /// Lowers one typed detection rule into `rules` (or a diagnostic); returns whether it was.
    fn lower_rule(&mut self, name: &str, rule: &mut ast::DetectionRule, title: Option<String>) -> bool {
        let lowered =
            self.chain.apply(rule).and_then(|()| lower::lower(rule, &self.options.placeholders, &mut self.interner));
        match lowered {
            Ok(condition) => {
                let mut info = rule.info.clone();
                info.origin = name.to_string();
                // Pipelines rename the suppression's group-by fields as the rule's own.
                if let Some(suppress) = &mut info.suppress {
                    let logsource = &rule.logsource;
                    suppress.group_by.iter_mut().for_each(|f| *f = self.chain.map_field(logsource, f));
                }
                self.rules.push((info, rule.logsource.clone(), condition));
                true
            }
            Err(e) => {
                self.reject(name, e.pos, e.message, title);
                false
            }
        }
    }

    /// Lowers the left-out rules that a correlation reads (by id or name), so the correlation
    /// runs as it would without filters; returns their positions in `rules`, the rest counted.
    fn lower_rules_correlations_read(&mut self) -> Vec<usize> {
        let read: std::collections::HashSet<&str> =
            self.correlations.iter().flat_map(|p| p.doc.rules.iter().map(|(name, _)| name.as_str())).collect();
        let (needed, dropped): (Vec<_>, Vec<_>) = std::mem::take(&mut self.left_out).into_iter().partition(|(_, r)| {
            read.contains(r.info.id.as_str()) || r.info.name.as_deref().is_some_and(|n| read.contains(n))
        });
        self.left_out_count += dropped.len();
        let mut silent = Vec::new();
        for (name, mut rule) in needed {
            self.silenced_count += 1;
            let title = Some(rule.info.title.clone());
            if self.lower_rule(&name, &mut rule, title) {
                silent.push(self.rules.len() - 1);
            }
        }
        silent
    }

    /// Records a rule file that could not be read as text, so it is counted and reported too.
    pub fn add_unreadable(&mut self, name: &str, reason: &str) {
        self.documents += 1;
        self.reject(name, Pos { line: 1, col: 1 }, reason.to_string(), None);
    }

    fn reject(&mut self, file: &str, pos: Pos, message: String, rule: Option<String>) {
        self.diagnostics.push(Diagnostic { file: file.to_string(), line: pos.line, col: pos.col, message, rule });
    }

    pub fn finish(mut self) -> Output {
        let silent = self.lower_rules_correlations_read();
        // A correlation left out still runs (its rules alert, or not, as without filters), but
        // never alerts itself.
        let selection = &self.options.selection;
        let quiet_correlations: std::collections::HashSet<String> = self
            .correlations
            .iter()
            .filter(|p| !selection.admits(&p.doc.info))
            .map(|p| p.doc.info.id.clone())
            .collect();
        self.silenced_count += quiet_correlations.len();
        let conditions: Vec<Expr> = self
            .rules
            .iter()
            .map(|(info, logsource, c)| {
                let mut all = vec![c.clone()];
                for (f, fc) in &self.filters {
                    if filter::applies(f, info, logsource) {
                        all.push(fc.clone());
                    }
                }
                if all.len() == 1 {
                    all.pop().unwrap()
                } else {
                    Expr::And(all)
                }
            })
            .collect();
        let (nodes, roots, stats) = graph::build(&conditions);
        let mut rules: Vec<CompiledRule> = std::mem::take(&mut self.rules)
            .into_iter()
            .zip(roots)
            .map(|((info, logsource, _), root)| CompiledRule { info, logsource, root, alert: true })
            .collect();
        let pending = std::mem::take(&mut self.correlations);
        let chain = &self.chain;
        let (mut correlations, errors) = correlation::resolve(pending, &mut rules, &|ls, f| chain.map_field(ls, f));
        for r in silent {
            rules[r].alert = false;
        }
        for c in correlations.iter_mut().filter(|c| quiet_correlations.contains(&c.info.id)) {
            c.emit = false;
        }
        for (file, e) in errors {
            self.reject(&file, e.pos, e.message, None);
        }
        Output {
            plan: Plan {
                format_version: PLAN_FORMAT_VERSION,
                predicates: self.interner.predicates,
                nodes,
                rules,
                correlations,
                silences: self.silences,
            },
            diagnostics: self.diagnostics,
            rules_seen: self.documents,
            graph: stats,
            left_out: self.left_out_count,
            silenced: self.silenced_count,
        }
    }
}

/// Compiles a single rule file: a convenience for tests and small tools.
pub fn compile_str(name: &str, text: &str, options: &Options) -> Output {
    let mut c = Compiler::new(options.clone());
    c.add_file(name, text);
    c.finish()
}

/// Reads a placeholder file: a YAML mapping from placeholder name to a value or a list of values.
///
/// ```yaml
/// Admins_Workstations: [ws-admin-01, ws-admin-02]
/// LegitCountries: DE
/// ```
pub fn parse_placeholder_file(name: &str, text: &str) -> Result<Placeholders, Diagnostic> {
    let err = |pos: Pos, message: String| Diagnostic {
        file: name.to_string(),
        line: pos.line,
        col: pos.col,
        message,
        rule: None,
    };
    let docs = yaml::parse_documents(text).map_err(|e| err(e.pos, e.message))?;
    let mut out = Placeholders::new();
    for doc in &docs {
        let yaml::Kind::Map(entries) = &doc.kind else {
            return Err(err(doc.pos, "a placeholder file must be a mapping from name to values".into()));
        };
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            let values = match &v.kind {
                yaml::Kind::Seq(items) => items
                    .iter()
                    .map(|i| i.scalar_text().ok_or_else(|| err(i.pos, format!("values of '{key}' must be strings"))))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => vec![v.scalar_text().ok_or_else(|| err(v.pos, format!("values of '{key}' must be strings")))?],
            };
            out.entry(key).or_default().extend(values);
        }
    }
    Ok(out)
}

/// Reads a processing pipeline in pySigma's YAML format (see [`pipeline`]). `name` is how errors
/// refer to the file; the pipeline's own `name` (or else `name`) is how rule errors refer to it.
pub fn parse_pipeline(name: &str, text: &str) -> Result<Pipeline, Diagnostic> {
    pipeline::parse(name, text)
}

/// A built-in pipeline by name (`ecs`, `ocsf`, `windows`: [`pipeline::BUILTIN`]).
pub fn builtin_pipeline(name: &str) -> Option<Pipeline> {
    pipeline::builtin(name)
}
