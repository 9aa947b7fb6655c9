//! The Sigma conformance suite: every case in `conformance/*.yml` is a rule (or its detection),
//! events, and the 1-based lines that must fire; or a rule that must be rejected.

use sigil_compiler::yaml::Kind;
use sigil_compiler::{Options, Placeholders};
use sigil_tests::{compile, expected_matches, files_under, list_of, matched_lines, repo_root, str_of, yaml_file};

fn wrap_detection(detection: &str) -> String {
    let mut rule = String::from("title: conformance case\nlogsource:\n  product: test\ndetection:\n");
    for line in detection.lines() {
        rule.push_str("  ");
        rule.push_str(line);
        rule.push('\n');
    }
    rule
}

#[test]
fn conformance_suite() {
    let dir = repo_root().join("tests").join("conformance");
    let files = files_under(&dir, &["yml"]);
    assert!(!files.is_empty(), "no conformance files in {}", dir.display());
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut names = std::collections::HashSet::new();
    for file in &files {
        let doc = yaml_file(file);
        for case in list_of(&doc, "cases") {
            let name = str_of(case, "name").expect("every case has a name").to_string();
            assert!(names.insert(name.clone()), "duplicate case name '{name}'");
            let rule = match (str_of(case, "rule"), str_of(case, "detection")) {
                (Some(r), _) => r.to_string(),
                (None, Some(d)) => wrap_detection(d),
                _ => panic!("case '{name}' has neither rule nor detection"),
            };
            let mut placeholders = Placeholders::new();
            if let Some(p) = case.get("placeholders") {
                if let Kind::Map(entries) = &p.kind {
                    for (k, v) in entries {
                        let values = match &v.kind {
                            Kind::Seq(items) => items.iter().filter_map(|i| i.scalar_text()).collect(),
                            _ => vec![v.scalar_text().unwrap_or_default()],
                        };
                        placeholders.insert(k.scalar_text().unwrap(), values);
                    }
                }
            }
            let (out, engine) = compile(&name, &rule, &Options { placeholders, ..Options::default() });
            let where_ = format!("{} / {name}", file.file_name().unwrap().to_string_lossy());
            if let Some(reason) = str_of(case, "rejected") {
                if out.diagnostics.is_empty() {
                    failures.push(format!("{where_}: compiled, but must be rejected ({reason})"));
                } else {
                    passed += 1;
                }
                continue;
            }
            let Some(engine) = engine else {
                failures.push(format!("{where_}: rejected: {}", out.diagnostics[0]));
                continue;
            };
            let expected = expected_matches(case, &where_);
            let got = matched_lines(&engine, case, &where_);
            if got == expected {
                passed += 1;
            } else {
                failures.push(format!("{where_}: expected matches {expected:?}, got {got:?}"));
            }
        }
    }
    println!("conformance: {passed} cases passed, {} failed", failures.len());
    assert!(passed >= 150, "the suite must hold at least 150 cases");
    assert!(failures.is_empty(), "{} conformance failures:\n{}", failures.len(), failures.join("\n"));
}
