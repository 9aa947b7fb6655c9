//! The smaller regex that answers "does this pattern match somewhere in the text?" exactly as
//! the whole pattern does. A Sigma `|re` is a search (Python's `re.search`), and a rule only
//! asks whether it matches, never where or how far: so at either end of the pattern, a part that
//! can match the empty string adds nothing, and a repetition `X{n,m}` needs only its `X{n}`.
//! SigmaHQ's `-k\s\w{1,64}(?:\s?(?:-p|-s))?` asks no more than `-k\s\w`, and builds in 0.2 ms
//! instead of 20 ms (64 copies of Unicode's `\w`, forwards and in reverse).
//!
//! Why that is exact: if `A` matches a piece of the text, `A` followed by something that
//! matches the empty string matches the same piece; and any piece matching `A` followed by
//! something holds a piece matching `A`. The same holds at the start. A part that asserts
//! something (`^`, `$`, `\b`) is never dropped: it matches no text, but it can fail.
//!
//! This module only rewrites a parsed pattern; building it under Sigil's bounds is
//! [`crate::matcher`]'s job.

use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

/// `hir` with what a yes/no search does not need removed from both ends, or `None` when
/// nothing can be.
pub fn for_is_match(hir: &Hir) -> Option<Hir> {
    let core = trim(&trim(hir, End::Last), End::First);
    (core != *hir).then_some(core)
}

#[derive(Clone, Copy)]
enum End {
    First,
    Last,
}

/// `hir` without the parts at `end` a search can do without.
fn trim(hir: &Hir, end: End) -> Hir {
    if can_drop(hir) {
        return Hir::empty();
    }
    match hir.kind() {
        HirKind::Concat(subs) => {
            let mut subs = subs.clone();
            while subs.len() > 1 && can_drop(edge(&subs, end)) {
                match end {
                    End::First => subs.remove(0),
                    End::Last => subs.pop().expect("more than one part"),
                };
            }
            let at = match end {
                End::First => 0,
                End::Last => subs.len() - 1,
            };
            subs[at] = trim(&subs[at], end);
            Hir::concat(subs)
        }
        HirKind::Capture(capture) => {
            Hir::capture(Capture { sub: Box::new(trim(&capture.sub, end)), ..capture.clone() })
        }
        // `X{n,m}` is `X{n}` followed (or preceded) by `X{0,m-n}`, which can match nothing.
        HirKind::Repetition(rep) if rep.max != Some(rep.min) && asserts_nothing(&rep.sub) => {
            Hir::repetition(Repetition { max: Some(rep.min), ..rep.clone() })
        }
        _ => hir.clone(),
    }
}

fn edge(subs: &[Hir], end: End) -> &Hir {
    match end {
        End::First => &subs[0],
        End::Last => &subs[subs.len() - 1],
    }
}

/// Whether `hir` can match the empty string and asserts nothing about where it is.
fn can_drop(hir: &Hir) -> bool {
    hir.properties().minimum_len() == Some(0) && asserts_nothing(hir)
}

fn asserts_nothing(hir: &Hir) -> bool {
    hir.properties().look_set().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefilter::cases::Rng;

    fn parse(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new().build().parse(pattern).expect(pattern)
    }

    fn core_of(pattern: &str) -> String {
        for_is_match(&parse(pattern)).map_or_else(|| pattern.to_string(), |core| core.to_string())
    }

    #[test]
    fn what_can_match_nothing_goes_from_both_ends() {
        assert_eq!(for_is_match(&parse(r"-k\s\w{1,64}(?:\s?(?:-p|-s))?")), Some(parse(r"-k\s\w")));
        assert_eq!(for_is_match(&parse(r".*foo.+bar.*")), Some(parse(r"foo.+bar")));
        assert_eq!(for_is_match(&parse(r"(ab{2,}c*)")), Some(parse(r"(ab{2})")));
        assert_eq!(for_is_match(&parse(r"x?")), Some(Hir::empty()));
        assert_eq!(for_is_match(&parse(r"(?m)a*$")), Some(parse(r"(?m)$")));
    }

    #[test]
    fn assertions_and_exact_patterns_are_kept() {
        for pattern in [r"^.*foo.*$", r"foo\b", r"\bfoo", r"(?m)^a*$", r"foo", r"a{3}", r"(?:a|b)c"] {
            assert_eq!(for_is_match(&parse(pattern)), None, "{pattern}");
        }
    }

    /// Each pattern and its core, against the regex crate, on random texts over the pattern's
    /// own characters.
    #[test]
    fn the_core_matches_where_the_pattern_does() {
        const PATTERNS: &[&str] = &[
            r"-k\s\w{1,64}(?:\s?(?:-p|-s))?",
            r"a{1,3}b?",
            r"b*a{2,4}",
            r"(a|b)+c?",
            r"(?:ab)*c(?:a|b){0,2}",
            r"\ba{1,2}",
            r"a{1,2}\b",
            r"^a+b*",
            r"a+b*$",
            r"(?m)^b{1,3}",
            r"(a?)(b+)(c*)",
            r"((a{2,3})b?)?c",
            r"[^a]{1,3}b*",
            r"x?",
            r"(?i)A{1,3}B?",
            r"(?s)a.{0,3}",
            r"(?i)É+K?",
            r"(?m)a*$",
        ];
        let mut rng = Rng::new(7);
        let alphabet: Vec<char> = "abckABK- \nps_éÉ\u{212A}".chars().collect();
        let mut differ = Vec::new();
        let rewritten = PATTERNS.iter().filter(|p| for_is_match(&parse(p)).is_some()).count();
        assert!(rewritten >= PATTERNS.len() - 4, "only {rewritten} patterns rewritten");
        for pattern in PATTERNS {
            let whole = regex::Regex::new(pattern).unwrap();
            let core = regex::Regex::new(&core_of(pattern)).unwrap();
            for _ in 0..3_000 {
                let text: String = (0..rng.below(9)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
                if whole.is_match(&text) != core.is_match(&text) {
                    differ.push((pattern, core_of(pattern), text));
                }
            }
        }
        assert!(differ.is_empty(), "{differ:?}");
    }
}
