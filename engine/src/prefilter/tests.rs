//! The generic Teddy (on the portable vector) and the target's [`Prefilter`] against
//! aho-corasick's leftmost start and a brute-force search, on thousands of seeded random cases.

use super::cases::{automaton_leftmost, case, cased_case, naive_leftmost, naive_leftmost_cased, Rng};
use super::teddy::Teddy;
use super::vector::Portable;
use super::{Case, MixedCase, Occurrences, Prefilter, DENSE_GAP, DENSE_STARTS};

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
    // The target's own mixed-case Teddy too (natively AVX2's 32-lane blocks, where the CPU has it).
    let cased: Vec<(&[u8], Case)> = needles.iter().map(|n| (n.as_bytes(), Case::Exact)).collect();
    let mixed = MixedCase::new(&cased);
    let find_mixed = |hay: &[u8]| mixed.as_ref().map(|m| m.find_from(hay, 0));
    for len in 0..100 {
        for (n, needle) in needles.iter().enumerate() {
            for at in 0..=len {
                if at + needle.len() > len {
                    continue;
                }
                let mut hay = vec![b'.'; len];
                hay[at..at + needle.len()].copy_from_slice(needle.as_bytes());
                assert_eq!(teddy.find(&hay), Some(at), "needle {n} at {at} of {len}");
                if mixed.is_some() {
                    assert_eq!(find_mixed(&hay), Some(Some(at)), "mixed: needle {n} at {at} of {len}");
                }
            }
        }
        assert_eq!(teddy.find(&vec![b'.'; len]), None);
        assert!(find_mixed(&vec![b'.'; len]).is_none_or(|found| found.is_none()));
    }
}

/// Natively, where the mixed-case Teddy is AVX2's: it is built wherever the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[test]
fn mixed_case_is_built_wherever_the_cpu_has_avx2() {
    let built = MixedCase::new(&[(b"sekurlsa::", Case::Ascii)]).is_some();
    assert_eq!(built, std::arch::is_x86_feature_detected!("avx2"));
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
        // The target's own (natively AVX2 where the CPU has it, else the portable one; in Wasm:
        // `sigil-prefilter-check`).
        let Some(mixed) = MixedCase::new(&needles) else { continue };
        let from = rng.below(c.haystack.len() + 2);
        let after = naive_leftmost_cased(&needles, c.haystack.get(from..).unwrap_or_default()).map(|at| at + from);
        assert_eq!(mixed.find_from(&c.haystack, from), after, "from {from}, {}", show());
    }
}

#[test]
fn needles_with_one_head_share_a_bucket_and_heads_spread_over_every_bucket() {
    // Mimikatz's keywords, as a keyword rule's scan holds them (12 heads of 4 bytes among 20),
    // and three escapes (3 heads).
    let caseless = [
        "dpapi::masterkey",
        "eo.oe.kiwi",
        "event::clear",
        "event::drop",
        "gentilkiwi.com",
        "kerberos::golden",
        "kerberos::ptc",
        "kerberos::ptt",
        "kerberos::tgt",
        "kiwi legit printer",
        "lsadump::",
        "mimidrv.sys",
        "\\\\mimilib.dll",
        "misc::printnightmare",
        "misc::shadowcopies",
        "misc::skeleton",
        "privilege::backup",
        "privilege::debug",
        "privilege::driver",
        "sekurlsa::",
    ];
    let exact = ["\\u00", "\\u013", "\\u212"];
    let needles: Vec<&[u8]> = caseless.iter().chain(&exact).map(|n| n.as_bytes()).collect();
    let head = |n: u16| &needles[usize::from(n)][..4];
    let ids = |range: std::ops::Range<usize>| range.map(|n| n as u16).collect::<Vec<u16>>();
    let buckets = super::teddy::spread(&ids(0..caseless.len()), &ids(caseless.len()..needles.len()), head);
    assert!(buckets.iter().all(|b| !b.is_empty()), "a bucket left empty: {buckets:?}");
    for n in 0..needles.len() as u16 {
        let holding: Vec<usize> =
            (0..buckets.len()).filter(|&b| buckets[b].iter().any(|&m| head(m) == head(n))).collect();
        assert_eq!(holding.len(), 1, "head {:?} is in buckets {holding:?}", String::from_utf8_lossy(head(n)));
        let exact_bucket = buckets[holding[0]].iter().all(|&m| usize::from(m) >= caseless.len());
        assert_eq!(exact_bucket, usize::from(n) >= caseless.len(), "exact and caseless needles share a bucket");
    }
    let most_heads = buckets.iter().map(|b| b.chunk_by(|&x, &y| head(x) == head(y)).count()).max();
    assert_eq!(most_heads, Some(2), "15 heads over 8 buckets: at most 2 a bucket");
}
