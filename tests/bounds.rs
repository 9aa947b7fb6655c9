//! Input bounds that every face shares, each hit on purpose: the error names the bound and the
//! place, and everything else is still processed. (Line length and whole-document size are the
//! CLI reader's, tested in `cli/src/input.rs` and `cli/tests/cli.rs`; distinct values per
//! correlation group are cases of `correlations/12_distinct_values.yml`.)

use sigil_compiler::{Compiler, Options};
use sigil_engine::json::MAX_EVENT_DEPTH;
use sigil_engine::matcher::{REGEX_NEST_LIMIT, REGEX_SIZE_LIMIT};
use sigil_engine::session::Session;
use sigil_engine::Routing;

const RULES: &str = r#"
title: deep keyword
logsource: { product: test }
detection:
    keywords: ['needle']
    condition: keywords
---
title: deep field
logsource: { product: test }
detection:
    sel:
        a.b|contains: 'needle'
    condition: sel
"#;

/// An event whose field `a` holds `depth - 1` levels of arrays and objects around "needle".
fn deep_event(depth: usize) -> String {
    let mut inner = r#"{"b":"needle"}"#.to_string();
    for level in 2..depth {
        inner = if level % 2 == 0 { format!("[{inner}]") } else { format!("{{\"x\":{inner}}}") };
    }
    format!(r#"{{"a":{inner}}}"#)
}

#[test]
fn events_at_the_depth_limit_run_on_a_2_mib_stack_and_deeper_ones_are_rejected_with_their_column() {
    let out = sigil_compiler::compile_str("deep.yml", RULES, &Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let at_limit = deep_event(MAX_EVENT_DEPTH);
    let past_limit = deep_event(MAX_EVENT_DEPTH + 1);
    assert!(sigil_engine::json::deeper_than(&serde_json::from_str(&at_limit).unwrap(), MAX_EVENT_DEPTH - 1));
    let text = format!("{at_limit}\n{past_limit}\n{{\"a\":{{\"b\":\"needle\"}}}}\n");
    // The stack of a spawned thread (2 MiB) in a debug build: parse, layout, field lookup,
    // keyword scan, alert serialization and drop all recurse over the event.
    let report = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut session = Session::new(out.plan, 1000).expect("the plan loads");
            let mut alerts = Vec::new();
            let report = session.eval_jsonl("deep.jsonl", 1, &text, &Routing::All, &mut alerts);
            (report, String::from_utf8(alerts).unwrap())
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let (report, alerts) = report;
    assert_eq!((report.events, report.rejected), (3, 1));
    assert_eq!(report.notes.len(), 1);
    assert!(
        report.notes[0].starts_with(&format!(
            "sigil: deep.jsonl:2: malformed event: nested deeper than the event depth limit of {MAX_EVENT_DEPTH} arrays and objects, at column "
        )),
        "{}",
        report.notes[0]
    );
    // The keyword rule fires on lines 1 and 3, the field rule on line 3 (the deep event's `a.b`
    // is buried, not a path).
    let lines: Vec<(String, u64)> = alerts
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|a| (a["rule"]["title"].as_str().unwrap().to_string(), a["source"]["line"].as_u64().unwrap()))
        .collect();
    assert!(lines.contains(&("deep keyword".to_string(), 1)), "{lines:?}");
    assert!(lines.contains(&("deep keyword".to_string(), 3)), "{lines:?}");
    assert!(lines.contains(&("deep field".to_string(), 3)), "{lines:?}");
    assert!(!lines.iter().any(|(_, line)| *line == 2), "{lines:?}");
}

const GOOD_RULE: &str = r#"
title: fine regex
logsource: { product: test }
detection:
    sel:
        CommandLine|re: 'who(ami)?'
    condition: sel
"#;

#[test]
fn a_regex_or_wildcard_over_the_size_or_nest_limit_rejects_its_rule_naming_the_limit_and_the_others_load() {
    let huge = r#"
title: huge regex
logsource: { product: test }
detection:
    sel:
        CommandLine|re|i: '\w{2000}\w{2000}'
    condition: sel
"#;
    let nested = format!(
        "title: nested regex\nlogsource: {{ product: test }}\ndetection:\n    sel:\n        CommandLine|re: '{}a{}'\n    condition: sel\n",
        "(".repeat(REGEX_NEST_LIMIT as usize + 10),
        ")".repeat(REGEX_NEST_LIMIT as usize + 10)
    );
    // A wildcard value is a regex in the engine too: one past the size limit is refused alike.
    let wildcard = format!(
        "title: huge wildcard\nlogsource: {{ product: test }}\ndetection:\n    sel:\n        CommandLine: 'a{}b'\n    condition: sel\n",
        "?".repeat(200_000)
    );
    let mut compiler = Compiler::new(Options::default());
    compiler.add_file("rules/huge.yml", huge);
    compiler.add_file("rules/good.yml", GOOD_RULE);
    compiler.add_file("rules/nested.yml", &nested);
    compiler.add_file("rules/wildcard.yml", &wildcard);
    let out = compiler.finish();
    assert_eq!(out.plan.rules.len(), 1, "the good rule loads");
    assert_eq!(out.plan.rules[0].info.title, "fine regex");
    let messages: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[2].starts_with(&format!(
            "rules/wildcard.yml:5:23: the compiled regular expression is larger than the regex size limit of {REGEX_SIZE_LIMIT} bytes"
        )),
        "{}",
        messages[2]
    );
    assert!(
        messages[0].starts_with(&format!(
            "rules/huge.yml:6:28: the compiled regular expression is larger than the regex size limit of {REGEX_SIZE_LIMIT} bytes (REGEX_SIZE_LIMIT)"
        )),
        "{}",
        messages[0]
    );
    assert_eq!(
        messages[1],
        format!("rules/nested.yml:5:26: the regular expression nests deeper than the regex nest limit of {REGEX_NEST_LIMIT}")
    );
}
