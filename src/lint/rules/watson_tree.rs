//! A Watson workspace as the structural rules see it: the raw nodes by index, their ids, the
//! `parent` and `previous_sibling` links, and each node's `next_step` (or the legacy `go_to`).
//! Nothing here is resolved the runtime's way on purpose: the rules look at what the file says,
//! broken links included.

use crate::watson::node::RawNode;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Map, Value as Json};

/// The workspace being linted.
pub(crate) struct Tree<'a> {
    /// The workspace object (the top level, or `workspace` of the wrapped export).
    pub workspace: &'a Json,
    /// Where the workspace object is in the file: `""` or `"/workspace"`.
    pub root: &'static str,
    /// Every node's object (`None` when a node is not an object).
    pub nodes: Vec<Option<&'a Map<String, Json>>>,
    /// The first node of each id.
    pub by_id: HashMap<&'a str, usize>,
}

pub(crate) use crate::watson::node::Step;

impl<'a> Tree<'a> {
    /// The tree of `workspace`, found at `root` in the file.
    pub fn new(workspace: &'a Json, root: &'static str, raw: &'a [Json]) -> Tree<'a> {
        let nodes: Vec<_> = raw.iter().map(Json::as_object).collect();
        let mut by_id = HashMap::default();
        for (i, n) in nodes.iter().enumerate() {
            if let Some(id) = RawNode::from_object(*n).id() {
                by_id.entry(id).or_insert(i);
            }
        }
        Tree {
            workspace,
            root,
            nodes,
            by_id,
        }
    }

    /// JSON Pointer of node `i`, followed by `suffix` (`""` or `/field…`).
    pub fn pointer(&self, i: usize, suffix: &str) -> String {
        format!("{}/dialog_nodes/{i}{suffix}", self.root)
    }

    /// Node `i` as written.
    pub fn node(&self, i: usize) -> RawNode<'a> {
        RawNode::from_object(self.nodes.get(i).copied().flatten())
    }

    /// Node `i`'s id (or `#i` when it has none).
    pub fn id(&self, i: usize) -> String {
        self.node(i)
            .id()
            .map_or_else(|| format!("#{i}"), str::to_owned)
    }

    /// Node `i`'s `type` (`standard` when absent).
    pub fn kind(&self, i: usize) -> &'a str {
        self.node(i).kind()
    }

    /// Whether node `i` is disabled.
    pub fn disabled(&self, i: usize) -> bool {
        self.node(i).disabled()
    }

    /// The node `parent` names, when it exists.
    pub fn parent(&self, i: usize) -> Option<usize> {
        self.node(i)
            .parent()
            .and_then(|p| self.by_id.get(p).copied())
    }

    /// The node `previous_sibling` names, when it exists.
    pub fn previous(&self, i: usize) -> Option<usize> {
        self.node(i)
            .previous_sibling()
            .and_then(|p| self.by_id.get(p).copied())
    }

    /// Node `i`'s `next_step`, or its legacy `go_to`.
    pub fn step(&self, i: usize) -> Option<Step<'a>> {
        self.node(i).step()
    }

    /// Every node's children (by the `parent` links that resolve), in file order.
    pub fn children(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for i in 0..self.nodes.len() {
            if let Some(slot) = self.parent(i).and_then(|p| out.get_mut(p)) {
                slot.push(i);
            }
        }
        out
    }

    /// The enabled children of `i` that take part in the dialog (what a skip or a wait for input
    /// evaluates next): standard nodes, frames and folders.
    pub fn dialog_children(&self, children: &[Vec<usize>], i: usize) -> Vec<usize> {
        children
            .get(i)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&c| {
                !self.disabled(c) && matches!(self.kind(c), "standard" | "frame" | "folder")
            })
            .collect()
    }
}

/// The cycles of a graph where each node has at most one successor (`parent`,
/// `previous_sibling`): each cycle once, its members in the order the links go, starting from
/// its lowest index. Linear time.
pub(crate) fn link_cycles(next: &[Option<usize>]) -> Vec<Vec<usize>> {
    // 0: not seen, 1: on the current walk, 2: done.
    let mut state = vec![0u8; next.len()];
    let mut out = Vec::new();
    for start in 0..next.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(c) = cur {
            match state.get(c) {
                Some(0) => {
                    state[c] = 1;
                    path.push(c);
                    cur = next.get(c).copied().flatten();
                }
                Some(1) => {
                    if let Some(at) = path.iter().position(|&p| p == c) {
                        let mut cycle: Vec<usize> = path.get(at..).unwrap_or_default().to_vec();
                        if let Some(min) = cycle.iter().enumerate().min_by_key(|(_, &v)| v) {
                            let k = min.0;
                            cycle.rotate_left(k);
                        }
                        out.push(cycle);
                    }
                    break;
                }
                _ => break,
            }
        }
        for p in path {
            state[p] = 2;
        }
    }
    out
}

/// A defined name `name` was probably meant as: the same but for case, else one within two
/// edits (a farther one may mean the opposite: `negative_reaction` is not
/// `positive_reaction`).
pub(crate) fn near_spelling<'a>(name: &str, known: &HashSet<&'a str>) -> Option<&'a str> {
    let mut known: Vec<&str> = known.iter().copied().collect();
    known.sort_unstable();
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .or_else(|| {
            known
                .iter()
                .map(|k| (crate::text::levenshtein(k, name), k))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, k)| k)
        })
        .copied()
}

/// `` `a`, `b` and `c` `` for messages (at most `max` names, then "and N more").
pub(crate) fn name_list(tree: &Tree<'_>, members: &[usize], max: usize) -> String {
    let names: Vec<String> = members
        .iter()
        .take(max)
        .map(|&i| format!("`{}`", tree.id(i)))
        .collect();
    let rest = members.len().saturating_sub(max);
    match (names.as_slice(), rest) {
        ([one], 0) => one.clone(),
        (all, 0) => {
            let (last, init) = all
                .split_last()
                .map_or((String::new(), &[][..]), |(l, i)| (l.clone(), i));
            format!("{} and {last}", init.join(", "))
        }
        (all, more) => format!("{} and {more} more", all.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_cycles_finds_each_cycle_once() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0 (tail), 4 -> 4
        let next = [Some(1), Some(2), Some(0), Some(0), Some(4), None];
        assert_eq!(link_cycles(&next), vec![vec![0, 1, 2], vec![4]]);
    }

    #[test]
    fn components_with_a_cycle() {
        let edges = [vec![1], vec![0, 2], vec![], vec![3], vec![]];
        assert_eq!(
            crate::compile::graph::cyclic_components(edges.len(), |v| &edges[v]),
            vec![vec![0, 1], vec![3]]
        );
    }
}
