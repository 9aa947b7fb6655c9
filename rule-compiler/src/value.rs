//! Sigma strings: escapes, wildcards and placeholders → tokens; and the string transformations
//! the modifiers apply to them (windash, UTF-16, base64, base64offset).
//!
//! Escapes follow the specification (SIGMA.md §2): `\` escapes `*`, `?` and `\` (and `%` under
//! `expand`); before any other character it stays a literal backslash; a trailing `\` is kept.
//! This module works on single values; which modifiers apply in which order is decided in
//! [`crate::modifiers`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sigil_engine::plan::Token;

/// A token of a Sigma string before placeholders are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Tok(Token),
    Placeholder(String),
}

/// Parses a Sigma string. With `expand`, `%name%` is a placeholder and `\%` a literal `%`.
pub fn parse_sigma_string(s: &str, expand: bool) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut Vec<Piece>| {
        if !lit.is_empty() {
            out.push(Piece::Tok(Token::Lit(std::mem::take(lit))));
        }
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n) if n == '*' || n == '?' || n == '\\' || (expand && n == '%') => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' => {
                flush(&mut lit, &mut out);
                out.push(Piece::Tok(Token::AnyString));
            }
            '?' => {
                flush(&mut lit, &mut out);
                out.push(Piece::Tok(Token::AnyChar));
            }
            '%' if expand => {
                let rest: String = chars.clone().collect();
                match rest.find('%') {
                    Some(end) if end > 0 => {
                        flush(&mut lit, &mut out);
                        out.push(Piece::Placeholder(rest[..end].to_string()));
                        for _ in 0..rest[..=end].chars().count() {
                            chars.next();
                        }
                    }
                    _ => lit.push('%'),
                }
            }
            _ => lit.push(c),
        }
    }
    flush(&mut lit, &mut out);
    out
}

/// Tokens of a string without placeholders (placeholder values, plain values).
pub fn tokens(s: &str) -> Vec<Token> {
    parse_sigma_string(s, false)
        .into_iter()
        .map(|p| match p {
            Piece::Tok(t) => t,
            Piece::Placeholder(_) => unreachable!("placeholders only exist under expand"),
        })
        .collect()
}

pub fn has_wildcards(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| !matches!(t, Token::Lit(_)))
}

/// The literal text of wildcard-free tokens.
pub fn literal_text(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Lit(s) => s.as_str(),
            _ => "",
        })
        .collect()
}

/// Merges adjacent literals and collapses runs of `*`, so equal patterns compare equal.
pub fn normalize(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens {
        match (out.last_mut(), t) {
            (Some(Token::Lit(prev)), Token::Lit(s)) => prev.push_str(&s),
            (Some(Token::AnyString), Token::AnyString) => {}
            (_, Token::Lit(s)) if s.is_empty() => {}
            (_, t) => out.push(t),
        }
    }
    out
}

pub fn wrap(mut tokens: Vec<Token>, leading: bool, trailing: bool) -> Vec<Token> {
    if leading && tokens.first() != Some(&Token::AnyString) {
        tokens.insert(0, Token::AnyString);
    }
    if trailing && tokens.last() != Some(&Token::AnyString) {
        tokens.push(Token::AnyString);
    }
    tokens
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Every variant of `tokens` with each `-` or `/` that starts a word replaced by each of the
/// five dashes. `None` when there would be more than `limit` variants.
pub fn windash(tokens: &[Token], limit: usize) -> Option<Vec<Vec<Token>>> {
    let mut variants: Vec<Vec<Token>> = vec![Vec::new()];
    let mut prev_is_word = false;
    for (i, t) in tokens.iter().enumerate() {
        let Token::Lit(s) = t else {
            for v in &mut variants {
                v.push(t.clone());
            }
            prev_is_word = false;
            continue;
        };
        let chars: Vec<char> = s.chars().collect();
        let mut parts: Vec<Vec<String>> = vec![vec![String::new()]];
        for (j, &c) in chars.iter().enumerate() {
            let next = chars.get(j + 1).copied().or_else(|| match tokens.get(i + 1) {
                Some(Token::Lit(n)) => n.chars().next(),
                _ => None,
            });
            let prev_word = if j == 0 { prev_is_word } else { is_word(chars[j - 1]) };
            if (c == '-' || c == '/') && !prev_word && next.is_some_and(is_word) {
                parts.push(DASHES.iter().map(|d| d.to_string()).collect());
                parts.push(vec![String::new()]);
            } else {
                parts.last_mut().unwrap()[0].push(c);
            }
        }
        prev_is_word = chars.last().is_some_and(|&c| is_word(c));
        for alternatives in parts {
            if alternatives.len() == 1 {
                for v in &mut variants {
                    v.push(Token::Lit(alternatives[0].clone()));
                }
            } else {
                if variants.len() * alternatives.len() > limit {
                    return None;
                }
                variants = variants
                    .iter()
                    .flat_map(|v| {
                        alternatives.iter().map(move |a| {
                            let mut v = v.clone();
                            v.push(Token::Lit(a.clone()));
                            v
                        })
                    })
                    .collect();
            }
        }
    }
    Some(variants.into_iter().map(normalize).collect())
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Utf16 {
    Le,
    Be,
    /// Little endian with a byte-order mark, as Windows writes it.
    LeBom,
}

pub fn utf16(s: &str, kind: Utf16) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if kind == Utf16::LeBom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in s.encode_utf16() {
        let bytes = if kind == Utf16::Be { unit.to_be_bytes() } else { unit.to_le_bytes() };
        out.extend_from_slice(&bytes);
    }
    out
}

pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The three strings that appear in the base64 of any text containing `bytes`, whatever its
/// alignment (pySigma's algorithm).
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [isize; 3] = [0, -3, -2];
    (0..3)
        .map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend_from_slice(bytes);
            let encoded = STANDARD.encode(&shifted);
            let end_adjust = END[(bytes.len() + i) % 3];
            let end = if end_adjust == 0 { encoded.len() } else { (encoded.len() as isize + end_adjust) as usize };
            encoded[START[i]..end.max(START[i])].to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(s: &str) -> Vec<Token> {
        tokens(s)
    }

    #[test]
    fn escapes_follow_the_specification() {
        use Token::*;
        let l = |s: &str| Lit(s.to_string());
        assert_eq!(lits(r"C:\Windows\*"), vec![l(r"C:\Windows*")]);
        assert_eq!(lits(r"a\\*"), vec![l(r"a\"), AnyString]);
        assert_eq!(lits(r"a\\\*"), vec![l(r"a\*")]);
        assert_eq!(lits(r"\\\\"), vec![l(r"\\")]);
        assert_eq!(lits(r"\\\a"), vec![l(r"\\a")]);
        assert_eq!(lits(r"end\"), vec![l(r"end\")]);
        assert_eq!(lits(r"a?b"), vec![l("a"), AnyChar, l("b")]);
    }

    #[test]
    fn base64offset_vectors_from_sigma_md() {
        assert_eq!(base64_offsets(b"foobar"), vec!["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]);
        assert_eq!(base64_offsets(b"http://"), vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]);
        assert_eq!(
            base64_offsets(&utf16("Add-MpPreference ", Utf16::Le)),
            vec![
                "QQBkAGQALQBNAHAAUAByAGUAZgBlAHIAZQBuAGMAZQAgA",
                "EAZABkAC0ATQBwAFAAcgBlAGYAZQByAGUAbgBjAGUAIA",
                "BAGQAZAAtAE0AcABQAHIAZQBmAGUAcgBlAG4AYwBlACAA"
            ]
        );
        assert_eq!(base64(&utf16("http://", Utf16::LeBom)), "//5oAHQAdABwADoALwAvAA==");
    }

    #[test]
    fn windash_expands_only_word_starting_dashes() {
        let v = windash(&lits("-param-1 -param2"), 10_000).unwrap();
        assert_eq!(v.len(), 25);
        assert!(v.contains(&lits("/param-1 /param2")));
        assert!(!v.iter().any(|t| t == &lits("/param/1 -param2")));
    }
}
