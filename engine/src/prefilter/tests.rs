//! The generic Teddy (on the portable vector) and the target's [`Prefilter`] against
//! aho-corasick's leftmost start and a brute-force search, on thousands of seeded random cases.

use super::cases::{automaton_leftmost, case, cased_case, naive_leftmost, naive_leftmost_cased, Rng};
use super::teddy::Teddy;
use super::vector::Portable;
use super::{MixedCase, Occurrences, Prefilter, DENSE_GAP, DENSE_STARTS};

/// Every occurrence of every needle, by brute force: (needle, start), by start then needle.
fn naive_occurrences(needles: &[String], haystack: &[u8], from: usize) -> Vec<(usize, usize)> {
    (from..haystack.len())
        .flat_map(|at| (0..needles.len()).map(move |n| (n, at)))
        .filter(|&(n, at)| haystack[at..].starts_with(needles[n].as_bytes()))
        .collect()
}

#[test]
fn teddy_finds_the_leftmost_start_on_random_cases() {
    let mut rng = Rng::new(20);
    let mut built = 0;
    for i in 0..6000 {
        let c = case(&mut rng);
        let expected = automaton_leftmost(&c.needles, &c.haystack).expect("small automaton");
        assert_eq!(expected, naive_leftmost(&c.needles, &c.haystack), "oracles disagree on case {i}");
        let teddy = Teddy::<Portable>::new(&c.needles).expect("1..=64 non-empty needles");
        assert_eq!(
            teddy.find(&c.haystack),
            expected,
            "case {i}: needles {:?} haystack {:?}",
            c.needles,
            String::from_utf8_lossy(&c.haystack)
        );
        // aho-corasick's packed searcher declines some sets (natively the index then runs the
        // automaton from the start, as it always did); what it builds must agree.
        if let Some(prefilter) = Prefilter::new(&c.needles) {
            built += 1;
            assert_eq!(prefilter.find(&c.haystack), expected, "prefilter, case {i}");
        }
    }
    assert!(built > 3000, "the packed searcher built for only {built} of 6000 cases");
}

#[test]
fn teddy_finds_needles_at_every_block_edge_and_at_the_end() {
    let needles = vec!["xyz".to_string(), "q".to_string(), "mimikatz".to_string()];
    let teddy = Teddy::<Portable>::new(&needles).expect("built");
    for len in 0..80 {
        for (n, needle) in needles.iter().enumerate() {
            for at in 0..=len {
                if at + needle.len() > len {
                    continue;
                }
                let mut hay = vec![b'.'; len];
                hay[at..at + needle.len()].copy_from_slice(needle.as_bytes());
                assert_eq!(teddy.find(&hay), Some(at), "needle {n} at {at} of {len}");
            }
        }
        assert_eq!(teddy.find(&vec![b'.'; len]), None);
    }
}

#[test]
fn prefilter_refuses_what_it_cannot_help_with() {
    assert!(Prefilter::new(&[]).is_none());
    assert!(Prefilter::new(&["a".to_string(), String::new()]).is_none());
    let many: Vec<String> = (0..=super::MAX_NEEDLES).map(|i| format!("needle{i}")).collect();
    assert!(Prefilter::new(&many).is_none());
    assert!(Teddy::<Portable>::new(&many).is_none());
    assert!(Teddy::<Portable>::new(&many[..super::MAX_NEEDLES]).is_some());
}

#[test]
fn teddy_fingerprint_bytes_with_every_nibble() {
    // Bytes whose nibbles are 0 and 15 (the edges of the shuffle tables) and non-ASCII text.
    let needles = vec!["\u{0}\u{f}".to_string(), "é".to_string(), "\u{7f}".to_string()];
    let teddy = Teddy::<Portable>::new(&needles).expect("built");
    for hay in [&b"....\x00\x0f"[..], "xxé".as_bytes(), b"\x7f", b"\x00\x00\x10\x0f\xf0"] {
        assert_eq!(teddy.find(hay), naive_leftmost(&needles, hay), "{hay:?}");
    }
}

#[test]
fn occurrences_are_every_occurrence_of_every_needle_up_to_where_text_turns_dense() {
    let mut rng = Rng::new(33);
    let (mut built, mut dense) = (0, 0);
    for i in 0..6000 {
        let c = case(&mut rng);
        let Some(occurrences) = Occurrences::new(&c.needles) else { continue };
        built += 1;
        let mut got = Vec::new();
        let stopped = occurrences.each(&c.haystack, |n, start, end| {
            assert_eq!(end - start, c.needles[n].len(), "case {i}: the end of needle {n}");
            got.push((n, start));
        });
        let from = stopped.unwrap_or(c.haystack.len());
        assert!(got.iter().all(|&(_, start)| start < from), "case {i}: reported past where it stopped");
        if stopped.is_some() {
            dense += 1;
            // What is left is found by whoever goes on from there (the index: the automaton).
            got.extend(naive_occurrences(&c.needles, &c.haystack, from));
        }
        got.sort_by_key(|&(n, start)| (start, n));
        assert_eq!(
            got,
            naive_occurrences(&c.needles, &c.haystack, 0),
            "case {i}: needles {:?} haystack {:?}",
            c.needles,
            String::from_utf8_lossy(&c.haystack)
        );
    }
    assert!(built > 3000, "built for only {built} of 6000 cases");
    assert!(dense > 100, "only {dense} cases were dense: the hand-over to the automaton went untested");
}

#[test]
fn occurrences_stop_only_where_needle_starts_are_dense() {
    let needles = vec!["ntdll.dll+".to_string(), "kernelbase".to_string(), "q".to_string()];
    let occurrences = Occurrences::new(&needles).expect("built");
    let sparse = "c:\\windows\\system32\\ntdll.dll+9c584|c:\\windows\\system32\\kernelbase.dll+2730e|".repeat(50);
    let mut found = 0;
    assert_eq!(occurrences.each(sparse.as_bytes(), |_, _, _| found += 1), None);
    assert_eq!(found, 100);
    let dense = "q".repeat(1000);
    let stopped = occurrences.each(dense.as_bytes(), |_, _, _| {}).expect("every byte starts a needle");
    assert_eq!(stopped, DENSE_STARTS, "stopped after {DENSE_STARTS} starts closer than {DENSE_GAP} bytes");
}

#[test]
fn teddy_with_cases_finds_the_leftmost_start_on_random_cases() {
    let mut rng = Rng::new(21);
    for i in 0..6000 {
        let c = cased_case(&mut rng);
        let needles = c.needles();
        let expected = naive_leftmost_cased(&needles, &c.haystack);
        let show = || format!("case {i}: needles {needles:?} haystack {:?}", String::from_utf8_lossy(&c.haystack));
        let teddy = Teddy::<Portable>::with_cases(&needles).expect("1..=64 non-empty needles");
        assert_eq!(teddy.find(&c.haystack), expected, "{}", show());
        // What the engine's unit tests build natively (in Wasm: `sigil-prefilter-check`).
        let mixed = MixedCase::new(&needles).expect("built");
        let from = rng.below(c.haystack.len() + 2);
        let after = naive_leftmost_cased(&needles, c.haystack.get(from..).unwrap_or_default()).map(|at| at + from);
        assert_eq!(mixed.find_from(&c.haystack, from), after, "from {from}, {}", show());
    }
}
