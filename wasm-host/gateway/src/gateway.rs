//! The filter's decisions, independent of any proxy: rules loaded from a [`Config`], requests
//! judged, messages worded. The proxy-wasm glue ([`crate::host`]) only moves bytes.
//!
//! Routing: a request is evaluated once per configured category (by default `webserver`, then
//! `proxy`) as an event of that declared logsource, so a rule runs only on the requests its
//! `logsource` is written for, exactly as `sigil hunt --logsource category=webserver` would run
//! it, and a process-creation rule in the configuration never fires on HTTP traffic. The event
//! carries both taxonomies' field names, so each category's rules find their fields. A rule
//! admitted by several categories is reported once.

use crate::config::{Config, Mode, RuleSource};
use sigil_compiler::{Compiler, Options};
use sigil_engine::plan::{LogSource, RuleInfo};
use sigil_engine::{Detection, Engine, Json, Plan, Routing, Scratch};
use std::cell::RefCell;
use std::fmt::Write as _;

/// The file name rule diagnostics carry: lines and columns count from the start of `rules`.
pub const RULES_NAME: &str = "rules";

/// Loaded rules and the evaluation state reused from request to request.
#[derive(Debug)]
pub struct Gateway {
    engine: Engine,
    mode: Mode,
    routings: Vec<Routing>,
    state: RefCell<State>,
}

/// One [`Scratch`] per routing (each keeps its route at hand), and the detections buffer.
#[derive(Debug, Default)]
struct State {
    scratches: Vec<Scratch>,
    detections: Vec<Detection>,
}

/// What loading the configuration said besides its verdict (for the proxy's log).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub warnings: Vec<String>,
    /// One line: how many rules run, in which mode.
    pub summary: String,
}

impl Gateway {
    /// Compiles (or unpacks) the rules and prepares the engine. On error, every line to log:
    /// one per rejected rule (`rules:LINE:COL: message`), or the one reason.
    pub fn new(config: Config) -> Result<(Gateway, Report), Vec<String>> {
        let plan = match config.rules {
            RuleSource::Yaml(text) => compile(&text)?,
            RuleSource::Pack(bytes) => sigil_engine::pack::from_bytes(&bytes)
                .map_err(|e| vec![format!("\"pack_base64\" could not be loaded: {e}")])?,
        };
        let engine = Engine::new(plan).map_err(|e| vec![format!("the rules could not be prepared: {e}")])?;
        let routings: Vec<Routing> =
            config.categories.iter().map(|c| Routing::Declared(LogSource::new(None, Some(c.as_str()), None))).collect();

        let mut report = Report::default();
        let plan = engine.plan();
        if !plan.correlations.is_empty() {
            report.warnings.push(format!(
                "{} correlation rule(s) ignored: the gateway judges each request on its own",
                plan.correlations.len()
            ));
        }
        let mut running = 0usize;
        for rule in &plan.rules {
            let admitted = routings.iter().any(|r| matches!(r, Routing::Declared(ls) if ls.admits(&rule.logsource)));
            if !admitted {
                report.warnings.push(format!(
                    "rule \"{}\" ({}) never runs: its logsource ({}) is not one of the categories {}",
                    rule.info.title,
                    rule.info.id,
                    describe(&rule.logsource),
                    config.categories.join(", ")
                ));
            } else if !rule.alert {
                report.warnings.push(format!(
                    "rule \"{}\" ({}) never reports: a correlation uses it and says `generate: false`",
                    rule.info.title, rule.info.id
                ));
            } else {
                running += 1;
            }
        }
        if running == 0 {
            let mut lines = report.warnings;
            lines.push(format!(
                "none of the {} rule(s) can fire on HTTP requests of the categories {}: add rules with \
                 `logsource: category: webserver` or `category: proxy`",
                plan.rules.len(),
                config.categories.join(", ")
            ));
            return Err(lines);
        }
        report.summary = format!(
            "sigil: {running} rule(s) of {} loaded in {} mode, for categories {}",
            plan.rules.len(),
            match config.mode {
                Mode::Block => "block",
                Mode::Tag => "tag",
                Mode::Log => "log",
            },
            config.categories.join(", ")
        );
        let state = State { scratches: routings.iter().map(|_| Scratch::default()).collect(), detections: Vec::new() };
        let gateway = Gateway { engine, mode: config.mode, routings, state: RefCell::new(state) };
        gateway.warm_up();
        Ok((gateway, report))
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The rule `index` (as [`Gateway::evaluate`] reports it) describes.
    pub fn rule(&self, index: usize) -> Option<&RuleInfo> {
        self.engine.rules().get(index).map(|r| &r.info)
    }

    /// Appends to `matched` the rules (indices for [`Gateway::rule`]) that fire on `event`, each
    /// once, in rule order per category. Allocates nothing unless a rule fires.
    pub fn evaluate(&self, event: &Json<'_>, matched: &mut Vec<usize>) {
        // The host is single-threaded and never re-enters a filter, so the borrow always
        // succeeds; if it did not, a fresh state gives the same answer, only slower.
        let mut fresh;
        let mut borrowed = self.state.try_borrow_mut();
        let state: &mut State = match borrowed.as_deref_mut() {
            Ok(state) => state,
            Err(_) => {
                fresh = State {
                    scratches: self.routings.iter().map(|_| Scratch::default()).collect(),
                    detections: Vec::new(),
                };
                &mut fresh
            }
        };
        let State { scratches, detections } = state;
        for (routing, scratch) in self.routings.iter().zip(scratches.iter_mut()) {
            detections.clear();
            self.engine.evaluate_with(scratch, event, routing, detections);
            for d in detections.drain(..) {
                let alerts = self.engine.rules().get(d.rule).is_some_and(|r| r.alert);
                if alerts && !matched.contains(&d.rule) {
                    matched.push(d.rule);
                }
            }
        }
    }

    /// Builds the routes and the automata of the request fields now, so that the first
    /// request does not pay for them.
    fn warm_up(&self) {
        let request = crate::event::Request {
            method: Some("GET"),
            path: Some("/sigil/warm-up?x=1"),
            authority: Some("localhost"),
            user_agent: Some("sigil"),
            referer: Some("-"),
            cookie: Some("-"),
            content_type: Some("text/plain"),
            forwarded_for: None,
            source_address: Some("127.0.0.1:1"),
        };
        let mut ignored = Vec::new();
        self.evaluate(&crate::event::event(&request), &mut ignored);
    }

    /// The log line of one match: `sigil: rule "<title>" (<id>) matched <method> <path>`.
    pub fn match_line(&self, rule: usize, method: &str, path: &str) -> String {
        let (title, id) = self.rule(rule).map_or(("?", "?"), |r| (r.title.as_str(), r.id.as_str()));
        format!("sigil: rule \"{title}\" ({id}) matched {method} {path}")
    }

    /// The body of a 403: one line per rule.
    pub fn block_body(&self, matched: &[usize]) -> String {
        let mut body = String::from("Request blocked by Sigil.\n");
        for &rule in matched {
            if let Some(r) = self.rule(rule) {
                let _ = writeln!(body, "rule \"{}\" ({})", r.title, r.id);
            }
        }
        body
    }

    /// A rule's title as a header value: visible ASCII and spaces, anything else as `?`.
    pub fn header_title(&self, rule: usize) -> String {
        let title = self.rule(rule).map_or("?", |r| r.title.as_str());
        title.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect()
    }
}

fn compile(text: &str) -> Result<Plan, Vec<String>> {
    let mut compiler = Compiler::new(Options::default());
    compiler.add_file(RULES_NAME, text);
    let output = compiler.finish();
    if !output.diagnostics.is_empty() {
        return Err(output
            .diagnostics
            .iter()
            .map(|d| match &d.rule {
                Some(title) => format!("{d} (rule \"{title}\")"),
                None => d.to_string(),
            })
            .collect());
    }
    if output.plan.rules.is_empty() {
        return Err(vec![format!(
            "\"rules\" holds no detection rule ({} document(s) read): give Sigma rules as YAML documents \
             separated by `---`",
            output.rules_seen
        )]);
    }
    Ok(output.plan)
}

fn describe(ls: &LogSource) -> String {
    let parts: Vec<String> = [("product", &ls.product), ("category", &ls.category), ("service", &ls.service)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{event, Request};

    const TRAVERSAL: &str = "title: Traversal
id: 7745c2ea-24a5-4290-b680-04359cb84b35
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: '../../../etc/'
    condition: selection
";

    const TOOL_UA: &str = "title: Tool UA
id: c42a3073-30fb-48ae-8c99-c23ada84b103
logsource:
    category: proxy
detection:
    selection:
        c-useragent|contains: 'dirbuster'
    condition: selection
";

    const ANY: &str = "title: Canary anywhere
id: 00000000-0000-4000-8000-000000000001
logsource:
    product: gateway-test
detection:
    keywords:
        - 'canary-0001'
    condition: keywords
";

    const PROCESS: &str = "title: Process
id: 00000000-0000-4000-8000-000000000002
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\cmd.exe'
    condition: selection
";

    fn gateway(rules: &str) -> Result<(Gateway, Report), Vec<String>> {
        Gateway::new(Config {
            mode: Mode::Block,
            rules: RuleSource::Yaml(rules.into()),
            categories: vec!["webserver".into(), "proxy".into()],
        })
    }

    fn judge(g: &Gateway, request: Request<'_>) -> Vec<String> {
        let mut matched = Vec::new();
        g.evaluate(&event(&request), &mut matched);
        matched.iter().map(|&r| g.rule(r).unwrap().title.clone()).collect()
    }

    #[test]
    fn rules_of_both_categories_fire_each_on_its_fields() {
        let (g, report) = gateway(&format!("{TRAVERSAL}---\n{TOOL_UA}---\n{PROCESS}")).unwrap();
        assert_eq!(report.summary, "sigil: 2 rule(s) of 3 loaded in block mode, for categories webserver, proxy");
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].contains("rule \"Process\""), "{:?}", report.warnings);
        let get = |path, ua| Request { method: Some("GET"), path: Some(path), user_agent: ua, ..Request::default() };
        assert_eq!(judge(&g, get("/index.html", Some("curl/8"))), Vec::<String>::new());
        assert_eq!(judge(&g, get("/f?p=../../../etc/passwd", None)), ["Traversal"]);
        assert_eq!(judge(&g, get("/", Some("DirBuster-1.0-RC1"))), ["Tool UA"]);
        assert_eq!(judge(&g, get("/x?../../../etc/", Some("dirbuster"))), ["Traversal", "Tool UA"]);
        // Again, with the scratch state reused.
        assert_eq!(judge(&g, get("/index.html", Some("curl/8"))), Vec::<String>::new());
    }

    #[test]
    fn a_rule_both_categories_admit_is_reported_once() {
        let any = ANY.replace("product: gateway-test", "definition: any HTTP log");
        let (g, report) = gateway(&any).unwrap();
        assert_eq!(report.warnings, Vec::<String>::new());
        let request = Request { method: Some("GET"), path: Some("/canary-0001"), ..Request::default() };
        assert_eq!(judge(&g, request), ["Canary anywhere"]);
        let (_, report) = gateway(&format!("{ANY}---\n{TRAVERSAL}")).unwrap();
        assert!(report.warnings[0].contains("its logsource (product: gateway-test)"), "{:?}", report.warnings);
    }

    #[test]
    fn bad_rules_name_file_line_and_column() {
        let bad = TRAVERSAL.replace("cs-uri-query|contains", "cs-uri-query|contans");
        let errors = gateway(&format!("{TOOL_UA}---\n{bad}")).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("rules:16:22: unknown modifier"), "{errors:?}");
        assert!(errors[0].ends_with("(rule \"Traversal\")"), "{errors:?}");
        assert!(gateway("").is_err());
        let only_process = gateway(PROCESS).unwrap_err();
        assert!(only_process.last().unwrap().contains("none of the 1 rule(s) can fire"), "{only_process:?}");
    }

    #[test]
    fn packs_load_and_bad_packs_are_refused() {
        let plan = compile(TRAVERSAL).unwrap();
        let bytes = sigil_engine::pack::to_bytes(&plan);
        let config = Config { mode: Mode::Tag, rules: RuleSource::Pack(bytes), categories: vec!["webserver".into()] };
        let (g, _) = Gateway::new(config).unwrap();
        assert_eq!(g.mode(), Mode::Tag);
        let request = Request { path: Some("/?../../../etc/"), ..Request::default() };
        assert_eq!(judge(&g, request), ["Traversal"]);
        let config = Config { mode: Mode::Tag, rules: RuleSource::Pack(b"nope".to_vec()), categories: vec![] };
        assert!(Gateway::new(config).unwrap_err()[0].contains("not a Sigil compiled pack"));
    }

    #[test]
    fn messages() {
        let (g, _) = gateway(&TRAVERSAL.replace("title: Traversal", "title: \"Trav\\u00e9rsal\\r\\nx\"")).unwrap();
        assert_eq!(g.header_title(0), "Trav?rsal??x");
        assert_eq!(g.header_title(7), "?");
        assert_eq!(
            g.match_line(0, "GET", "/a?b"),
            "sigil: rule \"Trav\u{e9}rsal\r\nx\" (7745c2ea-24a5-4290-b680-04359cb84b35) matched GET /a?b"
        );
        assert!(g.block_body(&[0]).contains("7745c2ea-24a5-4290-b680-04359cb84b35"));
    }
}
