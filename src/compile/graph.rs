//! Graph views of a compiled flow for the semantic rules.
//!
//! Two kinds of edges: `next` edges (taken in the same turn when the source does not wait, or
//! after the user answers when it does), and *entry* edges — when the bot waits for input, any
//! node with an entry condition (or `anything_else`) can be the next one to fire.

use super::{CompiledFlow, Entry};

/// True when the node can be entered from anywhere while the bot waits for input.
pub(crate) fn is_root(flow: &CompiledFlow, i: usize) -> bool {
    flow.nodes
        .get(i)
        .is_some_and(|n| matches!(n.entry, Entry::Expr(_) | Entry::AnythingElse))
}

/// True when, after the user answers node `i`, the turn can fall through to the entry
/// conditions (SPEC §4.2): `i` waits for input and none of its `next` is unconditional.
pub(crate) fn falls_through(flow: &CompiledFlow, i: usize) -> bool {
    flow.nodes
        .get(i)
        .is_some_and(|n| n.input.is_some() && n.next.iter().all(|x| x.condition.is_some()))
}

/// Nodes reachable from the start node, following `next` edges and, from any node that waits
/// and can fall through, entry edges (plus the start node itself, which is the last fallback).
pub(crate) fn reachable(flow: &CompiledFlow) -> Vec<bool> {
    let n = flow.nodes.len();
    let mut seen = vec![false; n];
    let Some(start) = flow.start else { return seen };
    let mut stack = vec![start];
    let mut roots_added = false;
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(flow.successors(i).filter(|&j| !seen[j]));
        if falls_through(flow, i) && !roots_added {
            roots_added = true;
            stack.extend((0..n).filter(|&j| is_root(flow, j) && !seen[j]));
        }
    }
    seen
}

/// Strongly connected components of the graph of `next` edges between nodes that do not wait
/// for input (Tarjan, iterative). Only components with a cycle are returned, in file order.
pub(crate) fn loops_without_input(flow: &CompiledFlow) -> Vec<Vec<usize>> {
    let n = flow.nodes.len();
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            if flow.waits(i) {
                Vec::new()
            } else {
                flow.successors(i).filter(|&j| !flow.waits(j)).collect()
            }
        })
        .collect();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge position)
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index[v] == usize::MAX {
                index[v] = next_index;
                low[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = comp.len() > 1 || edges[v].contains(&v);
                if cyclic {
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out.sort();
    out
}

/// The nodes where the conversation lands after node `from` fires without waiting: follows
/// `next` edges through nodes without input. Returns the input nodes reached and whether some
/// path ends with no focus (a node without input and without any `next`, or an unknown target).
pub(crate) fn landing(flow: &CompiledFlow, from: usize) -> (Vec<usize>, bool) {
    let mut seen = vec![false; flow.nodes.len()];
    let mut inputs = Vec::new();
    let mut dead_end = false;
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let Some(node) = flow.nodes.get(i) else {
            continue;
        };
        if node.input.is_some() {
            inputs.push(i);
            continue;
        }
        let unconditional = node.next.iter().any(|x| x.condition.is_none());
        if !unconditional || node.next.iter().any(|x| x.target.is_none()) {
            dead_end = true;
        }
        stack.extend(node.next.iter().filter_map(|x| x.target));
    }
    inputs.sort_unstable();
    (inputs, dead_end)
}
