//! Needles that must sit at one end of a value (`startswith`, `endswith`): looked for at that
//! end only, by walking a trie of them from the value's first (or last) byte, which stops as soon
//! as no needle can go on. Where no needle ends or branches, a path of the trie is one edge,
//! compared with the value as one slice. What a value costs is then the length of its longest
//! matching prefix (or suffix), not its own length; and the needles searched for along values
//! are fewer and longer, so that more fields get a SIMD prefilter ([`crate::prefilter`]).
//!
//! The trie is this module's own: aho-corasick's overlapping iterator refuses anchored searches,
//! and its overlapping step goes on through failure links past the first byte, so it would read
//! as far as the longest needle on every value instead of stopping where the needles diverge.
//!
//! This module only finds which needles sit at the end; the predicates it reports are the ones
//! the index gave it, and what they mean is the index's.

/// Which end of a value the needles must sit at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Start,
    End,
}

/// The needles of one scan that sit at one end, and the predicates each one decides, as a trie
/// laid out flat: a node's edges are one run of one list, its predicates one run of another.
/// (A node per byte with vectors of its own took 1 µs per needle to build, an allocation or
/// two per byte: 8 ms of a hunt with SigmaHQ's rules/windows, for 9,000 needles.)
#[derive(Debug)]
pub struct AnchoredNeedles {
    side: Side,
    /// Node 0 is the root. An end's needles are entered last byte first.
    nodes: Vec<Node>,
    /// Each node's edges, sorted by byte: the byte and the node it leads to. (A sorted run
    /// searched, not a 256-bit map counted: baseline x86-64 has no popcount instruction, and
    /// the map measured slower.)
    edges: Vec<(u8, u32)>,
    /// The predicates of each needle, where it ends.
    preds: Vec<u32>,
    /// The bytes each node's edge stands for after its first, as the value holds them: where
    /// no needle ends or branches, a path of single steps is one edge.
    labels: Vec<u8>,
    needles: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Node {
    edges: (u32, u32),
    preds: (u32, u32),
    /// The bytes the edge into this node stands for after its first one, in `labels`.
    label: (u32, u32),
}

impl AnchoredNeedles {
    /// The set of `(needle, predicate)` pairs: the predicate holds when a value starts (or ends)
    /// with the needle.
    pub fn new<'n>(side: Side, entries: impl IntoIterator<Item = (&'n str, u32)>) -> AnchoredNeedles {
        let oriented = |needle: &[u8], depth: usize| match side {
            Side::Start => needle[depth],
            Side::End => needle[needle.len() - 1 - depth],
        };
        let mut entries: Vec<(&[u8], u32)> = entries.into_iter().map(|(n, p)| (n.as_bytes(), p)).collect();
        entries.sort_unstable_by(|(a, p), (b, q)| match side {
            Side::Start => a.cmp(b).then(p.cmp(q)),
            Side::End => a.iter().rev().cmp(b.iter().rev()).then(p.cmp(q)),
        });
        entries.dedup();
        // Sorted, the needles under a node are one run, those ending there first, then those
        // going on through each byte in turn: a node is built from its run alone.
        let mut nodes = vec![Node::default()];
        let (mut edges, mut preds, mut labels) = (Vec::new(), Vec::with_capacity(entries.len()), Vec::new());
        let mut pending = vec![(0usize, 0..entries.len(), 0usize)];
        while let Some((node, run, depth)) = pending.pop() {
            let ending = entries[run.clone()].iter().take_while(|(n, _)| n.len() == depth).count();
            let from = preds.len() as u32;
            preds.extend(entries[run.start..run.start + ending].iter().map(|&(_, p)| p));
            nodes[node].preds = (from, preds.len() as u32);
            let from = edges.len() as u32;
            let mut at = run.start + ending;
            while at < run.end {
                let byte = oriented(entries[at].0, depth);
                let end = at + entries[at..run.end].partition_point(|(n, _)| oriented(n, depth) == byte);
                // Sorted, what the run's first and last needles share, all of it shares; the
                // first is the shortest, so none ends inside.
                let (first, last) = (entries[at].0, entries[end - 1].0);
                let shared = (depth + 1..first.len()).take_while(|&d| oriented(first, d) == oriented(last, d)).count();
                let label = match side {
                    Side::Start => &first[depth + 1..depth + 1 + shared],
                    Side::End => &first[first.len() - (depth + 1 + shared)..first.len() - (depth + 1)],
                };
                let from = labels.len() as u32;
                labels.extend_from_slice(label);
                nodes.push(Node { label: (from, labels.len() as u32), ..Node::default() });
                edges.push((byte, nodes.len() as u32 - 1));
                pending.push((nodes.len() - 1, at..end, depth + 1 + shared));
                at = end;
            }
            nodes[node].edges = (from, edges.len() as u32);
        }
        let needles = nodes.iter().filter(|n| n.preds.0 != n.preds.1).count();
        AnchoredNeedles { side, nodes, edges, preds, labels, needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles == 0
    }

    fn edges(&self, node: usize) -> &[(u8, u32)] {
        let (from, to) = self.nodes[node].edges;
        &self.edges[from as usize..to as usize]
    }

    fn preds(&self, node: usize) -> &[u32] {
        let (from, to) = self.nodes[node].preds;
        &self.preds[from as usize..to as usize]
    }

    fn label(&self, node: usize) -> &[u8] {
        let (from, to) = self.nodes[node].label;
        &self.labels[from as usize..to as usize]
    }

    /// The needles as written (an end's not reversed), in no particular order.
    pub fn needles(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.needles);
        let mut stack = vec![(0usize, Vec::new())];
        while let Some((at, path)) = stack.pop() {
            if !self.preds(at).is_empty() {
                let mut needle = path.clone();
                if self.side == Side::End {
                    needle.reverse();
                }
                out.push(needle);
            }
            for &(b, child) in self.edges(at) {
                let mut next = path.clone();
                next.push(b);
                let label = self.label(child as usize);
                match self.side {
                    Side::Start => next.extend_from_slice(label),
                    Side::End => next.extend(label.iter().rev()),
                }
                stack.push((child as usize, next));
            }
        }
        out
    }

    /// Calls `holds(pred)` for the predicates of every needle that `text` starts (or ends) with.
    pub fn each(&self, text: &[u8], mut holds: impl FnMut(u32)) {
        // `rest` is what the needles have not reached yet: the value less its start (or end).
        let mut rest = text;
        let mut at = 0;
        loop {
            let next = match self.side {
                Side::Start => rest.first(),
                Side::End => rest.last(),
            };
            let Some(&b) = next else { return };
            let edges = self.edges(at);
            let Ok(k) = edges.binary_search_by_key(&b, |&(c, _)| c) else { return };
            let child = edges[k].1 as usize;
            let label = self.label(child);
            rest = match self.side {
                Side::Start if rest[1..].starts_with(label) => &rest[1 + label.len()..],
                Side::End if rest[..rest.len() - 1].ends_with(label) => &rest[..rest.len() - 1 - label.len()],
                _ => return,
            };
            self.preds(child).iter().for_each(|&p| holds(p));
            at = child;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(set: &AnchoredNeedles, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        set.each(text.as_bytes(), |p| out.push(p));
        out.sort_unstable();
        out
    }

    #[test]
    fn prefixes_and_suffixes_hold_at_their_end_only() {
        let needles = ["c:\\windows\\", "c:\\", "\\cmd.exe", "cmd.exe", "x"];
        let entries = needles.iter().enumerate().map(|(i, n)| (*n, i as u32));
        let starts = AnchoredNeedles::new(Side::Start, entries.clone().chain([("c:\\", 9)]));
        let ends = AnchoredNeedles::new(Side::End, entries);
        assert_eq!(held(&starts, "c:\\windows\\system32\\cmd.exe"), [0, 1, 9]);
        assert_eq!(held(&ends, "c:\\windows\\system32\\cmd.exe"), [2, 3]);
        assert_eq!(held(&starts, "d:\\c:\\windows\\"), Vec::<u32>::new());
        assert_eq!(held(&ends, "cmd.exe "), Vec::<u32>::new());
        assert_eq!(held(&ends, "x"), [4]);
        assert_eq!(held(&starts, ""), Vec::<u32>::new());
        let long_tail = format!("{}\\cmd.exe", "a".repeat(1000));
        assert_eq!(held(&ends, &long_tail), [2, 3]);
        let mut needles: Vec<String> = ends.needles().into_iter().map(|n| String::from_utf8(n).unwrap()).collect();
        needles.sort();
        assert_eq!(needles, ["\\cmd.exe", "c:\\", "c:\\windows\\", "cmd.exe", "x"]);
    }

    #[test]
    fn agrees_with_starts_with_and_ends_with_on_random_sets() {
        let mut rng = crate::prefilter::cases::Rng::new(7);
        let alphabet = b"ab\\.c";
        let word = |rng: &mut crate::prefilter::cases::Rng, max: usize| -> String {
            (0..1 + rng.below(max)).map(|_| alphabet[rng.below(alphabet.len())] as char).collect()
        };
        for case in 0..4_000 {
            // Long needles too, so that paths without a branch or an end are long.
            let longest = if case % 2 == 0 { 6 } else { 24 };
            let needles: Vec<String> = (0..1 + rng.below(12)).map(|_| word(&mut rng, longest)).collect();
            let entries = needles.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32));
            let starts = AnchoredNeedles::new(Side::Start, entries.clone());
            let ends = AnchoredNeedles::new(Side::End, entries);
            let mut text = word(&mut rng, 400);
            if case % 3 == 0 {
                // Starting and ending with needles, so that long paths are walked to their ends.
                let (first, last) = (&needles[rng.below(needles.len())], &needles[rng.below(needles.len())]);
                text = format!("{first}{}{last}", &text[..rng.below(text.len() + 1)]);
            }
            let expect = |f: &dyn Fn(&str) -> bool| -> Vec<u32> {
                (0..needles.len() as u32).filter(|&i| f(&needles[i as usize])).collect()
            };
            assert_eq!(held(&starts, &text), expect(&|n| text.starts_with(n)), "{needles:?} in {text:?}");
            assert_eq!(held(&ends, &text), expect(&|n| text.ends_with(n)), "{needles:?} in {text:?}");
            let mut written: Vec<Vec<u8>> = needles.iter().map(|n| n.as_bytes().to_vec()).collect();
            written.sort();
            written.dedup();
            for set in [&starts, &ends] {
                let mut listed = set.needles();
                listed.sort();
                assert_eq!(listed, written);
            }
        }
    }
}
