//! The search query language (`sigil search`): every case in `queries/*.yml` is a query, JSON
//! Lines events and the 1-based lines it must match, or an error with the column it points at.
//! Queries compile through `sigil_compiler::query`, the same path as the command.

use sigil_compiler::query;
use sigil_compiler::yaml::Kind;
use sigil_compiler::Options;
use sigil_engine::plan::LogSource;
use sigil_engine::Engine;
use sigil_tests::{expected_matches, files_under, list_of, matched_lines, repo_root, str_of, yaml_file};

#[test]
fn query_cases() {
    let dir = repo_root().join("tests").join("queries");
    let files = files_under(&dir, &["yml"]);
    assert!(!files.is_empty(), "no query cases in {}", dir.display());
    let mut failures = Vec::new();
    let mut passed = 0;
    for file in &files {
        let doc = yaml_file(file);
        for case in list_of(&doc, "cases") {
            let name = str_of(case, "name").expect("every case has a name");
            let where_ = format!("{} / {name}", file.file_name().unwrap().to_string_lossy());
            let text = str_of(case, "query").unwrap_or_else(|| panic!("{where_}: no query"));
            let compiled = query::compile(text, &LogSource::default(), &Options::default());
            if let Some(expected) = case.get("error") {
                let column = match expected.get("column").map(|c| &c.kind) {
                    Some(Kind::Int(c)) => *c as usize,
                    _ => panic!("{where_}: error.column must be a number"),
                };
                let contains = str_of(expected, "contains").unwrap_or_default();
                match compiled {
                    Ok(_) => failures.push(format!("{where_}: compiled, but must fail at column {column}")),
                    Err(e) if e.column == column && e.message.contains(contains) => passed += 1,
                    Err(e) => failures.push(format!(
                        "{where_}: expected column {column} with '{contains}', got column {}: {}",
                        e.column, e.message
                    )),
                }
                continue;
            }
            let plan = match compiled {
                Ok(plan) => plan,
                Err(e) => {
                    failures.push(format!("{where_}: refused: {e}"));
                    continue;
                }
            };
            let engine = Engine::new(plan).expect("the plan prepares");
            let expected = expected_matches(case, &where_);
            let got = matched_lines(&engine, case, &where_);
            if got == expected {
                passed += 1;
            } else {
                failures.push(format!("{where_}: query `{text}` matched lines {got:?}, expected {expected:?}"));
            }
        }
    }
    println!("{passed} query cases passed");
    assert!(failures.is_empty(), "{} query cases failed:\n{}", failures.len(), failures.join("\n"));
}
