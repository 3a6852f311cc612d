//! Graph views of a compiled flow for the semantic rules.
//!
//! Two kinds of edges: `next` edges (taken in the same turn when the source does not wait, or
//! after the user answers when it does), and *entry* edges — when the bot waits for input, any
//! node with an entry condition (or `anything_else`) can be the next one to fire.

use super::{CompiledFlow, Entry};
use crate::diagnostic::{Diagnostic, Location};
use crate::model::NODE_FIELDS;

/// The parts of a node the schema stage found unreadable, which the typed model then dropped.
/// The graph rules reason about what the author *may* have written there, so that one typo does
/// not cascade into findings that only follow from the loss (a dropped `next` making its
/// targets look unreachable, a dropped `input` closing a loop that waits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Unread {
    /// What is known of an unreadable `next`.
    pub next: LostNext,
    /// The entry `condition` was unreadable: the node may be an entry point.
    pub entry: bool,
    /// `input` was unreadable: the node may wait for the user.
    pub input: bool,
}

/// What is known of a `next` the model could not read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum LostNext {
    /// It was read.
    #[default]
    Read,
    /// It could not be read, but these `goto` targets could (a wrong-typed condition, an object
    /// where an array belongs): the node may lead to them, under unknown conditions.
    To(Vec<usize>),
    /// Nothing of it can be read: the node may lead anywhere.
    Anywhere,
}

impl Unread {
    fn all() -> Unread {
        Unread {
            next: LostNext::Anywhere,
            entry: true,
            input: true,
        }
    }
}

/// The `goto` strings that can still be read in the `next` of the nodes of a flow `value`
/// that `schema` found fault with, by node pointer (`/nodes/3`).
pub(crate) fn raw_gotos(
    value: &serde_json::Value,
    schema: &[Diagnostic],
) -> std::collections::HashMap<String, Vec<String>> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
        if depth > 4 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(g)) = m.get("goto") {
                    out.push(g.clone());
                }
                m.values().for_each(|x| walk(x, out, depth + 1));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out, depth + 1)),
            _ => {}
        }
    }
    let mut found = std::collections::HashMap::new();
    for d in schema {
        let Some(rest) = d.pointer().strip_prefix("/nodes/") else {
            continue;
        };
        let Some((index, field)) = rest.split_once('/') else {
            continue;
        };
        if field != "next" && !field.starts_with("next/") {
            continue;
        }
        let node = format!("/nodes/{index}");
        if found.contains_key(&node) {
            continue;
        }
        let mut gotos = Vec::new();
        if let Some(next) = value.pointer(&format!("{node}/next")) {
            walk(next, &mut gotos, 0);
        }
        found.insert(node, gotos);
    }
    found
}

/// What each compiled node lost to the schema findings `schema` (one entry per compiled node,
/// none when `schema` is empty: a node past the end lost nothing). A finding inside `next`,
/// `condition` or `input` marks that part; an unknown field on the node itself (a typo such as
/// `nxt`) or a finding on the whole node marks all three. `gotos` are the targets still
/// readable in a lost `next` ([`raw_gotos`]).
pub(crate) fn unread(
    flow: &CompiledFlow,
    schema: &[Diagnostic],
    gotos: &std::collections::HashMap<String, Vec<String>>,
) -> Vec<Unread> {
    if schema.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Unread::default(); flow.nodes.len()];
    let by_pointer: std::collections::HashMap<&str, usize> = flow
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.pointer.as_str(), i))
        .collect();
    // The nodes by id, as `flow.by_id`, which a flow compiled for the linter leaves empty.
    let mut by_id: Option<super::IdOrder> = None;
    for d in schema {
        let pointer = d.pointer();
        let Some(rest) = pointer.strip_prefix("/nodes/") else {
            continue;
        };
        let (index, field) = rest.split_once('/').unwrap_or((rest, ""));
        let node = format!("/nodes/{index}");
        let Some(&i) = by_pointer.get(node.as_str()) else {
            continue;
        };
        let Some(u) = out.get_mut(i) else { continue };
        let field = field.split('/').next().unwrap_or_default();
        match field {
            // The first finding inside `next` decides; later ones say nothing new.
            "next" if u.next == LostNext::Read => {
                // Targets that name no node are left out: `unknown-goto-target` is about them.
                let targets: Option<Vec<usize>> =
                    gotos.get(&node).filter(|g| !g.is_empty()).map(|g| {
                        let by_id = by_id.get_or_insert_with(|| super::IdOrder::of(&flow.nodes));
                        g.iter()
                            .filter_map(|t| by_id.first(&flow.nodes, t))
                            .collect()
                    });
                u.next = targets.map_or(LostNext::Anywhere, LostNext::To);
            }
            "condition" => u.entry = true,
            "input" => u.input = true,
            "" => *u = Unread::all(),
            f if matches!(d.primary.location, Location::Key(_)) && !NODE_FIELDS.contains(&f) => {
                *u = Unread::all();
            }
            _ => {}
        }
    }
    out
}

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
    reachable_despite(flow, &[])
}

/// Like [`reachable`], giving every unreadable part of a node (`unread`, by node index) the
/// widest meaning it could have had: a node whose `next` was lost may lead anywhere, one whose
/// entry condition was lost may be an entry point, one whose `input` was lost may wait and fall
/// through. A node unreachable even so is unreachable whatever the author meant.
pub(crate) fn reachable_despite(flow: &CompiledFlow, unread: &[Unread]) -> Vec<bool> {
    let n = flow.nodes.len();
    let mut seen = vec![false; n];
    let Some(start) = flow.start else { return seen };
    let none = Unread::default();
    let lost = |i: usize| unread.get(i).unwrap_or(&none);
    let mut stack = vec![start];
    let mut roots_added = false;
    let mut intents_added = false;
    let mut all_added = false;
    while let Some(i) = stack.pop() {
        if seen.get(i).copied().unwrap_or(true) {
            continue;
        }
        seen[i] = true;
        let u = lost(i);
        let all_conditional = match &u.next {
            LostNext::Read => flow
                .nodes
                .get(i)
                .is_some_and(|n| n.next.iter().all(|x| x.condition.is_some())),
            // The lost conditions may all have been conditional.
            LostNext::To(_) | LostNext::Anywhere => true,
        };
        match &u.next {
            LostNext::Anywhere => {
                if !all_added {
                    all_added = true;
                    stack.extend((0..n).filter(|&j| !seen[j]));
                }
                continue;
            }
            LostNext::To(targets) => stack.extend(targets.iter().filter(|&&j| !seen[j])),
            LostNext::Read => stack.extend(flow.successors(i).filter(|&j| !seen[j])),
        }
        let waits = flow.waits(i) || u.input;
        // After the user answers an input whose `next` may all be false, or once the
        // conversation ended at a node that neither waits nor goes on (SPEC §4.2, "no focus"),
        // the next message is read by every entry condition.
        if (all_conditional || (!waits && ends(flow, i))) && !roots_added {
            roots_added = true;
            stack.extend((0..n).filter(|&j| (is_root(flow, j) || lost(j).entry) && !seen[j]));
        }
        // An intent moves the conversation from any input that is not a mandatory one.
        if waits && !intents_added && (u.input || !mandatory_input(flow, i)) {
            intents_added = true;
            stack.extend(flow.intent_entries.iter().copied().filter(|&j| !seen[j]));
        }
    }
    seen
}

/// True when a turn that fires node `i` (which does not wait) may end there with no focus:
/// no `next` holds, or the one that holds names no node.
fn ends(flow: &CompiledFlow, i: usize) -> bool {
    flow.nodes.get(i).is_some_and(|n| {
        n.next.iter().all(|x| x.condition.is_some()) || n.next.iter().any(|x| x.target.is_none())
    })
}

/// True when node `i`'s input is mandatory on every channel ([`InputType::mandatory`](crate::model::InputType::mandatory)
/// read statically: a `mandatory` written as a template counts as not mandatory).
pub(crate) fn mandatory_input(flow: &CompiledFlow, i: usize) -> bool {
    let Some(input) = flow.nodes.get(i).and_then(|n| n.input.as_ref()) else {
        return false;
    };
    !input.channels.is_empty()
        && input.channels.iter().all(|(_, kind, payload)| {
            let payload = match payload {
                super::CValue::Lit(l) => match l.value() {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                },
                super::CValue::Obj(fields) => fields
                    .iter()
                    .filter(|(k, _)| k == "mandatory")
                    .filter_map(|(k, v)| v.literal().map(|v| (k.clone(), v)))
                    .collect(),
                _ => serde_json::Map::new(),
            };
            kind.mandatory(&payload)
        })
}

/// Strongly connected components of the graph of `next` edges between nodes that do not wait
/// for input (Tarjan, iterative). Only components with a cycle are returned, in file order.
/// A node whose `input` was unreadable (`unread`) counts as waiting: the loop it closes may
/// well wait for the user.
pub(crate) fn loops_without_input(flow: &CompiledFlow, unread: &[Unread]) -> Vec<Vec<usize>> {
    let n = flow.nodes.len();
    let waits = |i: usize| flow.waits(i) || unread.get(i).is_some_and(|u| u.input);
    // The edges of every node in one list (`to`), node `i`'s from `at[i]` to `at[i + 1]`.
    let (mut at, mut to) = (Vec::with_capacity(n + 1), Vec::new());
    for i in 0..n {
        at.push(to.len());
        if !waits(i) {
            to.extend(flow.successors(i).filter(|&j| !waits(j)));
        }
    }
    at.push(to.len());
    cyclic_components(n, |v| match (at.get(v), at.get(v + 1)) {
        (Some(&a), Some(&b)) => to.get(a..b).unwrap_or_default(),
        _ => &[],
    })
}

/// The strongly connected components of a graph (Tarjan, iterative) that contain a cycle:
/// more than one node, or one node with an edge to itself. Members in index order.
pub(crate) fn cyclic_components<'e>(
    n: usize,
    edges: impl Fn(usize) -> &'e [usize],
) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut out = Vec::new();
    // (node, next edge to look at), and the component being popped: kept from root to root.
    let mut work: Vec<(usize, usize)> = Vec::new();
    let mut comp = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        work.push((root, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(top) = work.last_mut() {
            let v = top.0;
            let succ = edges(v).get(top.1).copied();
            top.1 += 1;
            match succ {
                Some(w) if w < n => {
                    if index[w] == usize::MAX {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                }
                Some(_) => {}
                None => {
                    work.pop();
                    if let Some(&(parent, _)) = work.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        comp.clear();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        let looped = comp.len() > 1 || edges(v).contains(&v);
                        if looped {
                            comp.sort_unstable();
                            out.push(comp.clone());
                        }
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// True when `e` reads `input.live_chat.status` anywhere inside.
pub(crate) fn reads_status(e: &crate::expr::Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        found |= x.is_path(&["input", "live_chat", "status"]);
    });
    found
}

/// True when a `next` condition of node `i` reads `input.live_chat.status`.
pub(crate) fn routes_on_status(flow: &CompiledFlow, i: usize) -> bool {
    flow.nodes.get(i).is_some_and(|n| {
        n.next
            .iter()
            .any(|x| x.condition.as_deref().is_some_and(reads_status))
    })
}

/// The nodes without an open input that the walk of [`landing`] from `from` meets and whose
/// `next` routes on `input.live_chat.status`: meant as the landing node of a hand-over, they
/// lack the input the close status is delivered to (often an input removed by mistake).
pub(crate) fn status_routers_without_input(flow: &CompiledFlow, from: usize) -> Vec<usize> {
    walk_landing(flow, from).2
}

/// The nodes where the conversation lands after node `from` fires without waiting: follows
/// `next` edges through nodes without input. Returns the input nodes reached and whether some
/// path ends with no focus (a node without input and without any `next`, or an unknown target).
/// The walk stops at a node without input that routes on the close status
/// ([`status_routers_without_input`]): what lies beyond it is not where the author meant the
/// status to go.
pub(crate) fn landing(flow: &CompiledFlow, from: usize) -> (Vec<usize>, bool) {
    let (inputs, dead_end, _) = walk_landing(flow, from);
    (inputs, dead_end)
}

fn walk_landing(flow: &CompiledFlow, from: usize) -> (Vec<usize>, bool, Vec<usize>) {
    let mut seen = vec![false; flow.nodes.len()];
    let mut inputs = Vec::new();
    let mut routers = Vec::new();
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
        if routes_on_status(flow, i) {
            routers.push(i);
            continue;
        }
        let unconditional = node.next.iter().any(|x| x.condition.is_none());
        if !unconditional || node.next.iter().any(|x| x.target.is_none()) {
            dead_end = true;
        }
        stack.extend(node.next.iter().filter_map(|x| x.target));
    }
    inputs.sort_unstable();
    routers.sort_unstable();
    (inputs, dead_end, routers)
}

/// True when the walk of [`landing`] from `from` passes a node whose `input` or `next` the
/// schema stage could not read (`unread`): where the conversation lands is then unknown.
pub(crate) fn landing_uncertain(flow: &CompiledFlow, from: usize, unread: &[Unread]) -> bool {
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        if seen.get(i).copied().unwrap_or(true) {
            continue;
        }
        seen[i] = true;
        if unread
            .get(i)
            .is_some_and(|u| u.input || u.next != LostNext::Read)
        {
            return true;
        }
        let Some(node) = flow.nodes.get(i) else {
            continue;
        };
        if node.input.is_none() {
            stack.extend(node.next.iter().filter_map(|x| x.target));
        }
    }
    false
}
