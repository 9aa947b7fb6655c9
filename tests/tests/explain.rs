//! Explanations (`sigil_engine::explain` over `sigil_compiler::outline`) agree with the engine:
//! for every test event of the rule pack and every case of the data suites (conformance,
//! pipelines, correlations' detection rules and filters), and for every detection rule compiled
//! from it, the explanation's root value is whether the engine fires the rule (routing `all`, with
//! and without the event's text). Then hand-written rules check what the explanation shows.

use serde_json::{json, Value};
use sigil_compiler::outline;
use sigil_compiler::yaml::{Kind, Node};
use sigil_compiler::{Options, Placeholders};
use sigil_engine::explain::{explain, Explanation, ItemResult, NodeResult};
use sigil_engine::{Engine, Json, Routing, Scratch};
use sigil_tests::{files_under, list_of, repo_root, str_of, yaml_file};

/// Compares explanation and engine for every rule of `text` on every event; returns how many
/// (rule, event) pairs were compared, or what disagreed.
fn agreement(name: &str, text: &str, options: &Options, events: &[Value]) -> Result<usize, String> {
    let out = sigil_compiler::compile_str(name, text, options);
    let outlines = outline::file(name, text, options);
    let ids = |v: Vec<(&str, &str)>| v.into_iter().map(|(a, b)| format!("{a}|{b}")).collect::<Vec<_>>();
    let plan_ids = ids(out.plan.rules.iter().map(|r| (r.info.id.as_str(), r.info.title.as_str())).collect());
    let outline_ids = ids(outlines.iter().map(|o| (o.info.id.as_str(), o.info.title.as_str())).collect());
    if plan_ids != outline_ids {
        return Err(format!("{name}: the outlines ({outline_ids:?}) are not the plan's rules ({plan_ids:?})"));
    }
    if out.plan.rules.is_empty() {
        return Ok(0);
    }
    let engine = Engine::new(out.plan).map_err(|e| format!("{name}: {e}"))?;
    let mut compared = 0;
    for event in events {
        let event_text = serde_json::to_string(event).unwrap();
        let document = sigil_engine::layout::flatten(Json::parse(&event_text).unwrap());
        let by_document: Vec<usize> = engine.evaluate(&document, &Routing::All).into_iter().map(|d| d.rule).collect();
        let mut by_text = Vec::new();
        engine.evaluate_text(&mut Scratch::default(), &document, &event_text, &Routing::All, &mut by_text);
        let by_text: Vec<usize> = by_text.into_iter().map(|d| d.rule).collect();
        for (i, rule) in outlines.iter().enumerate() {
            let explained = explain(&rule.outline, &document).map_err(|e| format!("{name}: {}", e.0))?;
            let fired = by_document.contains(&i);
            if explained.matched != fired || by_text.contains(&i) != fired {
                return Err(format!(
                    "{name}: rule '{}' on {event_text}: explained {}, engine {fired} (with the text: {})",
                    rule.info.title,
                    explained.matched,
                    by_text.contains(&i)
                ));
            }
            compared += 1;
        }
    }
    Ok(compared)
}

#[test]
fn explanations_agree_with_the_engine_on_every_rule_pack_test_event() {
    let dir = repo_root().join("sigma-rules/rules");
    let (mut compared, mut matched_cases, mut failures) = (0, 0, Vec::new());
    for file in files_under(&dir, &["yml"]).iter().filter(|p| !p.to_string_lossy().ends_with(".tests.yml")) {
        let text = std::fs::read_to_string(file).unwrap();
        let sidecar = file.with_file_name(format!("{}.tests.yml", file.file_stem().unwrap().to_string_lossy()));
        let Ok(cases) = std::fs::read_to_string(&sidecar) else { continue };
        let cases = sigil_compiler::yaml::parse_documents(&cases).unwrap().remove(0);
        let mut events = Vec::new();
        for key in ["match", "no_match"] {
            // A case that is a list is a sequence of events for a correlation: skipped here.
            let singles = list_of(&cases, key).iter().filter(|c| matches!(c.kind, Kind::Map(_)));
            let singles: Vec<Value> = singles.map(Node::to_json).collect();
            if key == "match" {
                matched_cases += singles.len();
            }
            events.extend(singles);
        }
        match agreement(&file.display().to_string(), &text, &Options::default(), &events) {
            Ok(n) => compared += n,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(matched_cases > 100, "only {matched_cases} single-event match cases found under {}", dir.display());
    println!("rule pack: {compared} (rule, event) pairs agree");
}

#[test]
fn explanations_agree_with_the_engine_on_the_data_suites() {
    let root = repo_root().join("tests");
    let (mut compared, mut failures) = (0, Vec::new());
    for suite in ["conformance", "pipelines", "correlations"] {
        for file in files_under(&root.join(suite), &["yml"]) {
            for case in list_of(&yaml_file(&file), "cases") {
                let name = format!("{suite}/{}", str_of(case, "name").unwrap_or("?"));
                let text = match (str_of(case, "rule").or(str_of(case, "rules")), str_of(case, "detection")) {
                    (Some(r), _) => r.to_string(),
                    (None, Some(d)) => wrap_detection(d),
                    _ => continue,
                };
                let Some(options) = options_of(case) else { continue };
                let events: Vec<Value> = str_of(case, "events")
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(Value::is_object)
                    .collect();
                match agreement(&name, &text, &options, &events) {
                    Ok(n) => compared += n,
                    Err(e) => failures.push(e),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 500, "only {compared} (rule, event) pairs compared");
    println!("data suites: {compared} (rule, event) pairs agree");
}

fn wrap_detection(detection: &str) -> String {
    let body: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    format!("title: case\nlogsource:\n  product: test\ndetection:\n{body}")
}

/// The case's placeholders and pipelines (`None` when its pipeline is meant to be rejected).
fn options_of(case: &Node) -> Option<Options> {
    let mut placeholders = Placeholders::new();
    if let Some(Node { kind: Kind::Map(entries), .. }) = case.get("placeholders") {
        for (k, v) in entries {
            let values = match &v.kind {
                Kind::Seq(items) => items.iter().filter_map(|i| i.scalar_text()).collect(),
                _ => vec![v.scalar_text().unwrap_or_default()],
            };
            placeholders.insert(k.scalar_text().unwrap(), values);
        }
    }
    let mut texts: Vec<&str> = list_of(case, "pipelines").iter().filter_map(|n| n.as_str()).collect();
    texts.extend(str_of(case, "pipeline"));
    let mut pipelines = Vec::new();
    for text in texts {
        pipelines.push(sigil_compiler::parse_pipeline("case pipeline", text).ok()?);
    }
    for b in list_of(case, "builtins").iter().filter_map(|b| b.as_str()) {
        pipelines.push(sigil_compiler::builtin_pipeline(b)?);
    }
    Some(Options { placeholders, pipelines, ..Options::default() })
}

/// The explanation of the only rule of `detection` (a rule's detection block) on `event`, checked
/// against the engine.
fn explained(detection: &str, event: Value) -> Explanation {
    let text = wrap_detection(detection);
    let outlines = outline::file("r.yml", &text, &Options::default());
    assert_eq!(outlines.len(), 1, "{text}");
    let document = Json::from_value(&event);
    let e = explain(&outlines[0].outline, &document).unwrap();
    assert_eq!(agreement("r.yml", &text, &Options::default(), &[event]), Ok(1));
    e
}

fn child<'a>(node: &'a NodeResult, text: &str) -> &'a NodeResult {
    node.children.iter().find(|c| c.text == text).unwrap_or_else(|| panic!("no child '{text}' in {node:?}"))
}

fn item<'a>(e: &'a Explanation, selection: &str, index: usize) -> &'a ItemResult {
    &e.selections.iter().find(|s| s.name == selection).unwrap().items[index]
}

#[test]
fn one_of_a_pattern_shows_each_identifier_it_takes() {
    let d =
        "sel_cmd: {cmd|contains: whoami}\nsel_img: {img|endswith: '\\net.exe'}\nother: {x: 1}\ncondition: 1 of sel*";
    let e = explained(d, json!({"cmd": "c:\\whoami /all", "img": "c:\\cmd.exe"}));
    assert_eq!((e.condition.op, e.condition.text.as_str(), e.matched), ("one_of", "1 of sel*", true));
    let names: Vec<(&str, bool)> = e.condition.children.iter().map(|c| (c.text.as_str(), c.value)).collect();
    assert_eq!(names, vec![("sel_cmd", true), ("sel_img", false)]);
    let hit = item(&e, "sel_cmd", 0);
    assert_eq!(hit.event_value.as_deref(), Some("c:\\whoami /all"));
    assert_eq!((hit.field.as_deref(), hit.modifiers.as_slice()), (Some("cmd"), &["contains".to_string()][..]));
}

#[test]
fn all_of_them_skips_underscore_names_and_not_inverts() {
    let d = "a: {x: 1}\nb: {y: 2}\n_private: {z: 3}\ncondition: all of them and not _private";
    let e = explained(d, json!({"x": 1, "y": 2, "z": 3}));
    assert!(!e.matched);
    let all_of = child(&e.condition, "all of them");
    assert_eq!((all_of.op, all_of.value, all_of.children.len()), ("all_of", true, 2));
    let not = child(&e.condition, "not _private");
    assert_eq!((not.op, not.value, not.children[0].value), ("not", false, true));
    assert!(explained(d, json!({"x": 1, "y": 2})).matched);
}

#[test]
fn keywords_report_where_they_hit() {
    let d = "keywords: [mimikatz, 'sekurlsa::']\ncondition: keywords";
    let e = explained(d, json!({"process": {"args": ["-x", "run SEKURLSA::logonpasswords"]}}));
    assert_eq!((e.condition.op, e.matched), ("keywords", true));
    let items = &e.selections[0].items;
    assert_eq!(items.len(), 2);
    assert!(!items[0].value && items[1].value);
    assert_eq!(items[1].field, None);
    assert_eq!(items[1].path.as_deref(), Some("process.args[1]"));
    assert_eq!(items[1].matched_value.as_deref(), Some("sekurlsa::"));
    assert!(!explained(d, json!({"n": 7})).matched);
}

#[test]
fn all_modifiers_need_every_value() {
    let d = "sel:\n  cmd|contains|all: [' -enc ', 'hidden']\ncondition: sel";
    let e = explained(d, json!({"cmd": "powershell -w hidden -enc AAA"}));
    assert!(e.matched);
    let e = explained(d, json!({"cmd": "powershell -enc AAA"}));
    let i = item(&e, "sel", 0);
    assert_eq!((i.value, i.value_matches.as_slice()), (false, &[true, false][..]));
    assert_eq!(i.matched_value.as_deref(), Some(" -enc "));
    let keywords = "k:\n  '|all': [alpha, beta]\ncondition: k";
    assert!(explained(keywords, json!({"a": "alpha", "b": ["beta"]})).matched);
    assert!(!explained(keywords, json!({"a": "alpha"})).matched);
}

#[test]
fn regex_cidr_null_and_exists_items() {
    let d = "sel:\n  ua|re: '^curl/\\d+'\n  ip|cidr: 10.0.0.0/8\n  gone: null\n  user|exists: true\ncondition: sel";
    let e = explained(d, json!({"ua": "curl/8.1", "ip": "10.2.3.4", "user": "ann"}));
    assert!(e.matched, "{e:?}");
    assert_eq!(item(&e, "sel", 0).event_value.as_deref(), Some("curl/8.1"));
    assert_eq!(item(&e, "sel", 1).event_value.as_deref(), Some("10.2.3.4"));
    assert_eq!(item(&e, "sel", 3).event_value.as_deref(), Some("ann"));
    let e = explained(d, json!({"ua": "curl/8.1", "ip": "192.168.1.1", "gone": "x", "user": null}));
    let values: Vec<bool> = e.selections[0].items.iter().map(|i| i.value).collect();
    assert_eq!(values, vec![true, false, false, true]);
}

#[test]
fn a_list_of_mappings_is_alternatives_and_value_lists_are_ors() {
    let d = "sel:\n  - {a: [x, y], b: 1}\n  - {c|startswith: pre}\ncondition: sel";
    let e = explained(d, json!({"a": ["q", "Y"], "b": 2, "c": "prefix"}));
    assert!(e.matched);
    let alternatives: Vec<(usize, bool)> = e.selections[0].items.iter().map(|i| (i.alternative, i.value)).collect();
    assert_eq!(alternatives, vec![(0, true), (0, false), (1, true)]);
    assert_eq!(item(&e, "sel", 0).event_value.as_deref(), Some("Y"));
    assert!(!explained(d, json!({"a": "x", "b": 2, "c": "post"})).matched);
}

#[test]
fn filters_are_explained_as_part_of_the_rule() {
    let text = "title: cmd\nid: 0e95725d-7320-415d-80f7-004da920fc11\nlogsource: {product: windows}\ndetection:\n  sel: {Image|endswith: '\\cmd.exe'}\n  condition: sel\n---\ntitle: build server\nlogsource: {product: windows}\nfilter:\n  rules: [0e95725d-7320-415d-80f7-004da920fc11]\n  build: {Computer: BUILD01}\n  condition: not build\n";
    let outlines = outline::file("r.yml", text, &Options::default());
    let event = json!({"Image": "C:\\cmd.exe", "Computer": "build01"});
    let e = explain(&outlines[0].outline, &Json::from_value(&event)).unwrap();
    assert!(!e.matched);
    let filter = child(&e.condition, "filter 'build server'");
    assert_eq!((filter.op, filter.value), ("filter", false));
    assert_eq!(e.selections[1].name, "build server/build");
    assert_eq!(agreement("r.yml", text, &Options::default(), &[event]), Ok(1));
}

/// SigmaHQ's rules over real events (../shared): every rule the engine fires on an event explains
/// as matched, and so does none of a spread of the rules it does not fire.
#[test]
fn explanations_agree_with_the_engine_on_sigmahq_rules_over_real_events() {
    use std::io::BufRead;
    let Some(shared) = sigil_tests::shared_dir("explanations_agree_with_the_engine_on_sigmahq_rules") else { return };
    let options = sigil_tests::sigmahq_placeholder_options();
    let mut compiler = sigil_compiler::Compiler::new(options.clone());
    let mut outlines = Vec::new();
    for dir in sigil_tests::SIGMAHQ_ACTIVE_DIRS {
        for file in files_under(&shared.join("sigma").join(dir), &["yml", "yaml"]) {
            let (name, text) = (file.display().to_string(), std::fs::read_to_string(&file).unwrap());
            compiler.add_file(&name, &text);
            outlines.extend(outline::file(&name, &text, &options));
        }
    }
    let plan = compiler.finish().plan;
    assert_eq!(outlines.len(), plan.rules.len(), "one outline per loaded SigmaHQ rule");
    assert!(plan.rules.iter().zip(&outlines).all(|(r, o)| r.info.id == o.info.id), "outlines in plan order");
    let engine = Engine::new(plan).unwrap();

    let datasets = shared.join("datasets");
    let otrf = flate2::read::GzDecoder::new(
        std::fs::File::open(datasets.join("windows/otrf-windows-sample.jsonl.gz")).unwrap(),
    );
    let mut events: Vec<String> =
        std::io::BufReader::new(otrf).lines().take(30_000).step_by(15).map(Result::unwrap).collect();
    for file in files_under(&datasets.join("cloud/panther-tests"), &["jsonl"]) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let case: Value = serde_json::from_str(line).unwrap();
            events.extend(case.get("event").filter(|e| e.is_object()).map(|e| e.to_string()));
        }
    }
    let (mut fired_total, mut compared, mut failures) = (0, 0, Vec::new());
    for (n, text) in events.iter().enumerate() {
        let document = sigil_engine::layout::flatten(Json::parse(text).unwrap());
        let fired: Vec<usize> = engine.evaluate(&document, &Routing::All).into_iter().map(|d| d.rule).collect();
        fired_total += fired.len();
        // Every fired rule, and a spread of the others that moves from event to event.
        let spread = (0..8).map(|k| (n * 7919 + k * 104_729) % outlines.len());
        for i in fired.iter().copied().chain(spread) {
            let explained = explain(&outlines[i].outline, &document).unwrap().matched;
            if explained != fired.contains(&i) {
                failures.push(format!("{}: explained {explained} on {text}", outlines[i].info.origin));
            }
            compared += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(fired_total > 100, "only {fired_total} detections over {} events", events.len());
    println!("SigmaHQ: {} events, {fired_total} detections, {compared} (rule, event) pairs agree", events.len());
}

/// Rule shapes where an outline could drift from the plan (modifiers that make variants, empty
/// placeholders, `|all` with `|neq`, nested `of` with filters, null values, field references),
/// each over a spread of events: the explanation's root value is the engine's.
#[test]
fn explanations_agree_with_the_engine_on_tricky_shapes() {
    let detections = [
        "sel: {a|expand: '%p%'}\ncondition: sel",
        "sel: {a|expand: '%p%'}\nfilter: {b|contains|expand: '%p%'}\ncondition: sel and not filter",
        "sel: {a|contains|expand: ['%p%', zz]}\ncondition: sel",
        "sel: {a|contains|all|expand: '%p%'}\ncondition: sel",
        "sel: {a|windash|contains: ' -enc '}\ncondition: sel",
        "sel: {a|windash|contains|all: [' -enc ', ' -w ']}\ncondition: sel",
        "sel: {a|base64offset|contains: hello}\ncondition: sel",
        "sel: {a|base64|contains: hello}\ncondition: sel",
        "sel: {a|wide|base64offset|contains: hi}\ncondition: sel",
        "sel: {a|fieldref: b}\ncondition: sel",
        "sel: {a|fieldref|contains: b}\ncondition: sel",
        "sel: {a|fieldref|endswith: b}\ncondition: not sel",
        "k: {'|all': [x, y]}\ncondition: k",
        "k: [x, y]\ncondition: not k",
        "k: {'|contains|all': [x, y]}\ncondition: k",
        "k: {'|re': '^x'}\ncondition: k",
        "sel: {a: null}\ncondition: sel",
        "sel: {a: [null, x]}\ncondition: sel",
        "sel: {a: []}\ncondition: sel",
        "sel: {a: ''}\ncondition: sel",
        "sel: {a|neq: x}\ncondition: sel",
        "sel: {a|neq: [x, y]}\ncondition: sel",
        "sel: {a|contains|all|neq: [x, y]}\ncondition: sel",
        "sel: {a|exists: false}\ncondition: sel",
        "sel: {a|gt: 1}\ncondition: sel",
        "sel: {a|cased: X}\ncondition: sel",
        "sel: {a|re|i: '^x'}\ncondition: sel",
        "sel: {a|cidr: 10.0.0.0/8}\ncondition: sel",
        "sel_a: {a: x}\nsel_b: {b: x}\nfilter_a: {a: y}\nfilter_b: {b|contains: y}\ncondition: 1 of sel_* and not 1 of filter_*",
        "sel_a: {a: x}\nsel_b: {b: x}\nfilter_a: {a: y}\ncondition: all of sel_* or not 1 of filter_*",
        "sel_a: {a: x}\n_b: {b: x}\ncondition: 1 of them and not all of _*",
        "sel: [{a: x, b: y}, {a|contains: z}, kw]\ncondition: sel",
        "sel: {a: x}\nother: {b: x}\ncondition:\n  - sel\n  - not other",
        "sel: {a: 1}\ncondition: sel",
        "sel: {a: true}\ncondition: sel",
        "sel: {a: '*x?'}\ncondition: sel",
        "sel: {a|startswith: 'x\\*'}\ncondition: sel",
        "sel: {a.b: x}\ncondition: sel",
    ];
    let events = [
        json!({}),
        json!({"a": null}),
        json!({"a": ""}),
        json!({"a": "x"}),
        json!({"a": "X", "b": "x"}),
        json!({"a": "y", "b": "y"}),
        json!({"a": "xy", "b": "yx"}),
        json!({"a": ["x", "y"], "b": ["x"]}),
        json!({"a": "cmd /enc ZZ /w hidden"}),
        json!({"a": "cmd -enc ZZ -w hidden"}),
        json!({"a": "aGVsbG8="}),
        json!({"a": "xaGVsbG8x"}),
        json!({"a": "eGhlbGxv"}),
        json!({"a": "aABpAA"}),
        json!({"a": "alice", "b": "alice"}),
        json!({"a": "Alice", "b": "alice"}),
        json!({"a": "bob@alice", "b": "alice"}),
        json!({"a": 2, "b": 2}),
        json!({"a": "2"}),
        json!({"a": true}),
        json!({"a": "true"}),
        json!({"a": "10.1.2.3"}),
        json!({"a": "*x?"}),
        json!({"a": "ax!"}),
        json!({"a": "x*y"}),
        json!({"a": {"b": "x"}}),
        json!({"a": [{"b": "x"}, {"b": "q"}]}),
        json!({"a.b": "x"}),
        json!({"n": "x", "m": ["y"]}),
        json!({"n": "kw"}),
    ];
    let mut placeholders = Placeholders::new();
    placeholders.insert("p".to_string(), vec!["alice".to_string(), "x".to_string()]);
    let options = Options { placeholders, ..Options::default() };
    let (mut compared, mut failures) = (0, Vec::new());
    for detection in detections {
        let text = wrap_detection(detection);
        if outline::file("r.yml", &text, &options).is_empty() {
            failures.push(format!("not accepted: {detection}"));
            continue;
        }
        match agreement("r.yml", &text, &options, &events) {
            Ok(n) => compared += n,
            Err(e) => failures.push(format!("{detection}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(compared, detections.len() * events.len());
}
