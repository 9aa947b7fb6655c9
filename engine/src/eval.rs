//! Evaluation: which rules of a plan fire on one event.
//!
//! Per event: route it (which rules its source admits), scan the route's indexed fields once
//! (Aho-Corasick over literal needles, a hash lookup for numbers) to find candidate rules, then
//! walk only the candidates' expressions, computing every other predicate lazily and at most
//! once. The per-event state lives in a caller-owned [`Scratch`], so the hot path allocates
//! nothing and one [`Engine`] serves many threads.

use crate::event;
use crate::index::{Route, Shared, Verdict};
use crate::json::Json;
use crate::matcher::{Matcher, PrepareError};
use crate::plan::{CompiledRule, LogSource, Node, Plan, Target, PLAN_FORMAT_VERSION};
use crate::route::{self, Source};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A plan with its matchers prepared. Shareable across threads.
#[derive(Debug)]
pub struct Engine {
    /// Unique in the process: a scratch knows which engine it last served.
    id: u64,
    plan: Plan,
    matchers: Vec<Matcher>,
    /// Built with the first route: preparing it is most of what loading a large pack costs.
    shared: std::sync::OnceLock<Shared>,
    routes: RwLock<HashMap<Source, Arc<Route>>>,
}

/// Which rules an event is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Every rule sees every event.
    All,
    /// The caller declares the source of every event (`--logsource`).
    Declared(LogSource),
    /// The source is recognised per event (Windows channels, CloudTrail, ...); events of
    /// unrecognised sources see every rule.
    Auto,
}

impl std::str::FromStr for Routing {
    type Err = String;

    /// `auto`, `all`, or a declared logsource: `product=aws,service=cloudtrail`.
    fn from_str(text: &str) -> Result<Routing, String> {
        Ok(match text.trim() {
            "auto" => Routing::Auto,
            "all" => Routing::All,
            declared => {
                let mut ls = LogSource::default();
                for part in declared.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (key, value) = part.split_once('=').ok_or_else(|| {
                        format!("a logsource is KEY=VALUE pairs separated by commas (or auto, all), got '{part}'")
                    })?;
                    let value = Some(value.trim().to_ascii_lowercase());
                    match key.trim() {
                        "product" => ls.product = value,
                        "category" => ls.category = value,
                        "service" => ls.service = value,
                        other => return Err(format!("a logsource has product, category and service, not '{other}'")),
                    }
                }
                Routing::Declared(ls)
            }
        })
    }
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
    /// An index of the plan points nowhere (a damaged or hand-made pack).
    Damaged(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Version { found, expected } => write!(
                f,
                "compiled plan has format version {found}, this Sigil reads version {expected}: recompile the rules with this version"
            ),
            EngineError::Predicate { index, reason } => write!(f, "predicate {index} of the plan is invalid: {reason}"),
            EngineError::Damaged(reason) => write!(f, "the plan is damaged ({reason}): compile the rules again"),
        }
    }
}

impl std::error::Error for EngineError {}

/// Per-thread evaluation state, reused from event to event.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The engine whose routes and predicate states this holds (0: none yet).
    engine: u64,
    generation: u32,
    /// Per predicate: the generation its state belongs to, and the state.
    pred_generation: Vec<u32>,
    pred_state: Vec<PredState>,
    /// Per graph node, likewise: a node shared by many rules is evaluated once per event.
    node_generation: Vec<u32>,
    node_state: Vec<PredState>,
    rule_generation: Vec<u32>,
    candidates: Vec<u32>,
    /// The matched predicates of the detection being written.
    matched: Vec<u32>,
    /// Looked up once per event: Fx, not SipHash (the keys are ours, not an attacker's).
    routes: FxHashMap<Source, Arc<Route>>,
    /// The route of the last declared (or `all`) routing, which does not depend on the event.
    fixed_route: Option<(Routing, Arc<Route>)>,
    /// What long values seen before marked.
    values: crate::index::memo::ValueMemo,
}

impl Scratch {
    fn next_event(&mut self, predicates: usize, nodes: usize, rules: usize) {
        if self.pred_generation.len() != predicates
            || self.node_generation.len() != nodes
            || self.rule_generation.len() != rules
        {
            self.pred_generation = vec![0; predicates];
            self.pred_state = vec![PredState::False; predicates];
            self.node_generation = vec![0; nodes];
            self.node_state = vec![PredState::False; nodes];
            self.rule_generation = vec![0; rules];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.pred_generation.iter_mut().for_each(|g| *g = 0);
            self.node_generation.iter_mut().for_each(|g| *g = 0);
            self.rule_generation.iter_mut().for_each(|g| *g = 0);
            self.generation = 1;
        }
        self.candidates.clear();
    }
}

impl Engine {
    pub fn new(plan: Plan) -> Result<Engine, EngineError> {
        if plan.format_version != PLAN_FORMAT_VERSION {
            return Err(EngineError::Version { found: plan.format_version, expected: PLAN_FORMAT_VERSION });
        }
        plan.check().map_err(EngineError::Damaged)?;
        let matchers = plan
            .predicates
            .iter()
            .enumerate()
            .map(|(index, p)| {
                Matcher::prepare(&p.test).map_err(|PrepareError(reason)| EngineError::Predicate { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Engine {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            plan,
            matchers,
            shared: std::sync::OnceLock::new(),
            routes: RwLock::new(HashMap::new()),
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.plan.rules
    }

    /// The rules that fire on `event`. A convenience over [`Engine::evaluate_with`].
    pub fn evaluate(&self, event: &Json<'_>, routing: &Routing) -> Vec<Detection> {
        let mut out = Vec::new();
        self.evaluate_with(&mut Scratch::default(), event, routing, &mut out);
        out
    }

    /// Appends the rules that fire on `event` to `out`, in rule order.
    pub fn evaluate_with(&self, scratch: &mut Scratch, event: &Json<'_>, routing: &Routing, out: &mut Vec<Detection>) {
        self.evaluate_with_text(scratch, event, None, routing, out);
    }

    /// [`Engine::evaluate_with`] for an event parsed from `text` (all of it, and nothing else):
    /// the same detections, found faster, because a keyword search rules itself out with one
    /// pass over the text instead of one per string of the event.
    pub fn evaluate_text(
        &self,
        scratch: &mut Scratch,
        event: &Json<'_>,
        text: &str,
        routing: &Routing,
        out: &mut Vec<Detection>,
    ) {
        self.evaluate_with_text(scratch, event, Some(text), routing, out);
    }

    /// [`Engine::evaluate_text`] when the caller has the event's text, [`Engine::evaluate_with`]
    /// when it has not (the event was one of many in its text, or a lookup joined a row onto
    /// it): for callers that learn which per event.
    pub fn evaluate_with_text(
        &self,
        scratch: &mut Scratch,
        event: &Json<'_>,
        text: Option<&str>,
        routing: &Routing,
        out: &mut Vec<Detection>,
    ) {
        if scratch.engine != self.id {
            // A scratch that served another engine holds that engine's routes and states.
            *scratch = Scratch { engine: self.id, values: std::mem::take(&mut scratch.values), ..Scratch::default() };
        }
        // The route is taken out of the scratch for the event and put back after it: moving the
        // `Arc` costs nothing, where cloning and dropping it touched a count that every thread
        // shares, on every event.
        match routing {
            Routing::Auto => {
                let source = route::recognize(event);
                let route = match scratch.routes.remove(&source) {
                    Some(route) => route,
                    None => self.route(&source),
                };
                self.evaluate_on(scratch, &route, event, text, out);
                scratch.routes.insert(source, route);
            }
            // The same route for every event: kept at hand rather than looked up by a key.
            fixed => {
                let (kept, route) = match scratch.fixed_route.take() {
                    Some((kept, route)) if kept == *fixed => (kept, route),
                    _ => {
                        let source = match fixed {
                            Routing::Declared(ls) => Source::Declared(ls.clone()),
                            _ => Source::Unknown,
                        };
                        (fixed.clone(), self.route(&source))
                    }
                };
                self.evaluate_on(scratch, &route, event, text, out);
                scratch.fixed_route = Some((kept, route));
            }
        }
    }

    fn evaluate_on(
        &self,
        scratch: &mut Scratch,
        route: &Route,
        event: &Json<'_>,
        text: Option<&str>,
        out: &mut Vec<Detection>,
    ) {
        scratch.next_event(self.matchers.len(), self.plan.nodes.len(), self.plan.rules.len());
        let generation = scratch.generation;
        {
            let Scratch { pred_generation, pred_state, rule_generation, candidates, values, .. } = scratch;
            route.scan(
                event,
                text,
                &self.matchers,
                values,
                |p, verdict| {
                    let p = p as usize;
                    let known_true = pred_generation[p] == generation && pred_state[p] == PredState::True;
                    pred_generation[p] = generation;
                    pred_state[p] = match verdict {
                        Verdict::Holds => PredState::True,
                        Verdict::Verify if known_true => PredState::True,
                        Verdict::Verify => PredState::Unknown,
                    };
                },
                |r| {
                    if rule_generation[r as usize] != generation {
                        rule_generation[r as usize] = generation;
                        candidates.push(r);
                    }
                },
            );
        }
        let mut candidates = std::mem::take(&mut scratch.candidates);
        candidates.sort_unstable();
        let mut memo = Memo { engine: self, route, event, scratch };
        for &r in &candidates {
            let rule = &self.plan.rules[r as usize];
            if memo.eval(rule.root) {
                // Gathered in a reused buffer, then copied once: the detection's list is the
                // only allocation an event makes in steady state (tests/allocation.rs).
                let mut matched = std::mem::take(&mut memo.scratch.matched);
                matched.clear();
                memo.collect_matched(rule.root, true, &mut matched);
                matched.sort_unstable();
                matched.dedup();
                out.push(Detection { rule: r as usize, matched_predicates: matched.to_vec() });
                memo.scratch.matched = matched;
            }
        }
        scratch.candidates = candidates;
    }

    /// The route of `source`, from the engine's routes or built (once per engine).
    fn route(&self, source: &Source) -> Arc<Route> {
        let shared = self.routes.read().expect("route cache").get(source).cloned();
        shared.unwrap_or_else(|| {
            let shared = self.shared.get_or_init(|| Shared::new(&self.plan, &self.matchers));
            let built = Arc::new(Route::build(&self.plan, shared, source));
            self.routes.write().expect("route cache").entry(source.clone()).or_insert(built).clone()
        })
    }

    /// For alert output: the field name of a predicate and the value it saw in `event`.
    pub fn matched_field<'a, 'e>(&self, event: &'a Json<'e>, predicate: u32) -> Option<(&str, &'a Json<'e>)> {
        match &self.plan.predicates[predicate as usize].target {
            Target::Field(name) => event::lookup(event, name).first().map(|v| (name.as_str(), v)),
            Target::Keywords => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PredState {
    False,
    True,
    /// The scan found a needle the predicate needs; its full test has not run yet.
    Unknown,
}

struct Memo<'e, 'j> {
    engine: &'e Engine,
    route: &'e Route,
    event: &'e Json<'j>,
    scratch: &'e mut Scratch,
}

impl Memo<'_, '_> {
    fn eval(&mut self, node: u32) -> bool {
        let idx = node as usize;
        if self.scratch.node_generation[idx] == self.scratch.generation {
            return self.scratch.node_state[idx] == PredState::True;
        }
        let nodes = &self.engine.plan.nodes;
        let result = match &nodes[idx] {
            Node::Const(b) => *b,
            Node::Pred(p) => self.pred(*p),
            Node::Not(inner) => !self.eval(*inner),
            Node::And(items) => items.iter().all(|n| self.eval(*n)),
            Node::Or(items) => items.iter().any(|n| self.eval(*n)),
        };
        self.scratch.node_generation[idx] = self.scratch.generation;
        self.scratch.node_state[idx] = if result { PredState::True } else { PredState::False };
        result
    }

    fn pred(&mut self, i: u32) -> bool {
        let idx = i as usize;
        let marked = self.scratch.pred_generation[idx] == self.scratch.generation;
        if marked && self.scratch.pred_state[idx] != PredState::Unknown {
            return self.scratch.pred_state[idx] == PredState::True;
        }
        // An indexed predicate the scan did not mark does not hold; one it marked "maybe" is
        // decided by its full test.
        let result = (marked || !self.route.is_indexed(i)) && self.compute(idx);
        self.scratch.pred_generation[idx] = self.scratch.generation;
        self.scratch.pred_state[idx] = if result { PredState::True } else { PredState::False };
        result
    }

    fn compute(&self, idx: usize) -> bool {
        let matcher = &self.engine.matchers[idx];
        match &self.engine.plan.predicates[idx].target {
            Target::Field(name) => matcher.test_field(self.event, &event::lookup(self.event, name)),
            Target::Keywords => matcher.test_keywords(self.event),
        }
    }

    fn collect_matched(&self, node: u32, positive: bool, out: &mut Vec<u32>) {
        match &self.engine.plan.nodes[node as usize] {
            Node::Const(_) => {}
            Node::Pred(i) => {
                let idx = *i as usize;
                if positive
                    && self.scratch.pred_generation[idx] == self.scratch.generation
                    && self.scratch.pred_state[idx] == PredState::True
                {
                    out.push(*i);
                }
            }
            Node::Not(inner) => self.collect_matched(*inner, !positive, out),
            Node::And(items) | Node::Or(items) => {
                for n in items {
                    self.collect_matched(*n, positive, out);
                }
            }
        }
    }
}
