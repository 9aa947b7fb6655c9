//! Test-only module: the engine's [`Prefilter`] checked and timed where it matters, inside
//! WebAssembly. Built for wasm32-unknown-unknown with simd128 (`scripts/build-wasm.sh`), it is
//! the simd128 Teddy; `wasm-host/tests/prefilter_wasm.rs` runs its exports under wasmtime and
//! `wasm-host/examples/prefilter_bench.rs` times them. No imports; it never ships.

use aho_corasick::AhoCorasick;
use sigil_engine::prefilter::cases::{
    automaton_leftmost, case, cased_case, event_values, naive_leftmost, naive_leftmost_cased, Rng, SIGMA_NEEDLES,
};
use sigil_engine::prefilter::{MixedCase, Prefilter};

/// How many of `cases` seeded random cases the prefilter answers differently from
/// aho-corasick's least overlapping start (or from brute force): 0 when all agree.
#[no_mangle]
pub extern "C" fn check(seed: u64, cases: u32) -> u32 {
    disagreements(seed, cases, |rng| {
        let c = case(rng);
        let expected = automaton_leftmost(&c.needles, &c.haystack).ok()?;
        // 1..=64 non-empty needles: a prefilter must be built for them.
        let agrees = Prefilter::new(&c.needles).is_some_and(|p| p.find(&c.haystack) == expected);
        Some(agrees && expected == naive_leftmost(&c.needles, &c.haystack))
    })
}

/// How many of `cases` seeded random cases of needles, each exact or ASCII case-insensitive,
/// the mixed-case search answers differently from brute force (searching from a random
/// offset): 0 when all agree.
#[no_mangle]
pub extern "C" fn check_cases(seed: u64, cases: u32) -> u32 {
    disagreements(seed, cases, |rng| {
        let c = cased_case(rng);
        let needles = c.needles();
        let from = rng.below(c.haystack.len() + 2);
        let expected = naive_leftmost_cased(&needles, c.haystack.get(from..).unwrap_or_default()).map(|at| at + from);
        // 1..=64 non-empty needles: the search must be built for them.
        Some(MixedCase::new(&needles).is_some_and(|m| m.find_from(&c.haystack, from) == expected))
    })
}

/// How many of `cases` seeded cases `agrees` says no to; `u32::MAX` when one cannot be checked
/// at all (`None`: the oracle's automaton would not build).
fn disagreements(seed: u64, cases: u32, mut agrees: impl FnMut(&mut Rng) -> Option<bool>) -> u32 {
    let mut rng = Rng::new(seed);
    let mut count = 0;
    for _ in 0..cases {
        match agrees(&mut rng) {
            Some(true) => {}
            Some(false) => count += 1,
            None => return u32::MAX,
        }
    }
    count
}

/// Searches `rounds` times over a fixed set of event-like values (most holding no needle) with
/// 20 Sigma needles: by the prefilter (`mode` 0) or by the aho-corasick automaton the guest used
/// before it (`mode` 1). Returns a checksum of the answers, equal for both modes.
#[no_mangle]
pub extern "C" fn bench(mode: u32, rounds: u32) -> u64 {
    let needles: Vec<String> = SIGMA_NEEDLES[..20].iter().map(|n| n.to_string()).collect();
    let values = event_values();
    let total = |find: &dyn Fn(&[u8]) -> Option<usize>| {
        let mut sum = 0u64;
        for _ in 0..rounds {
            for v in &values {
                sum = sum.wrapping_add(find(v).map_or(1, |at| at as u64 + 2));
            }
        }
        sum
    };
    if mode == 0 {
        let Some(prefilter) = Prefilter::new(&needles) else { return 0 };
        total(&|v| prefilter.find(v))
    } else {
        let Ok(ac) = AhoCorasick::new(&needles) else { return 0 };
        total(&|v| ac.find_overlapping_iter(v).map(|m| m.start()).min())
    }
}
