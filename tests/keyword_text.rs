//! Keyword searches given the event's JSON text (`Engine::evaluate_text`) look at the text as
//! a whole before looking string by string. The text writes a string's characters in more than
//! one way (escapes); whatever way it uses, the detections must be those of the document alone.

use sigil_compiler::Options;
use sigil_engine::{Engine, Json, Routing, Scratch};
use sigil_tests::compile;

const RULE: &str = r#"
title: keywords
logsource: { product: test }
detection:
    keywords:
        - 'sekurlsa::'
        - 'C:\Tools\mimi"katz'
        - '/evil/path'
    condition: keywords
"#;

fn engine() -> Engine {
    let (out, engine) = compile("keywords.yml", RULE, &Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    engine.expect("the rule compiles")
}

/// Evaluates `text` both ways and returns whether the rule fired, after checking they agree.
fn fires(engine: &Engine, text: &str) -> bool {
    let doc = Json::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let by_document = engine.evaluate(&doc, &Routing::All);
    let mut by_text = Vec::new();
    engine.evaluate_text(&mut Scratch::default(), &doc, text, &Routing::All, &mut by_text);
    assert_eq!(by_document, by_text, "{text}");
    !by_text.is_empty()
}

#[test]
fn escaped_characters_in_the_text_still_match() {
    let engine = engine();
    let firing = [
        // Plain, and in a nested string, case-insensitively.
        r#"{"a": "x SEKURLSA::logonpasswords"}"#,
        r#"{"a": {"b": ["y", "sekurlsa::"]}}"#,
        // A letter written as a \u escape, a slash as \/.
        r#"{"a": "sekurl\u0073a::"}"#,
        r#"{"a": "\/evil\/path"}"#,
        // The needle's backslash and quote, as JSON must write them.
        r#"{"a": "C:\\Tools\\mimi\"katz.exe"}"#,
        r#"{"a": "c:\u005ctools\\MIMI\u0022katz"}"#,
        // Non-ASCII text elsewhere in the event.
        r#"{"user": "Jürgen", "a": "sekurlsa::"}"#,
        // An escaped backslash before a plain `u` (`C:\\users`) beside a real escape; an odd run
        // of backslashes, whose last one escapes the `u`.
        r#"{"a": "C:\\users\\x", "b": "sekurl\u0073a::"}"#,
        r#"{"a": "\\\\\u0073ekurlsa::"}"#,
        r#"{"a": "x\\\/evil\/path"}"#,
        // Non-ASCII text that folds into the needle: a Kelvin sign lower-cases to `k`.
        "{\"a\": \"se\u{212a}urlsa::\", \"b\": \"Jürgen\"}",
    ];
    for text in firing {
        assert!(fires(&engine, text), "should fire: {text}");
    }
}

#[test]
fn needles_outside_string_values_do_not_match() {
    let engine = engine();
    let quiet = [
        r#"{"a": "nothing here"}"#,
        // In a key, not a value: keywords search values.
        r#"{"sekurlsa::": 1}"#,
        // Split across two strings.
        r#"{"a": "sekur", "b": "lsa::"}"#,
        // A backslash escape that is not the needle's: `\\t` is a backslash and a t.
        r#"{"a": "C:\\tools\\mimi\\\"katz"}"#,
        // An even run of backslashes before `u0073`: escaped backslashes, then plain text.
        r#"{"a": "\\\\u0073ekurlsa::"}"#,
        // Non-ASCII text without a needle.
        r#"{"user": "Jürgen", "a": "sekurl ÄÖÜ"}"#,
    ];
    for text in quiet {
        assert!(!fires(&engine, text), "should not fire: {text}");
    }
}

#[test]
fn needles_without_a_slash_are_found_beside_escaped_slashes() {
    // No needle holds a `/`: a `\/` in the text cannot hide one, so the text is searched without
    // looking for it; a `\u` escape still sends the search string by string.
    let rule = RULE.replace("        - 'C:\\Tools\\mimi\"katz'\n        - '/evil/path'\n", "        - 'mimi\"katz'\n");
    assert!(!rule.contains("/evil"), "the rule lost its slashed needle");
    let (out, engine) = compile("keywords.yml", &rule, &Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let engine = engine.expect("the rule compiles");
    for text in [
        r#"{"a": "x\/y", "b": "SEKURLSA::"}"#,
        r#"{"a": "x\/y sekurl\u0073a::"}"#,
        r#"{"a": "\/mimi\"katz\/"}"#,
        r#"{"a": "mimi\u0022katz", "b": "\/"}"#,
    ] {
        assert!(fires(&engine, text), "should fire: {text}");
    }
    for text in [r#"{"a": "x\/y"}"#, r#"{"a": "sekurlsa:\/:"}"#, r#"{"a": "mimi\/katz"}"#] {
        assert!(!fires(&engine, text), "should not fire: {text}");
    }
}
