//! The plan graph: every rule's condition merged into one petgraph DAG.
//!
//! Rules arrive as expression trees over interned predicates ([`crate::lower`]). Here they are
//! inserted bottom-up into a single graph with hash-consing, so a sub-expression that several
//! rules share (the same `filter_main_*` block, the same `Image|endswith` list) is one node,
//! evaluated once per event. Insertion also simplifies: nested `and`/`or` are flattened,
//! duplicate children dropped, constants folded, double negations removed. Finally the graph
//! is checked to be acyclic and written out in topological order as the plan's node arena.
//! This module never looks at predicates' meaning.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use sigil_engine::plan::{Expr, Node};

/// Sizes of the graph, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphStats {
    /// Boolean and predicate nodes in the plan.
    pub nodes: usize,
    /// Times an insertion found an identical node already in the graph.
    pub shared: usize,
}

/// Children in evaluation order; the graph's edges carry the same information for algorithms.
type Weight = Node;

#[derive(Default)]
struct Builder {
    graph: DiGraph<Weight, ()>,
    /// Hash-consing: a node's canonical form (children sorted) → its index.
    index: foldhash::HashMap<Node, NodeIndex>,
    shared: usize,
}

impl Builder {
    fn add(&mut self, node: Node) -> NodeIndex {
        let key = match &node {
            Node::And(c) => Node::And(sorted(c)),
            Node::Or(c) => Node::Or(sorted(c)),
            other => other.clone(),
        };
        if let Some(&i) = self.index.get(&key) {
            self.shared += 1;
            return i;
        }
        let children: Vec<u32> = match &node {
            Node::Not(c) => vec![*c],
            Node::And(c) | Node::Or(c) => c.clone(),
            Node::Const(_) | Node::Pred(_) => Vec::new(),
        };
        let i = self.graph.add_node(node);
        for c in children {
            self.graph.add_edge(i, NodeIndex::new(c as usize), ());
        }
        self.index.insert(key, i);
        i
    }

    fn weight(&self, i: NodeIndex) -> &Node {
        &self.graph[i]
    }

    /// Inserts an expression, simplifying on the way, and returns its node.
    fn insert(&mut self, expr: &Expr) -> NodeIndex {
        match expr {
            Expr::Const(b) => self.add(Node::Const(*b)),
            Expr::Pred(p) => self.add(Node::Pred(*p)),
            Expr::Not(inner) => {
                let child = self.insert(inner);
                match self.weight(child).clone() {
                    Node::Const(b) => self.add(Node::Const(!b)),
                    Node::Not(grandchild) => NodeIndex::new(grandchild as usize),
                    _ => self.add(Node::Not(child.index() as u32)),
                }
            }
            Expr::And(items) => self.junction(items, true),
            Expr::Or(items) => self.junction(items, false),
        }
    }

    /// `and` (is_and) or `or` over items: flattened, deduplicated, constants folded.
    fn junction(&mut self, items: &[Expr], is_and: bool) -> NodeIndex {
        let mut children: Vec<u32> = Vec::with_capacity(items.len());
        for item in items {
            let child = self.insert(item);
            match self.weight(child).clone() {
                // The absorbing constant decides the whole junction; the neutral one vanishes.
                Node::Const(b) if b != is_and => return self.add(Node::Const(b)),
                Node::Const(_) => {}
                Node::And(grand) if is_and => children.extend(grand),
                Node::Or(grand) if !is_and => children.extend(grand),
                _ => children.push(child.index() as u32),
            }
        }
        let mut seen = foldhash::HashSet::with_capacity_and_hasher(children.len(), Default::default());
        children.retain(|c| seen.insert(*c));
        match children.len() {
            0 => self.add(Node::Const(is_and)),
            1 => NodeIndex::new(children[0] as usize),
            _ => self.add(if is_and { Node::And(children) } else { Node::Or(children) }),
        }
    }
}

fn sorted(c: &[u32]) -> Vec<u32> {
    let mut v = c.to_vec();
    v.sort_unstable();
    v
}

/// Merges the rules' expressions into one graph; returns the node arena (children first) and
/// each rule's root node.
pub fn build(rules: &[Expr]) -> (Vec<Node>, Vec<u32>, GraphStats) {
    let mut b = Builder::default();
    let roots: Vec<NodeIndex> = rules.iter().map(|e| b.insert(e)).collect();
    // Edges point from a node to its children, so a topological order lists parents first.
    let order = toposort(&b.graph, None).expect("a plan graph built bottom-up has no cycle");
    let mut position = vec![0u32; b.graph.node_count()];
    for (pos, i) in order.iter().rev().enumerate() {
        position[i.index()] = pos as u32;
    }
    let remap = |c: &u32| position[*c as usize];
    let nodes: Vec<Node> = order
        .iter()
        .rev()
        .map(|i| match &b.graph[*i] {
            Node::Not(c) => Node::Not(remap(c)),
            Node::And(cs) => Node::And(cs.iter().map(remap).collect()),
            Node::Or(cs) => Node::Or(cs.iter().map(remap).collect()),
            other => other.clone(),
        })
        .collect();
    let roots = roots.iter().map(|r| position[r.index()]).collect();
    (nodes, roots, GraphStats { nodes: b.graph.node_count(), shared: b.shared })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u32) -> Expr {
        Expr::Pred(i)
    }

    #[test]
    fn shared_subexpressions_become_one_node() {
        let filter = Expr::Not(Box::new(Expr::Or(vec![p(1), p(2)])));
        let a = Expr::And(vec![p(0), filter.clone()]);
        let b = Expr::And(vec![p(3), filter]);
        let (nodes, roots, stats) = build(&[a, b]);
        // p0 p1 p2 or not and, p3 and: the `not (p1 or p2)` subtree exists once.
        assert_eq!(nodes.len(), 8);
        assert!(stats.shared >= 4);
        let Node::And(a_children) = &nodes[roots[0] as usize] else { panic!() };
        let Node::And(b_children) = &nodes[roots[1] as usize] else { panic!() };
        assert_eq!(a_children[1], b_children[1]);
        for (i, n) in nodes.iter().enumerate() {
            let children: Vec<u32> = match n {
                Node::Not(c) => vec![*c],
                Node::And(c) | Node::Or(c) => c.clone(),
                _ => vec![],
            };
            assert!(children.iter().all(|c| (*c as usize) < i), "children come first");
        }
    }

    #[test]
    fn simplification() {
        let (nodes, roots, _) = build(&[
            Expr::Not(Box::new(Expr::Not(Box::new(p(0))))),
            Expr::And(vec![p(0), Expr::And(vec![p(1), p(0)]), Expr::Const(true)]),
            Expr::Or(vec![p(0), Expr::Const(true)]),
            Expr::And(vec![]),
        ]);
        assert_eq!(nodes[roots[0] as usize], Node::Pred(0));
        let Node::And(c) = &nodes[roots[1] as usize] else { panic!("{:?}", nodes[roots[1] as usize]) };
        assert_eq!(c.len(), 2);
        assert_eq!(nodes[roots[2] as usize], Node::Const(true));
        assert_eq!(nodes[roots[3] as usize], Node::Const(true));
    }
}
