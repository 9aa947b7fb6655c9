//! Needles that must sit at one end of a value (`startswith`, `endswith`): looked for at that
//! end only, by walking a trie of them from the value's first (or last) byte, which stops as soon
//! as no needle can go on. What a value costs is then the length of its longest matching prefix
//! (or suffix), not its own length; and the needles searched for along values are fewer and
//! longer, so that more fields get a SIMD prefilter ([`crate::prefilter`]).
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

/// The needles of one scan that sit at one end, and the predicates each one decides, as a trie.
#[derive(Debug)]
pub struct AnchoredNeedles {
    side: Side,
    /// Node 0 is the root. An end's needles are entered last byte first.
    nodes: Vec<Node>,
    needles: usize,
}

#[derive(Debug, Default)]
struct Node {
    /// Sorted by byte. (A sorted list searched, not a 256-bit map counted: baseline x86-64 has
    /// no popcount instruction, and the map measured slower.)
    children: Vec<(u8, u32)>,
    /// The predicates of the needle that ends here.
    preds: Vec<u32>,
}

impl AnchoredNeedles {
    /// The set of `(needle, predicate)` pairs: the predicate holds when a value starts (or ends)
    /// with the needle.
    pub fn new<'n>(side: Side, entries: impl IntoIterator<Item = (&'n str, u32)>) -> AnchoredNeedles {
        let mut nodes = vec![Node::default()];
        for (needle, pred) in entries {
            let bytes = needle.as_bytes();
            let mut at = 0;
            for i in 0..bytes.len() {
                let b = match side {
                    Side::Start => bytes[i],
                    Side::End => bytes[bytes.len() - 1 - i],
                };
                at = match nodes[at].children.binary_search_by_key(&b, |&(c, _)| c) {
                    Ok(k) => nodes[at].children[k].1 as usize,
                    Err(k) => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[at].children.insert(k, (b, child as u32));
                        child
                    }
                };
            }
            if !nodes[at].preds.contains(&pred) {
                nodes[at].preds.push(pred);
            }
        }
        let needles = nodes.iter().filter(|n| !n.preds.is_empty()).count();
        AnchoredNeedles { side, nodes, needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles == 0
    }

    /// The needles as written (an end's not reversed), in no particular order.
    pub fn needles(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.needles);
        let mut stack = vec![(0usize, Vec::new())];
        while let Some((at, path)) = stack.pop() {
            if !self.nodes[at].preds.is_empty() {
                let mut needle = path.clone();
                if self.side == Side::End {
                    needle.reverse();
                }
                out.push(needle);
            }
            for &(b, child) in &self.nodes[at].children {
                let mut next = path.clone();
                next.push(b);
                stack.push((child as usize, next));
            }
        }
        out
    }

    /// Calls `holds(pred)` for the predicates of every needle that `text` starts (or ends) with.
    pub fn each(&self, text: &[u8], mut holds: impl FnMut(u32)) {
        let mut step = |at: usize, b: u8| -> Option<usize> {
            let node = &self.nodes[at];
            let k = node.children.binary_search_by_key(&b, |&(c, _)| c).ok()?;
            let child = node.children[k].1 as usize;
            self.nodes[child].preds.iter().for_each(|&p| holds(p));
            Some(child)
        };
        let mut at = 0;
        match self.side {
            Side::Start => {
                for &b in text {
                    let Some(next) = step(at, b) else { return };
                    at = next;
                }
            }
            Side::End => {
                for &b in text.iter().rev() {
                    let Some(next) = step(at, b) else { return };
                    at = next;
                }
            }
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
        for _ in 0..2_000 {
            let needles: Vec<String> = (0..1 + rng.below(12)).map(|_| word(&mut rng, 6)).collect();
            let entries = needles.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32));
            let starts = AnchoredNeedles::new(Side::Start, entries.clone());
            let ends = AnchoredNeedles::new(Side::End, entries);
            let text = word(&mut rng, 400);
            let expect = |f: &dyn Fn(&str) -> bool| -> Vec<u32> {
                (0..needles.len() as u32).filter(|&i| f(&needles[i as usize])).collect()
            };
            assert_eq!(held(&starts, &text), expect(&|n| text.starts_with(n)), "{needles:?} in {text:?}");
            assert_eq!(held(&ends, &text), expect(&|n| text.ends_with(n)), "{needles:?} in {text:?}");
        }
    }
}
