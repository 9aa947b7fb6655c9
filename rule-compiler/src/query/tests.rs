//! Unit tests of the query parser and renderer; the behaviour over events is in
//! `tests/queries/*.yml`.

use super::*;

fn items(text: &str) -> Vec<Item> {
    parse(text).unwrap().items
}

#[test]
fn juxtaposition_is_and_and_precedence_is_not_and_or() {
    let q = parse("a b or not c d").unwrap();
    let not_c = Cond::Not(Box::new(Cond::Item(2)));
    assert_eq!(
        q.condition,
        Cond::Or(vec![Cond::And(vec![Cond::Item(0), Cond::Item(1)]), Cond::And(vec![not_c, Cond::Item(3)])])
    );
}

#[test]
fn field_values_quotes_and_columns() {
    let got = items(r#"CommandLine|contains|all=-enc,"a, \"b\"" x"#);
    let Item::Field { key, column, values } = &got[0] else { panic!("{got:?}") };
    assert_eq!((key.as_str(), *column), ("CommandLine|contains|all", 1));
    assert_eq!(values[0], Value { text: "-enc".into(), quoted: false, column: 26 });
    assert_eq!(values[1], Value { text: "a, \"b\"".into(), quoted: true, column: 31 });
    assert_eq!(got[1], Item::Keyword(Value { text: "x".into(), quoted: false, column: 42 }));
}

#[test]
fn regex_with_flags_and_escaped_slash() {
    assert_eq!(items(r"/a\/b\d/i"), vec![Item::Regex { pattern: r"a/b\d".into(), flags: "i".into(), column: 1 }]);
}

#[test]
fn rendering_keeps_numbers_and_null_plain_and_quotes_the_rest() {
    let q = parse(r#"EventID=4688 f=null g="null" h=a:b"#).unwrap();
    let doc = render(&q, &LogSource::default()).document;
    assert!(doc.contains("      - 4688\n"), "{doc}");
    assert!(doc.contains("      - null\n"), "{doc}");
    assert!(doc.contains("      - \"null\"\n"), "{doc}");
    assert!(doc.contains("      - \"a:b\"\n"), "{doc}");
    assert!(doc.contains("condition: \"item1 and item2 and item3 and item4\""), "{doc}");
}

#[test]
fn errors_name_their_column() {
    let col = |q: &str| parse(q).unwrap_err().column;
    assert_eq!(col("a and"), 6);
    assert_eq!(col("(a or b"), 1);
    assert_eq!(col("a )"), 3);
    assert_eq!(col("x=\"abc"), 3);
    assert_eq!(col("/abc/q"), 6);
    assert_eq!(col("=x"), 1);
    assert_eq!(col("f=a,"), 5);
    assert_eq!(col(""), 1);
    let deep = "(".repeat(MAX_DEPTH + 1) + "a" + &")".repeat(MAX_DEPTH + 1);
    assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
}

#[test]
fn compiler_errors_map_back_to_the_query() {
    let options = Options::default();
    let at = |q: &str| compile(q, &LogSource::default(), &options).unwrap_err();
    let e = at("a=1 ip|cidr=10.0.0.1/8");
    assert_eq!(e.column, 13, "{e:?}");
    assert!(e.message.contains("host bits"), "{e:?}");
    let e = at("x CommandLine|bogus=1");
    assert_eq!(e.column, 15, "{e:?}");
    assert!(e.message.contains("unknown modifier 'bogus'"), "{e:?}");
    let e = at("ok /a(/");
    assert_eq!(e.column, 4, "{e:?}");
}

#[test]
fn hostile_lines_are_refused_at_a_column_inside_the_line_never_with_a_panic() {
    // Every short line over the characters that mean something to the scanner, the renderer or
    // YAML, compiled: it compiles, or it is refused at a column of the line (or just past it).
    let alphabet = ['"', '\\', '/', '(', ')', '=', ',', '|', ' ', 'a', '*', 'é', '\t', ':', '#', '\'', 'n', 'i'];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let options = Options::default();
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 9) as usize;
        let line: String =
            (0..len).map(|i| alphabet[((seed >> (i * 5 + 8)) % alphabet.len() as u64) as usize]).collect();
        if let Err(e) = compile(&line, &LogSource::default(), &options) {
            let width = line.chars().count() + 1;
            assert!(
                (1..=width).contains(&e.column),
                "`{line}`: column {} outside 1..={width}: {}",
                e.column,
                e.message
            );
        }
    }
}
