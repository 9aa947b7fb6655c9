//! Evaluation: which rules of a plan fire on one event.
//!
//! Each predicate is evaluated at most once per event (rules share predicates), lazily, and
//! only for rules whose logsource admits the event. This module owns the boolean walk; it
//! never looks inside values (that is [`crate::matcher`]).

use crate::event;
use crate::matcher::{Matcher, PrepareError};
use crate::plan::{CompiledRule, Expr, LogSource, Plan, Target, PLAN_FORMAT_VERSION};
use serde_json::Value;

/// A plan with its matchers prepared. Immutable, so one engine serves many threads.
#[derive(Debug)]
pub struct Engine {
    plan: Plan,
    matchers: Vec<Matcher>,
}

/// One rule that fired on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Index of the rule in [`Engine::rules`].
    pub rule: usize,
    /// The field predicates that held and counted towards the match (not those under a `not`).
    pub matched_predicates: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    /// The plan was written by another version of Sigil.
    Version { found: u32, expected: u32 },
    /// A predicate could not be prepared.
    Predicate { index: usize, reason: String },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Version { found, expected } => write!(
                f,
                "compiled plan has format version {found}, this Sigil reads version {expected}: recompile the rules with this version"
            ),
            EngineError::Predicate { index, reason } => {
                write!(f, "predicate {index} of the plan is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for EngineError {}

impl Engine {
    pub fn new(plan: Plan) -> Result<Engine, EngineError> {
        if plan.format_version != PLAN_FORMAT_VERSION {
            return Err(EngineError::Version { found: plan.format_version, expected: PLAN_FORMAT_VERSION });
        }
        let matchers = plan
            .predicates
            .iter()
            .enumerate()
            .map(|(index, p)| {
                Matcher::prepare(&p.test).map_err(|PrepareError(reason)| EngineError::Predicate { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Engine { plan, matchers })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.plan.rules
    }

    /// The rules that fire on `event`. With a declared `source`, only the rules whose logsource
    /// it admits are evaluated; without one, every rule is.
    pub fn evaluate(&self, event: &Value, source: Option<&LogSource>) -> Vec<Detection> {
        let mut memo = Memo { engine: self, event, state: vec![State::Unknown; self.matchers.len()] };
        let mut out = Vec::new();
        for (index, rule) in self.plan.rules.iter().enumerate() {
            if source.is_some_and(|s| !s.admits(&rule.logsource)) {
                continue;
            }
            if memo.eval(&rule.condition) {
                let mut matched = Vec::new();
                memo.collect_matched(&rule.condition, true, &mut matched);
                matched.sort_unstable();
                matched.dedup();
                out.push(Detection { rule: index, matched_predicates: matched });
            }
        }
        out
    }

    /// For alert output: the field name of a predicate and the value it saw in `event`.
    pub fn matched_field<'a>(&self, event: &'a Value, predicate: u32) -> Option<(&str, &'a Value)> {
        match &self.plan.predicates[predicate as usize].target {
            Target::Field(name) => event::lookup(event, name).first().map(|v| (name.as_str(), v)),
            Target::Keywords => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Unknown,
    False,
    True,
}

struct Memo<'e> {
    engine: &'e Engine,
    event: &'e Value,
    state: Vec<State>,
}

impl Memo<'_> {
    fn eval(&mut self, expr: &Expr) -> bool {
        match expr {
            Expr::Const(b) => *b,
            Expr::Pred(i) => self.pred(*i),
            Expr::Not(inner) => !self.eval(inner),
            Expr::And(items) => items.iter().all(|e| self.eval(e)),
            Expr::Or(items) => items.iter().any(|e| self.eval(e)),
        }
    }

    fn pred(&mut self, i: u32) -> bool {
        let idx = i as usize;
        match self.state[idx] {
            State::True => return true,
            State::False => return false,
            State::Unknown => {}
        }
        let matcher = &self.engine.matchers[idx];
        let result = match &self.engine.plan.predicates[idx].target {
            Target::Field(name) => matcher.test_field(self.event, &event::lookup(self.event, name)),
            Target::Keywords => matcher.test_keywords(self.event),
        };
        self.state[idx] = if result { State::True } else { State::False };
        result
    }

    fn collect_matched(&self, expr: &Expr, positive: bool, out: &mut Vec<u32>) {
        match expr {
            Expr::Const(_) => {}
            Expr::Pred(i) => {
                if positive && self.state[*i as usize] == State::True {
                    out.push(*i);
                }
            }
            Expr::Not(inner) => self.collect_matched(inner, !positive, out),
            Expr::And(items) | Expr::Or(items) => {
                for e in items {
                    self.collect_matched(e, positive, out);
                }
            }
        }
    }
}
