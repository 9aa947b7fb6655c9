//! The generic Teddy (on the portable vector) and the target's [`Prefilter`] against
//! aho-corasick's leftmost start and a brute-force search, on thousands of seeded random cases.

use super::cases::{automaton_leftmost, case, naive_leftmost, Rng};
use super::teddy::Teddy;
use super::vector::Portable;
use super::Prefilter;

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
