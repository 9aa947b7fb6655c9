//! Sigil's own rule pack (`sigma-rules/`): every rule compiles, has test events, fires on each
//! of its `match` events and on none of its `no_match` events.

use sigil_compiler::Options;
use sigil_tests::{compile, files_under, fires, list_of, repo_root, to_json, yaml_file};

#[test]
fn every_pack_rule_fires_on_its_matches_and_not_on_its_near_misses() {
    let root = repo_root().join("sigma-rules");
    let rules = files_under(&root.join("rules"), &["yml", "yaml"]);
    assert!(rules.len() >= 12, "the pack holds at least 12 rules, found {}", rules.len());
    let mut failures = Vec::new();
    let mut checked_events = 0;
    for rule_path in &rules {
        let name = rule_path.display().to_string();
        let text = std::fs::read_to_string(rule_path).unwrap();
        let (out, engine) = compile(&name, &text, &Options::default());
        let Some(engine) = engine else {
            failures.push(format!("{name}: rejected: {}", out.diagnostics[0]));
            continue;
        };
        let stem = rule_path.file_stem().unwrap().to_string_lossy();
        let tests_path = root.join("tests").join(format!("{stem}.yml"));
        if !tests_path.is_file() {
            failures.push(format!("{name}: no test events at {}", tests_path.display()));
            continue;
        }
        let tests = yaml_file(&tests_path);
        let (matches, misses) = (list_of(&tests, "match"), list_of(&tests, "no_match"));
        if matches.is_empty() || misses.is_empty() {
            failures.push(format!("{}: needs at least one match and one no_match event", tests_path.display()));
        }
        for (i, ev) in matches.iter().enumerate() {
            checked_events += 1;
            if !fires(&engine, &to_json(ev)) {
                failures.push(format!(
                    "{}: match event {} (line {}) does not fire",
                    tests_path.display(),
                    i + 1,
                    ev.pos.line
                ));
            }
        }
        for (i, ev) in misses.iter().enumerate() {
            checked_events += 1;
            if fires(&engine, &to_json(ev)) {
                failures.push(format!(
                    "{}: no_match event {} (line {}) fires",
                    tests_path.display(),
                    i + 1,
                    ev.pos.line
                ));
            }
        }
    }
    println!("rule pack: {} rules, {checked_events} test events", rules.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_embedded_pack_is_the_rules_directory() {
    let on_disk = files_under(&repo_root().join("sigma-rules/rules"), &["yml", "yaml"]).len();
    assert_eq!(sigil_pack::RULE_FILES.len(), on_disk);
    let mut c = sigil_compiler::Compiler::new(Options::default());
    for (path, text) in sigil_pack::RULE_FILES {
        c.add_file(path, text);
    }
    let out = c.finish();
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let mut ids: Vec<_> = out.plan.rules.iter().map(|r| r.info.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), out.plan.rules.len(), "rule ids are unique");
    assert!(out.plan.rules.iter().all(|r| r.info.author.is_some() && !r.info.tags.is_empty()));
}
