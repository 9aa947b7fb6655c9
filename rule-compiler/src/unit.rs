//! One rule file compiled as far as it goes on its own: parsed, templates expanded, typed,
//! selected, rewritten by the pipelines and lowered, with no predicate interned yet.
//!
//! A [`Unit`] reads only the file's text and the run's settings, never the plan being built (the
//! predicate table, the graph, other files), so files compile in parallel. The driver
//! ([`crate::Compiler`]) then joins the units in file order, which is what keeps the plan the same
//! as a one-file-at-a-time compile. This module never decides what the plan holds.

use crate::diagnostics::Pos;
use crate::lower::Lowered;
use crate::{ast, correlation, filter, lower, pipeline, templates, yaml, Options};
use sigil_engine::plan::{LogSource, RuleInfo, Silence};

/// What one file compiled to, in document order.
#[derive(Debug, Default)]
pub(crate) struct Unit {
    /// Rule documents seen, accepted or not; a file that does not parse counts as one.
    pub documents: usize,
    pub steps: Vec<Step>,
}

/// What one document of a file became.
#[derive(Debug)]
pub(crate) enum Step {
    Rule(Box<LoweredRule>),
    Filter {
        doc: Box<filter::FilterDoc>,
        lowered: Lowered,
    },
    Silence(Box<Silence>),
    Correlation(Box<correlation::Pending>),
    /// A detection rule the selection left out, kept typed: a correlation may still read it.
    LeftOut(Box<ast::DetectionRule>),
    /// A silence rule the selection left out.
    LeftOutSilence,
    Rejected {
        pos: Pos,
        message: String,
        title: Option<String>,
    },
}

/// An accepted detection rule, ready to join the plan.
#[derive(Debug)]
pub(crate) struct LoweredRule {
    pub info: RuleInfo,
    pub logsource: LogSource,
    pub lowered: Lowered,
}

/// Compiles every document of one rule file. `name` is how diagnostics and alerts refer to it.
pub(crate) fn compile(name: &str, text: &str, chain: &pipeline::Chain, options: &Options) -> Unit {
    let docs = match yaml::parse_documents(text).and_then(templates::expand) {
        Ok(docs) => docs,
        Err(e) => {
            return Unit { documents: 1, steps: vec![Step::Rejected { pos: e.pos, message: e.message, title: None }] }
        }
    };
    let mut unit = Unit { documents: docs.len(), steps: Vec::with_capacity(docs.len()) };
    for doc in &docs {
        let title = doc.get("title").and_then(|t| t.as_str()).map(str::to_string);
        let step = match ast::document(doc) {
            Ok(ast::Document::Detection(mut rule)) => {
                // Checked on the typed rule: a rule the run does not want is never lowered.
                if options.selection.admits(&rule.info) {
                    lower_rule(name, &mut rule, title, chain, options)
                } else {
                    Step::LeftOut(rule)
                }
            }
            Ok(ast::Document::Filter(mut doc)) => {
                let lowered = chain
                    .apply(&mut doc.as_rule)
                    .and_then(|()| lower::lower_detached(&doc.as_rule, &options.placeholders));
                match lowered {
                    Ok(lowered) => Step::Filter { doc, lowered },
                    Err(e) => Step::Rejected { pos: e.pos, message: e.message, title },
                }
            }
            Ok(ast::Document::Silence(mut doc)) => {
                if options.selection.admits(&doc.info) {
                    doc.info.origin = name.to_string();
                    // Pipelines rename the group-by fields as they rename the fields of rules.
                    let logsource = doc.logsource.clone();
                    doc.group_by.iter_mut().for_each(|f| *f = chain.map_field(&logsource, f));
                    Step::Silence(doc)
                } else {
                    Step::LeftOutSilence
                }
            }
            Ok(ast::Document::Correlation(mut doc)) => {
                doc.info.origin = name.to_string();
                Step::Correlation(Box::new(correlation::Pending { file: name.to_string(), doc: *doc }))
            }
            Err(e) => Step::Rejected { pos: e.pos, message: e.message, title },
        };
        unit.steps.push(step);
    }
    unit
}

/// Rewrites one typed detection rule with the pipelines and lowers it: a `Rule` or a `Rejected`.
pub(crate) fn lower_rule(
    name: &str,
    rule: &mut ast::DetectionRule,
    title: Option<String>,
    chain: &pipeline::Chain,
    options: &Options,
) -> Step {
    match chain.apply(rule).and_then(|()| lower::lower_detached(rule, &options.placeholders)) {
        Ok(lowered) => {
            let mut info = rule.info.clone();
            info.origin = name.to_string();
            // Pipelines rename the suppression's group-by fields as the rule's own.
            if let Some(suppress) = &mut info.suppress {
                let logsource = &rule.logsource;
                suppress.group_by.iter_mut().for_each(|f| *f = chain.map_field(logsource, f));
            }
            Step::Rule(Box::new(LoweredRule { info, logsource: rule.logsource.clone(), lowered }))
        }
        Err(e) => Step::Rejected { pos: e.pos, message: e.message, title },
    }
}
