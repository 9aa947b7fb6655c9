//! The edge runner over hand-made plans: windows close by event time, tags, counts that add up,
//! and the policy checks that need a plan.

use super::policy::{Aggregate, Entry, Measure, Pos, Sample};
use super::*;
use crate::plan::{CompiledRule, LogSource, Node, Plan, Predicate, RuleInfo, StrPattern, Target, Test, Token};
use crate::PLAN_FORMAT_VERSION;

/// One rule: `eventName` is `StopLogging`, for CloudTrail.
fn plan() -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        predicates: vec![Predicate {
            target: Target::Field("eventName".into()),
            test: Test::Str(StrPattern { tokens: vec![Token::Lit("stoplogging".into())], cased: false }),
        }],
        nodes: vec![Node::Pred(0)],
        rules: vec![CompiledRule {
            info: RuleInfo { id: "r1".into(), title: "Trail stopped".into(), ..RuleInfo::default() },
            logsource: LogSource::new(Some("aws"), None, Some("cloudtrail")),
            root: 0,
            alert: true,
        }],
        ..Plan::default()
    }
}

fn entry(name: &str, select: Selector, action: Action) -> Entry {
    Entry { name: name.into(), pos: Pos { line: 3, col: 5 }, select, action }
}

fn sysmon_network() -> Selector {
    Selector::LogSource(LogSource::new(Some("windows"), Some("network_connection"), None))
}

fn count_per_minute() -> Action {
    Action::Aggregate(Aggregate {
        window_ms: 60_000,
        lateness_ms: 0,
        by: vec!["Computer".into()],
        measure: Measure::Count,
    })
}

/// Runs `lines` through a policy in one batch per line; returns (forwarded, alerts, counts).
fn run(policy: Policy, lines: &[String]) -> (Vec<String>, Vec<String>, Counts) {
    let mut session = Session::new(plan(), 1000).unwrap();
    let mut edge = Edge::new(policy, &mut session).unwrap();
    let mut out = EdgeOutput::default();
    for (i, line) in lines.iter().enumerate() {
        edge.eval_jsonl(&mut session, "in.jsonl", i as u64 + 1, &format!("{line}\n"), &Routing::Auto, &mut out);
    }
    edge.finish(&mut session, &mut out);
    let text = |b: &[u8]| String::from_utf8_lossy(b).lines().map(str::to_string).collect::<Vec<_>>();
    (text(&out.forwarded), text(&out.alerts), edge.counts().clone())
}

fn network(second: u32, host: &str) -> String {
    format!(
        r#"{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Computer":"{host}","UtcTime":"2024-01-01 00:{:02}:{:02}.000"}}"#,
        second / 60,
        second % 60
    )
}

#[test]
fn windows_close_when_event_time_passes_their_end_not_on_arrival() {
    let policy = Policy { entries: vec![entry("net", sysmon_network(), count_per_minute())], ..Policy::default() };
    // Three events in minute 0 for host a; then a CloudTrail event at 00:01:30 moves the clock
    // past minute 0's end; then a late event of minute 0 arrives.
    let lines = [
        network(1, "a"),
        network(20, "a"),
        network(59, "b"),
        r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2024-01-01T00:01:30Z"}"#.to_string(),
        network(30, "a"),
        network(95, "a"),
    ];
    let mut session = Session::new(plan(), 1000).unwrap();
    let mut edge = Edge::new(policy, &mut session).unwrap();
    let mut out = EdgeOutput::default();
    for (i, line) in lines.iter().take(3).enumerate() {
        edge.eval_jsonl(&mut session, "in", i as u64 + 1, line, &Routing::Auto, &mut out);
    }
    assert!(out.forwarded.is_empty(), "nothing closes while event time stays inside the window");
    edge.eval_jsonl(&mut session, "in", 4, &lines[3], &Routing::Auto, &mut out);
    let forwarded = String::from_utf8(out.forwarded.clone()).unwrap();
    let lines_out: Vec<serde_json::Value> = forwarded.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines_out.len(), 3, "two summaries (a, b) then the CloudTrail event: {forwarded}");
    assert_eq!(lines_out[0]["group"], serde_json::json!({"Computer": "a"}));
    assert_eq!(lines_out[0]["value"], 2);
    assert_eq!(lines_out[0]["window"]["end"], "2024-01-01T00:01:00.000Z");
    assert_eq!(lines_out[1]["group"], serde_json::json!({"Computer": "b"}));
    assert_eq!(lines_out[2]["eventName"], "GetObject");
    edge.eval_jsonl(&mut session, "in", 5, &lines[4], &Routing::Auto, &mut out);
    edge.eval_jsonl(&mut session, "in", 6, &lines[5], &Routing::Auto, &mut out);
    edge.finish(&mut session, &mut out);
    let forwarded = String::from_utf8(out.forwarded).unwrap();
    let all: Vec<&str> = forwarded.lines().collect();
    assert_eq!(all[3], lines[4], "the late event is forwarded as it is");
    assert!(all[4].contains(r#""start":"2024-01-01T00:01:00.000Z""#), "the end of the stream closes minute 1");
    let counts = edge.counts();
    assert_eq!((counts.aggregated_in, counts.aggregated_out, counts.late, counts.kept), (4, 3, 1, 1));
    assert_eq!(counts.accounted(), counts.events);
}

#[test]
fn tag_adds_the_titles_and_counts_add_up() {
    let policy = Policy {
        entries: vec![
            entry("evidence", Selector::AnyRule, Action::Tag),
            entry("cloudtrail noise", Selector::LogSource(LogSource::new(Some("aws"), None, None)), Action::Drop),
        ],
        ..Policy::default()
    };
    let lines = vec![
        r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#.to_string(),
        r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#.to_string(),
        r#"{"other":1}"#.to_string(),
        "not json".to_string(),
    ];
    let (forwarded, alerts, counts) = run(policy, &lines);
    assert_eq!(
        forwarded,
        [
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","sigil.rules":["Trail stopped"]}"#,
            r#"{"other":1}"#
        ]
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!((counts.tagged, counts.dropped, counts.kept, counts.rejected, counts.alerts), (1, 1, 1, 1, 1));
    assert_eq!(counts.accounted(), counts.events);
    assert_eq!(counts.forwarded(), 2);
}

#[test]
fn with_tags_keeps_the_text_and_handles_empty_objects() {
    assert_eq!(with_tags(r#"{"a": 1 }"#, "t", &["x"]), br#"{"a": 1,"t":["x"]}"#.to_vec());
    assert_eq!(with_tags("{ }", "t", &[]), br#"{"t":[]}"#.to_vec());
    assert_eq!(with_tags("{}", "a\"b", &["q\""]), br#"{"a\"b":["q\""]}"#.to_vec());
}

#[test]
fn unknown_rules_and_sampled_sign_ins_are_refused_with_the_entry_position() {
    let mut session = Session::new(plan(), 10).unwrap();
    let policy = Policy {
        origin: "p.yml".into(),
        entries: vec![entry("x", Selector::Rules(vec!["nope".into()]), Action::Drop)],
        ..Policy::default()
    };
    let err = Edge::new(policy, &mut session).unwrap_err().to_string();
    assert!(err.starts_with("p.yml:3:5: no loaded rule"), "{err}");
    let sample = |force| Action::Sample(Sample { rate: 0.5, key: vec!["k".into()], seed: 0, force });
    let cloudtrail = Selector::LogSource(LogSource::new(Some("aws"), None, Some("cloudtrail")));
    let policy = Policy {
        origin: "p.yml".into(),
        entries: vec![entry("ct", cloudtrail.clone(), sample(false))],
        ..Policy::default()
    };
    let err = Edge::new(policy, &mut session).unwrap_err().to_string();
    assert!(err.contains("authentication logs are never sampled"), "{err}");
    let forced = Policy { entries: vec![entry("ct", cloudtrail, sample(true))], ..Policy::default() };
    assert!(Edge::new(forced, &mut session).is_ok());
    let by_rule =
        Policy { entries: vec![entry("r", Selector::Rules(vec!["r1".into()]), sample(false))], ..Policy::default() };
    assert!(Edge::new(by_rule, &mut session)
        .unwrap_err()
        .to_string()
        .contains("the events of the rule 'Trail stopped'"));
}

#[test]
fn sums_read_numbers_and_the_group_cap_closes_the_first_window_early() {
    let sum = Action::Aggregate(Aggregate {
        window_ms: 60_000,
        lateness_ms: 0,
        by: vec!["Computer".into()],
        measure: Measure::Sum("bytes".into()),
    });
    let policy = Policy { entries: vec![entry("bytes", sysmon_network(), sum)], max_groups: 1, ..Policy::default() };
    let with_bytes =
        |second: u32, host: &str, bytes: &str| network(second, host).replace("}", &format!(",\"bytes\":{bytes}}}"));
    let lines = vec![
        with_bytes(1, "a", "10"),
        with_bytes(2, "a", "\"5.5\""),
        with_bytes(3, "a", "\"n/a\""),
        with_bytes(4, "b", "1"),
    ];
    let (forwarded, _, counts) = run(policy, &lines);
    let summaries: Vec<serde_json::Value> = forwarded.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    // b needs a group while a's is open: a's closes early, first; b's at the end of the stream.
    assert_eq!(summaries.len(), 2);
    assert_eq!((summaries[0]["group"]["Computer"].as_str(), summaries[0]["value"].as_f64()), (Some("a"), Some(15.5)));
    assert_eq!((summaries[0]["events"].as_u64(), summaries[0]["field"].as_str()), (Some(3), Some("bytes")));
    assert_eq!((summaries[1]["group"]["Computer"].as_str(), summaries[1]["value"].as_u64()), (Some("b"), Some(1)));
    assert_eq!((counts.aggregated_in, counts.aggregated_out), (4, 2));
}

#[test]
fn a_compiled_policy_out_of_range_is_refused_not_run() {
    // The compiled form comes as JSON (the Wasm guest's `edge-batch`): its numbers are checked
    // as the YAML reader checks them, before any event could divide by a zero window.
    let mut session = Session::new(plan(), 10).unwrap();
    let aggregate = |window_ms, lateness_ms| {
        Action::Aggregate(Aggregate { window_ms, lateness_ms, by: vec![], measure: Measure::Count })
    };
    let sample = |rate| Action::Sample(Sample { rate, key: vec!["k".into()], seed: 0, force: false });
    for action in [aggregate(0, 0), aggregate(-60_000, 0), aggregate(60_000, -1), sample(0.0), sample(-0.5)]
        .into_iter()
        .chain([sample(1.5), sample(f64::NAN), Action::Sample(Sample { key: vec![], ..sample_of(sample(0.5)) })])
    {
        let policy = Policy {
            origin: "p.json".into(),
            entries: vec![entry("e", sysmon_network(), action.clone())],
            ..Policy::default()
        };
        let err = Edge::new(policy, &mut session).map(|_| ()).unwrap_err().to_string();
        assert!(err.starts_with("p.json:3:5: "), "{action:?}: {err}");
    }
}

fn sample_of(action: Action) -> Sample {
    let Action::Sample(s) = action else { panic!("a sample action") };
    s
}

#[test]
fn a_rules_selector_never_samples_an_authentication_event_it_takes_anyway() {
    // With `--logsource all` every rule sees every event: a rule written for Sysmon network
    // connections can match a CloudTrail sign-in, which the sampling refusal (made from the
    // rule's logsource) did not foresee. The event is kept, never sampled out.
    let mut network_plan = plan();
    network_plan.rules[0].logsource = LogSource::new(Some("windows"), Some("network_connection"), None);
    let mut session = Session::new(network_plan, 10).unwrap();
    let sample = Action::Sample(Sample { rate: 1e-9, key: vec!["eventName".into()], seed: 0, force: false });
    let policy = Policy { entries: vec![entry("r", Selector::Rules(vec!["r1".into()]), sample)], ..Policy::default() };
    let mut edge = Edge::new(policy, &mut session).unwrap();
    let mut out = EdgeOutput::default();
    let sign_in = r#"{"eventSource":"signin.amazonaws.com","eventName":"StopLogging","eventType":"AwsConsoleSignIn"}"#;
    edge.eval_jsonl(&mut session, "in", 1, sign_in, &Routing::All, &mut out);
    assert_eq!(String::from_utf8(out.forwarded).unwrap(), format!("{sign_in}\n"));
    assert_eq!((edge.counts().sampled_in, edge.counts().sampled_out), (1, 0));
}
