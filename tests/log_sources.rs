//! Log sources: real records of each cloud service are recognised as that service's Sigma
//! logsource, and routing over real Windows events keeps every alert of a rule written for the
//! event's source while dropping the cross-source ones.

use serde_json::Value;
use sigil_engine::route::{recognize, Source};
use sigil_engine::{layout, Json};
use sigil_tests::shared_dir;
use std::collections::BTreeMap;
use std::io::BufRead;

/// Panther's rule tests, per file: the product every record must be recognised as, and how many
/// records may stay unknown (each explained where it is allowed).
const PANTHER_FILES: &[(&str, &str, usize)] = &[
    ("AWS_CloudTrail", "aws", 0),
    ("Azure_Audit", "azure", 0),
    ("Azure_MonitorActivity", "azure", 0),
    // Eight GCP tests hold a fragment, not a record: a bare `{"methodName": ...}` (6) or an
    // `operation` with Panther's enrichment (2). Nothing in them says where they come from.
    ("GCP_AuditLog", "gcp", 8),
    ("GSuite_ActivityEvent", "gcp", 0),
    ("Okta_SystemLog", "okta", 0),
    ("Microsoft365_Audit_AzureActiveDirectory", "m365", 0),
    ("Microsoft365_Audit_Exchange", "m365", 0),
    ("Microsoft365_Audit_SharePoint", "m365", 0),
];

#[test]
fn panther_cloud_records_route_to_their_logsources() {
    let Some(dir) = shared_dir("panther_cloud_records_route_to_their_logsources") else { return };
    let dir = dir.join("datasets/cloud/panther-tests");
    let mut table: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (file, product, allowed_unknown) in PANTHER_FILES {
        let path = dir.join(format!("{file}.tests.jsonl"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (mut total, mut unknown) = (0, 0);
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let test: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1));
            let Some(event) = test.get("event").filter(|e| e.is_object()) else {
                problems.push(format!("{file}:{}: no event object", i + 1));
                continue;
            };
            total += 1;
            let source = recognize(&layout::flatten(Json::from_value(event)));
            *table.entry(format!("{file}: {source}")).or_default() += 1;
            match &source {
                Source::Recognized(r) if r.product == Some(*product) => {}
                Source::Unknown => unknown += 1,
                other => problems.push(format!("{file}:{}: recognised as {other}, expected product {product}", i + 1)),
            }
        }
        assert!(total > 0, "{file}: no records read");
        if unknown > *allowed_unknown {
            problems.push(format!("{file}: {unknown} of {total} records unknown (allowed {allowed_unknown})"));
        }
    }
    println!("records per recognised logsource:");
    for (label, n) in &table {
        println!("  {n:>4}  {label}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Over the OTRF Windows sample and every SigmaHQ Windows rule: with routing, a rule whose
/// logsource admits the event's source raises exactly the alerts it raises without routing;
/// every alert routing removes is one of a rule written for another source.
#[test]
fn routing_keeps_same_source_alerts_and_drops_cross_source_ones() {
    let Some(shared) = shared_dir("routing_keeps_same_source_alerts_and_drops_cross_source_ones") else { return };
    let sample = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let rules = shared.join("sigma/rules/windows");
    let out = sigil_tests::compile_dirs(&[rules], sigil_compiler::Options::default());
    let engine = sigil_engine::Engine::new(out.plan).expect("plan prepares");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&sample).unwrap()));
    let mut scratch = sigil_engine::Scratch::default();
    let (mut kept, mut dropped, mut events) = (0usize, 0usize, 0usize);
    let mut dropped_example = None;
    let (mut routed, mut all) = (Vec::new(), Vec::new());
    // Every 5th event keeps the test quick; the ratio of sources is the sample's.
    for line in reader.lines().map(Result::unwrap).step_by(5) {
        let doc = Json::parse(&line).expect("sample lines are JSON");
        events += 1;
        routed.clear();
        all.clear();
        engine.evaluate_text(&mut scratch, &doc, &line, &sigil_engine::Routing::Auto, &mut routed);
        engine.evaluate_text(&mut scratch, &doc, &line, &sigil_engine::Routing::All, &mut all);
        let source = recognize(&doc);
        for d in &all {
            let rule = &engine.rules()[d.rule];
            let admitted = source.admits(&rule.logsource);
            let in_routed = routed.iter().any(|r| r.rule == d.rule);
            assert_eq!(
                admitted, in_routed,
                "rule {} on {source}: admitted {admitted}, routed {in_routed}",
                rule.info.title
            );
            if in_routed {
                kept += 1;
            } else {
                dropped += 1;
                dropped_example
                    .get_or_insert_with(|| format!("{} ({:?}) on {source}", rule.info.title, rule.logsource));
            }
        }
        assert!(routed.iter().all(|r| all.iter().any(|a| a.rule == r.rule)), "routing added an alert");
    }
    println!("{events} events: {kept} alerts kept by routing, {dropped} cross-source alerts dropped");
    println!("e.g. {}", dropped_example.as_deref().unwrap_or("-"));
    assert!(kept > 0 && dropped > 0, "the sample should have both kinds ({kept} kept, {dropped} dropped)");
}
