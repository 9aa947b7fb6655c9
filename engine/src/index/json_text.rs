//! Whether any of a scan's needles can be in an event at all, decided on the event's JSON text
//! in one pass, before any of its strings is looked at: a keyword scan (every string of the
//! event is its haystack) that this rules out costs one search instead of one per string.
//!
//! The needles are searched as JSON writes them (`\` and `"` escaped), ignoring ASCII case, in
//! the text as it is: the answer is exact because the only other ways a string can hold a
//! needle its text does not show are looked for in the same pass, and any of them makes the
//! answer "maybe":
//! - an escape of a character JSON could have written plainly: `\u0041`, and `\/` when a needle
//!   holds a slash (other escapes decode to control characters, which no needle holds);
//! - a character outside ASCII whose lower case is ASCII (the Kelvin sign, and the capital I
//!   with a dot), when a needle holds the letter it lowers to.
//!
//! Where that one-pass search cannot be built (more than 64 needles, or a CPU without the
//! vector shuffle it runs on: AVX2 natively, simd128 in Wasm) the text is checked for those
//! escapes, folded, and searched for the needles alone. (Folding the whole text folds each
//! string as the matchers do: a character's lower case depends on its neighbours only for a
//! capital sigma, which never lowers to ASCII, so it cannot make or break an ASCII needle.) This
//! module never decides a predicate: it only rules a whole scan out.

use crate::fold::with_folded;
use crate::prefilter::{Case, MixedCase, Prefilter};

/// A scan's needles as JSON writes them, to search an event's whole text for.
#[derive(Debug)]
pub struct InJsonText {
    search: Search,
    /// Whether a needle holds a `/`: only then can a `\/` escape hide one.
    has_slash: bool,
}

#[derive(Debug)]
enum Search {
    /// Over the text as it is: the needles ignoring ASCII case, and what could hide one.
    Unfolded(MixedCase),
    /// Over the folded text, once it has been checked for escapes.
    Folded(Prefilter),
}

/// The characters outside ASCII whose lower case holds an ASCII letter, with that letter, and
/// how JSON escapes them (`\u` is always followed by lower-case `u`, then four hex digits, of
/// which these first three are digits).
const LOWERING_TO_ASCII: [(&str, u8, &str); 2] = [("\u{212A}", b'k', "\\u212"), ("\u{130}", b'i', "\\u013")];

/// How JSON escapes an ASCII character (and every other of the first 256).
const ASCII_ESCAPE: &str = "\\u00";

impl InJsonText {
    /// `None` when a needle cannot be written as JSON text this way (it holds a character
    /// outside printable ASCII) or no prefilter can be built.
    pub fn new(needles: &[Vec<u8>]) -> Option<InJsonText> {
        let (escaped, has_slash) = as_json_text(needles)?;
        let has_letter = |letter: u8| needles.iter().any(|n| n.contains(&letter));
        let mut unfolded: Vec<(&[u8], Case)> = escaped.iter().map(|n| (n.as_bytes(), Case::Ascii)).collect();
        // Escapes as long as a fingerprint, so that they do not flag every `\\` of a path.
        unfolded.push((ASCII_ESCAPE.as_bytes(), Case::Exact));
        if has_slash {
            unfolded.push((b"\\/", Case::Exact));
        }
        for (character, letter, escaped) in LOWERING_TO_ASCII {
            if has_letter(letter) {
                unfolded.push((character.as_bytes(), Case::Exact));
                unfolded.push((escaped.as_bytes(), Case::Exact));
            }
        }
        match MixedCase::new(&unfolded) {
            Some(search) => Some(InJsonText { search: Search::Unfolded(search), has_slash }),
            None => Self::folded(&escaped, has_slash),
        }
    }

    /// The search over folded text, for `escaped` (needles as JSON writes them).
    fn folded(escaped: &[String], has_slash: bool) -> Option<InJsonText> {
        Some(InJsonText { search: Search::Folded(Prefilter::new(escaped)?), has_slash })
    }

    /// Whether no needle can occur in any string of the JSON document `text` once folded.
    pub fn absent_from(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        match &self.search {
            Search::Unfolded(search) => {
                let mut from = 0;
                while let Some(at) = search.find_from(bytes, from) {
                    // A real needle never starts with `\u` or `\/`: its backslashes are escaped.
                    let rest = &bytes[at..];
                    let plain_escape_sign = rest.starts_with(b"\\u") || (self.has_slash && rest.starts_with(b"\\/"));
                    if !plain_escape_sign || escapes_at(bytes, at) {
                        return false;
                    }
                    from = at + 1;
                }
                true
            }
            Search::Folded(prefilter) => {
                if has_escape_of_plain_char(bytes, self.has_slash) {
                    return false;
                }
                with_folded(text, |hay| prefilter.find(hay.as_bytes()).is_none())
            }
        }
    }
}

/// The needles as JSON writes them, and whether one holds a `/`; `None` when one cannot be
/// written so.
fn as_json_text(needles: &[Vec<u8>]) -> Option<(Vec<String>, bool)> {
    let escaped = needles.iter().map(|n| std::str::from_utf8(n).ok().and_then(json_escaped));
    Some((escaped.collect::<Option<_>>()?, needles.iter().any(|n| n.contains(&b'/'))))
}

/// A needle as it appears in JSON text, when serde_json's escapes are the only ones possible
/// (printable ASCII: `\` and `"` are the only characters escaped).
fn json_escaped(needle: &str) -> Option<String> {
    let mut out = String::with_capacity(needle.len() + 2);
    for c in needle.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// Whether the backslash at `at` starts an escape: an even number of backslashes before it.
fn escapes_at(bytes: &[u8], at: usize) -> bool {
    bytes[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
}

/// Whether JSON text escapes a character that could also be written plainly (`\u0041`, and `\/`
/// when `slash` is set): then a needle may be in a string without its plain form being in the
/// text. (A `\/` decodes to `/` alone, so needles without one cannot be hidden by it: checking
/// for it would be a second pass over the text for nothing.)
fn has_escape_of_plain_char(bytes: &[u8], slash: bool) -> bool {
    // Windows events hold a backslash every few bytes (`C:\\Windows`), so stopping at each one
    // costs more than the search it guards. `\u` and `\/` are rare: find them, then count the
    // backslashes before each to tell an escape from an escaped backslash followed by `u` or `/`.
    let slashes = slash.then(|| memchr::memmem::find_iter(bytes, b"\\/")).into_iter().flatten();
    memchr::memmem::find_iter(bytes, b"\\u").chain(slashes).any(|at| escapes_at(bytes, at))
}

#[cfg(test)]
impl InJsonText {
    /// The fallback search alone, to test it where the one-pass search builds.
    fn folded_only(needles: &[Vec<u8>]) -> Option<InJsonText> {
        let (escaped, has_slash) = as_json_text(needles)?;
        Self::folded(&escaped, has_slash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::folded;
    use crate::json::Json;
    use crate::prefilter::cases::Rng;

    #[test]
    fn the_listed_characters_are_all_that_lower_to_ascii() {
        let mut lowering: Vec<(char, char)> = (0x80..=0x10_FFFF)
            .filter_map(char::from_u32)
            .filter_map(|c| c.to_lowercase().find(char::is_ascii).map(|lower| (c, lower)))
            .collect();
        let mut listed: Vec<(char, char)> =
            LOWERING_TO_ASCII.iter().map(|(c, letter, _)| (c.chars().next().unwrap(), char::from(*letter))).collect();
        lowering.sort();
        listed.sort();
        assert_eq!(lowering, listed);
    }

    /// Whether a needle is in a string of `doc`, folded, as the scans decide it.
    fn in_some_string(doc: &Json<'_>, needles: &[Vec<u8>]) -> bool {
        let mut found = false;
        crate::event::any_string(doc, &mut |s| {
            let hay = folded(s);
            found = needles.iter().any(|n| memchr::memmem::find(hay.as_bytes(), n).is_some());
            found
        });
        found
    }

    /// A JSON string's body: characters that fold, escape and hide needles, written plainly or
    /// escaped at random.
    fn random_string(rng: &mut Rng, out: &mut String) {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "K",
            "k",
            "I",
            "i",
            "/",
            "u",
            "0",
            "7",
            "\\\\",
            "\\\"",
            "\\/",
            "\\u0041",
            "\\u0062",
            "\\u004b",
            "\\u002f",
            "\\u005c",
            "\\n",
            "\u{212a}",
            "\u{130}",
            "\u{3a3}",
            "é",
            "\\u212a",
            "\\u0130",
            "\\ud83d\\ude00",
            " ",
        ];
        for _ in 0..rng.below(12) {
            out.push_str(PIECES[rng.below(PIECES.len())]);
        }
    }

    #[test]
    fn absence_is_never_claimed_for_a_needle_that_is_there() {
        const ALPHABET: &[u8] = b"abkiKI/u\\\" 0";
        let mut rng = Rng::new(11);
        let (mut absent, mut present) = (0, 0);
        for case in 0..20_000 {
            let needles: Vec<Vec<u8>> = (0..1 + rng.below(4))
                .map(|_| {
                    (0..1 + rng.below(3)).map(|_| ALPHABET[rng.below(ALPHABET.len())].to_ascii_lowercase()).collect()
                })
                .collect();
            let mut text = String::from("{");
            for field in 0..rng.below(4) {
                text.push_str(&format!("{}\"f{field}\": \"", if field > 0 { "," } else { "" }));
                random_string(&mut rng, &mut text);
                text.push('"');
            }
            text.push('}');
            let doc = Json::parse(&text).unwrap_or_else(|e| panic!("case {case}: {text}: {e}"));
            let truth = in_some_string(&doc, &needles);
            for search in [InJsonText::new(&needles), InJsonText::folded_only(&needles)].into_iter().flatten() {
                let claimed_absent = search.absent_from(&text);
                assert!(!(truth && claimed_absent), "case {case}: needles {needles:?} in {text}, {:?}", search.search);
                if claimed_absent {
                    absent += 1;
                } else {
                    present += 1;
                }
            }
        }
        // Both answers are given often: the search rules out, and is not merely cautious.
        assert!(absent > 5_000 && present > 5_000, "absent {absent}, present {present}");
    }

    #[test]
    fn the_one_pass_search_rules_out_and_lets_through() {
        // (Natively on AVX2, where the CPU has it; elsewhere the unit tests' portable vector.)
        let search = InJsonText::new(&[b"sekurlsa::".to_vec()]).expect("built");
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the one-pass search is not built natively; skipped");
            return;
        }
        assert!(matches!(search.search, Search::Unfolded(_)));
        assert!(search.absent_from(r#"{"a": "C:\\Users\\x", "b": "c:\\u0073ekurlsa::"}"#));
        assert!(!search.absent_from(r#"{"a": "SEKURLSA::"}"#));
        assert!(!search.absent_from(r#"{"a": "\u0073ekurlsa::"}"#));
    }
}
