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
//! * `unit` — one file compiled alone, nothing shared touched (so files compile in parallel);
//! * this module — the driver: files in, joined in order, a plan and diagnostics out.
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
mod parallel;
pub mod pipeline;
pub mod query;
pub mod select;
pub mod silence;
pub mod templates;
mod unit;
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

/// One rule file for [`Compiler::add_files`]: its name (how diagnostics and alerts refer to it)
/// and its text, or why it could not be read as text.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub name: String,
    pub text: Result<String, String>,
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
        let unit = unit::compile(name, text, &self.chain, &self.options);
        self.join(name, unit);
    }

    /// Compiles many rule files, as `add_file` and `add_unreadable` on each in turn would, but
    /// with the files' own work (parsing to lowering) spread over the cores where the target has
    /// threads. The plan is the same byte for byte: files join it in the order given.
    pub fn add_files(&mut self, files: &[RuleFile]) {
        let units = parallel::map(files, |file| match &file.text {
            Ok(text) => Ok(unit::compile(&file.name, text, &self.chain, &self.options)),
            Err(reason) => Err(reason.clone()),
        });
        for (file, unit) in files.iter().zip(units) {
            match unit {
                Ok(unit) => self.join(&file.name, unit),
                Err(reason) => self.add_unreadable(&file.name, &reason),
            }
        }
    }

    /// Adds one file's unit to the plan being built: its predicates interned, in document order.
    fn join(&mut self, name: &str, unit: unit::Unit) {
        self.documents += unit.documents;
        for step in unit.steps {
            self.join_step(name, step);
        }
    }

    /// Adds one document's result; returns whether it was an accepted detection rule.
    fn join_step(&mut self, name: &str, step: unit::Step) -> bool {
        use unit::Step;
        match step {
            Step::Rule(rule) => {
                let unit::LoweredRule { info, logsource, lowered } = *rule;
                let condition = self.interner.add(lowered);
                self.rules.push((info, logsource, condition));
                return true;
            }
            Step::Filter { doc, lowered } => {
                let condition = self.interner.add(lowered);
                self.filters.push((*doc, condition));
            }
            Step::Silence(doc) => self.silences.push(*doc),
            Step::Correlation(pending) => self.correlations.push(*pending),
            Step::LeftOut(rule) => self.left_out.push((name.to_string(), *rule)),
            Step::LeftOutSilence => self.left_out_count += 1,
            Step::Rejected { pos, message, title } => self.reject(name, pos, message, title),
        }
        false
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
            let step = unit::lower_rule(&name, &mut rule, title, &self.chain, &self.options);
            if self.join_step(&name, step) {
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
        // Each rule's expression moves into the graph's input (the graph holds it from then on).
        let conditions: Vec<Expr> = self
            .rules
            .iter_mut()
            .map(|(info, logsource, c)| {
                let mut all = vec![std::mem::replace(c, Expr::Const(true))];
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
