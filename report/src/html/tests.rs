use super::*;
use serde_json::json;

/// An alert line as `sigil hunt --format jsonl` writes one.
fn alert(title: &str, level: &str, tags: &[&str], time: Value, event: Value) -> String {
    json!({
        "kind": "detection",
        "rule": {"id": format!("id-{title}"), "name": null, "title": title, "level": level, "status": "test",
                 "author": "a", "tags": tags},
        "source": {"file": "events.jsonl", "line": 1},
        "timestamp": time,
        "matched": {"CommandLine": "x"},
        "event": event,
    })
    .to_string()
}

/// The JSON the page reads, taken out of the HTML as the browser would.
fn payload(html: &str) -> Value {
    let start = html.find(r#"<script type="application/json" id="report-data">"#).expect("data element");
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</script>").unwrap();
    serde_json::from_str(&rest[open..close]).expect("the payload is JSON")
}

#[test]
fn alert_text_cannot_end_the_data_element() {
    let hostile = "</script><script>alert(1)</script><!--<script>";
    let text = alert(hostile, "high", &[], json!("2024-01-01T00:00:00Z"), json!({"CommandLine": hostile}));
    let report = render(&text, Options { title: "</title><b>".into(), ..Options::default() });
    // The page's own two closing tags (the data and the script) and no other.
    assert_eq!(report.html.matches("</script").count(), 2);
    assert!(!report.html.contains("<!--<script"));
    assert!(report.html.contains("<title>&lt;/title&gt;&lt;b&gt;</title>"));
    let data = payload(&report.html);
    assert_eq!(data["alerts"][0]["a"]["event"]["CommandLine"], hostile, "the text survives, escaped");
    assert_eq!(data["rules"][0]["title"], hostile);
}

#[test]
fn alerts_are_sorted_by_time_with_untimed_ones_last_and_rules_by_count() {
    let lines = [
        alert("B", "low", &[], json!("2024-01-02T00:00:00Z"), json!({"n": 1})),
        alert("A", "critical", &[], Value::Null, json!({"n": 2})),
        alert("A", "critical", &[], json!("2024-01-01T00:00:00Z"), json!({"n": 3})),
    ];
    let report = render(&lines.join("\n"), Options::default());
    assert_eq!((report.embedded, report.left_out, report.malformed), (3, 0, 0));
    let data = payload(&report.html);
    let rules: Vec<(&str, u64)> = data["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["title"].as_str().unwrap(), r["alerts"].as_u64().unwrap()))
        .collect();
    assert_eq!(rules, [("A", 2), ("B", 1)]);
    let alerts: Vec<(Value, u64, u64, u64)> = data["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (a["t"].clone(), a["r"].as_u64().unwrap(), a["l"].as_u64().unwrap(), a["a"]["event"]["n"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        alerts,
        [(json!(1_704_067_200_000i64), 0, 4, 3), (json!(1_704_153_600_000i64), 1, 1, 1), (Value::Null, 0, 4, 2)]
    );
}

#[test]
fn alerts_over_the_bound_are_counted_not_embedded() {
    let lines: Vec<String> =
        (0..5).map(|n| alert("R", "medium", &[], json!(format!("2024-01-01T00:00:0{n}Z")), json!({"n": n}))).collect();
    let report = render(&lines.join("\n"), Options { max_alerts: 3, ..Options::default() });
    assert_eq!((report.embedded, report.left_out), (3, 2));
    let data = payload(&report.html);
    assert_eq!(data["meta"]["left_out"], 2);
    assert_eq!(data["meta"]["max_alerts"], 3);
    assert_eq!(data["alerts"].as_array().unwrap().len(), 3);
}

#[test]
fn malformed_lines_are_counted_with_their_line() {
    let good = alert("R", "high", &[], Value::Null, json!({}));
    let text = format!("{good}\nnot json\n\n[1,2]\n{{\"rule\": {{}}}}\n{good}\n");
    let report = render(&text, Options::default());
    assert_eq!((report.embedded, report.malformed), (2, 3));
    let lines: Vec<u64> = report.malformed_listed.iter().map(|m| m.line).collect();
    assert_eq!(lines, [2, 4, 5]);
    assert!(report.malformed_listed[0].reason.contains("not an alert"), "{:?}", report.malformed_listed[0]);
    assert_eq!(payload(&report.html)["meta"]["malformed"], 3);
}

#[test]
fn the_heat_map_places_tags_as_sigil_coverage_does_and_counts_alerts() {
    let lines = [
        alert("Enum", "medium", &["attack.discovery", "attack.t1201"], Value::Null, json!({})),
        alert("Enum", "medium", &["attack.discovery", "attack.t1201"], Value::Null, json!({})),
        alert("Old", "high", &["attack.defense_evasion", "attack.t1070.001"], Value::Null, json!({})),
        alert("Bare", "low", &["attack.t1059"], Value::Null, json!({})),
        alert("Untagged", "low", &["cve.2021-1"], Value::Null, json!({})),
    ];
    let data = payload(&render(&lines.join("\n"), Options::default()).html);
    let cells: Vec<(&str, &str, u64)> = data["attack"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["tactic"].as_str().unwrap(), c["technique"].as_str().unwrap(), c["alerts"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        cells,
        [("discovery", "T1201", 2), ("defense-evasion (pre-v19)", "T1070.001", 1), ("(none)", "T1059", 1)]
    );
    let tactics = data["attack"]["tactics"].as_array().unwrap();
    assert_eq!(tactics.len(), sigil_compiler::coverage::TACTICS.len() + 2);
    assert_eq!(data["attack"]["max"], 2);
}

#[test]
fn an_empty_input_still_makes_a_page() {
    let report = render("", Options::default());
    assert_eq!(report.embedded, 0);
    let data = payload(&report.html);
    assert_eq!(data["alerts"], json!([]));
    assert_eq!(data["entities"], json!([]));
}

#[test]
fn top_entities_are_the_summarys_and_each_alert_points_at_its_own() {
    let lines = [
        alert("R", "high", &[], Value::Null, json!({"Computer": "dc01", "TargetUserName": "alice"})),
        alert("R", "high", &[], Value::Null, json!({"Computer": "dc01", "TargetUserName": "bob"})),
        alert("S", "low", &[], Value::Null, json!({"Computer": "ws7"})),
    ];
    let data = payload(&render(&lines.join("\n"), Options::default()).html);
    let entities: Vec<(&str, &str, u64)> = data["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["value"].as_str().unwrap(), e["alerts"].as_u64().unwrap()))
        .collect();
    assert_eq!(entities, [("account", "alice", 1), ("account", "bob", 1), ("host", "dc01", 2), ("host", "ws7", 1)]);
    let of_alerts: Vec<Value> = data["alerts"].as_array().unwrap().iter().map(|a| a["e"].clone()).collect();
    assert_eq!(of_alerts, [json!([0, 2]), json!([1, 2]), json!([3])]);
}
