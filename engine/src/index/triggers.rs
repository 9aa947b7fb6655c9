//! Which rules each predicate of a route triggers: the lists a needle hit reads to name the
//! rules worth evaluating. Built once per route; this module only stores and hands out lists.

/// Predicate → the rules it triggers, as one list cut at offsets: a route holds one for every
/// predicate of the plan, and a vector per predicate cost a route of `rules/windows` an
/// allocation per trigger list and 24 bytes per predicate where every needle hit reads it
/// (one pinned core, OTRF sample, rules/windows pack: 834 → 816 ms, ABBA means of 16 runs).
#[derive(Debug)]
pub struct Triggers {
    /// Predicate `p`'s rules are `rules[start[p]..start[p + 1]]`.
    start: Vec<u32>,
    rules: Vec<u32>,
}

impl Triggers {
    /// From `(rule, its trigger predicates)` in rule order; each predicate's rules stay in it.
    pub fn new(predicates: usize, covered: &[(u32, &[u32])]) -> Triggers {
        let mut start = vec![0u32; predicates + 1];
        covered.iter().flat_map(|(_, preds)| preds.iter()).for_each(|&p| start[p as usize + 1] += 1);
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut rules = vec![0u32; start[predicates] as usize];
        for &(r, preds) in covered {
            for &p in preds {
                rules[next[p as usize] as usize] = r;
                next[p as usize] += 1;
            }
        }
        Triggers { start, rules }
    }

    pub fn of(&self, predicate: u32) -> &[u32] {
        let p = predicate as usize;
        &self.rules[self.start[p] as usize..self.start[p + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::Triggers;

    #[test]
    fn each_predicate_lists_its_rules_in_rule_order() {
        // Rule 4 names predicate 2 twice (two branches of an `or`): listed twice, as before.
        let covered: Vec<(u32, &[u32])> = vec![(1, &[2, 0]), (3, &[2]), (4, &[2, 2])];
        let triggers = Triggers::new(4, &covered);
        assert_eq!(triggers.of(0), &[1]);
        assert_eq!(triggers.of(1), &[] as &[u32]);
        assert_eq!(triggers.of(2), &[1, 3, 4, 4]);
        assert_eq!(triggers.of(3), &[] as &[u32]);
        assert_eq!(Triggers::new(2, &[]).of(1), &[] as &[u32]);
    }
}
