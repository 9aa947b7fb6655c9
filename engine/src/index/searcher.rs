//! The search for one field's needles that may sit anywhere in a value: every occurrence of
//! every needle, overlapping ones too. For up to 64 needles a SIMD prefilter finds each needle
//! start ([`Occurrences`]) and most text is never stepped through; an Aho-Corasick automaton,
//! built on first need, takes the text where needle starts come thick, and all of it for more
//! needles. Past [`DFA_NEEDLES`] the automaton starts as an NFA (cheap to build) and becomes a DFA
//! once it has searched enough text to repay the DFA's build. This module only says where
//! needles are; which predicates they decide is the index's.

use crate::prefilter::Occurrences;
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

#[derive(Debug)]
pub struct Searcher {
    /// Built on first use: a scan with a prefilter needs it only for text dense with needles.
    automaton: OnceLock<Option<AhoCorasick>>,
    /// For many needles the automaton starts as an NFA, cheap to build, and becomes a DFA once
    /// it has searched enough text to repay the DFA's build.
    upgrade: Option<Upgrade>,
    /// For few needles: a SIMD searcher (Teddy, natively and on wasm32) that finds where a
    /// needle starts many times faster than the automaton steps through text. Every start it
    /// finds is checked against the needles that begin with that byte, so that most text is
    /// never stepped through at all.
    starts: Option<Occurrences>,
}

#[derive(Debug)]
struct Upgrade {
    /// Bytes to search with the NFA before the DFA is built.
    after: usize,
    searched: AtomicUsize,
    /// Set by the thread that builds the DFA.
    building: AtomicBool,
    /// `None` when the DFA could not be built (a limit on states): the NFA stays.
    dfa: OnceLock<Option<AhoCorasick>>,
}

impl Searcher {
    pub fn new(needles: &[String]) -> Searcher {
        let needle_bytes: usize = needles.iter().map(String::len).sum();
        let upgrade = (needles.len() > DFA_NEEDLES && needle_bytes <= DFA_NEEDLE_BYTES).then(|| Upgrade {
            after: needle_bytes.saturating_mul(DFA_AFTER_BYTES_PER_NEEDLE_BYTE),
            searched: AtomicUsize::new(0),
            building: AtomicBool::new(false),
            dfa: OnceLock::new(),
        });
        Searcher { automaton: OnceLock::new(), upgrade, starts: Occurrences::new(needles) }
    }

    /// Calls `found(needle)` for every occurrence of every needle of `needles` (the list this
    /// searcher was made for) in `hay`. False when the automaton could not be built (a limit on
    /// states): occurrences may then be missing, and the caller decides the needles' predicates
    /// another way.
    pub fn each(&self, needles: &[String], hay: &[u8], mut found: impl FnMut(usize)) -> bool {
        // With a prefilter, every start of a needle is found by it and checked directly; only
        // text where needles start every few bytes is left to the automaton, from where the
        // prefilter gave up.
        let from = match &self.starts {
            Some(starts) => match starts.each(hay, |n, _, _| found(n)) {
                Some(dense_from) => dense_from,
                None => return true,
            },
            None => 0,
        };
        let Some(nfa) = self.automaton.get_or_init(|| build_automaton(needles)) else { return false };
        let ac = self.fastest(nfa, hay.len() - from, needles);
        for m in ac.find_overlapping_iter(aho_corasick::Input::new(hay).span(from..hay.len())) {
            found(m.pattern().as_usize());
        }
        true
    }

    /// The automaton to search `len` more bytes with: `nfa`, or the DFA once it pays.
    fn fastest<'s>(&'s self, nfa: &'s AhoCorasick, len: usize, needles: &[String]) -> &'s AhoCorasick {
        let Some(upgrade) = &self.upgrade else { return nfa };
        if let Some(built) = upgrade.dfa.get() {
            return built.as_ref().unwrap_or(nfa);
        }
        if upgrade.searched.fetch_add(len, Ordering::Relaxed).saturating_add(len) < upgrade.after {
            return nfa;
        }
        // One thread builds the DFA; the others go on with the NFA meanwhile instead of waiting
        // milliseconds for an optimisation.
        if upgrade.building.swap(true, Ordering::AcqRel) {
            return nfa;
        }
        let dfa =
            upgrade.dfa.get_or_init(|| AhoCorasick::builder().kind(Some(AhoCorasickKind::DFA)).build(needles).ok());
        dfa.as_ref().unwrap_or(nfa)
    }
}

/// The automaton over `needles`. A DFA searches fastest; past a few dozen needles its build time
/// and size outgrow the gain, so let the library choose there. Should even that fail (a limit on
/// states), there is none.
fn build_automaton(needles: &[String]) -> Option<AhoCorasick> {
    let kind = (needles.len() <= DFA_NEEDLES).then_some(AhoCorasickKind::DFA);
    let build = |kind| AhoCorasick::builder().kind(kind).build(needles);
    build(kind).or_else(|_| build(None)).ok()
}

/// Up to this many needles a scan uses a DFA from its first search (measured with all SigmaHQ rules over the OTRF
/// Windows sample: 0, 20, 50, 100, 200, 300, 800, 1000, 5000 were tried; the differences from
/// 20 up were within the run-to-run noise, and memory grows with the threshold).
const DFA_NEEDLES: usize = 50;

/// Past [`DFA_NEEDLES`], a scan of up to this many needle bytes turns its NFA into a DFA once it
/// has searched [`DFA_AFTER_BYTES_PER_NEEDLE_BYTE`] bytes of text per needle byte: about where
/// the NFA's extra time per byte has paid for the DFA's build. (Measured on the OTRF Windows
/// sample: PowerShell's ContextInfo, 298 needles over 5 KB values, went from 7 ns a byte to
/// 2; fields that see a few hundred kilobytes a run never build one.)
const DFA_NEEDLE_BYTES: usize = 32 * 1024;
const DFA_AFTER_BYTES_PER_NEEDLE_BYTE: usize = 32;
