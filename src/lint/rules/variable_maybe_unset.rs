//! `variable-maybe-unset`

use super::FlowRule;
use crate::compile::graph::{falls_through, is_root, reachable};
use crate::compile::{CompiledFlow, Role};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::expr::{BinOp, Expr, ExprKind, Span, UnOp};
use crate::lint::LintContext;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

declare_rule! {
    /// ## What it does
    /// Reports a `$variable` (or `context.variable`) read in a template on some path from the
    /// start node where it was never assigned. Assignments are a node's `context` keys, an
    /// action's `result_variable`, and the flow's `start_context` list (what the `start`
    /// event supplies). Reads that are guarded — the test of `? :`, the left side of `??`,
    /// `?:`, `&&`, `||` or `!` — and reads in conditions are not reported: there an unset
    /// variable is expected.
    ///
    /// ## Why it matters
    /// An unset variable renders as an empty string: "Olá !" instead of "Olá Maria!", an
    /// empty CPF sent to the agent, a URL with a hole in it.
    ///
    /// ## Example
    /// ```json
    /// { "id": "boas_vindas", "condition": "start", "output": [ { "default": { "type": "text", "text": "Olá <? $nome ?>" } } ] }
    /// ```
    /// with `nome` assigned only in a later node.
    pub struct VariableMaybeUnset => "variable-maybe-unset", Warning;
}

/// Sets of variable indices, one per node, in one table: each set is a row of `words` 64-bit
/// words (a flow with 64 variables or fewer has one word a node, and no set takes an
/// allocation of its own; a large flow has tens of thousands of nodes).
struct Sets {
    words: usize,
    data: Vec<u64>,
}

impl Sets {
    /// `rows` sets of `vars` variables, every word `word` (0: empty, `u64::MAX`: full).
    fn new(rows: usize, vars: usize, word: u64) -> Sets {
        let words = vars.div_ceil(64).max(1);
        Sets {
            words,
            data: vec![word; rows.saturating_mul(words)],
        }
    }
    fn row(&self, i: usize) -> &[u64] {
        let at = i.saturating_mul(self.words);
        self.data.get(at..at + self.words).unwrap_or_default()
    }
    fn row_mut(&mut self, i: usize) -> &mut [u64] {
        let at = i.saturating_mul(self.words);
        self.data.get_mut(at..at + self.words).unwrap_or_default()
    }
}

/// Adds variable `i` to the set `row`.
fn set(row: &mut [u64], i: usize) {
    if let Some(w) = row.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

/// Takes variable `i` out of the set `row`.
fn clear(row: &mut [u64], i: usize) {
    if let Some(w) = row.get_mut(i / 64) {
        *w &= !(1 << (i % 64));
    }
}

/// Whether variable `i` is in the set `row`.
fn has(row: &[u64], i: usize) -> bool {
    row.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// Narrows the set `a` to its intersection with `b`; true when `a` changed.
fn meet(a: &mut [u64], b: &[u64]) -> bool {
    let mut changed = false;
    for (a, b) in a.iter_mut().zip(b) {
        let n = *a & *b;
        changed |= n != *a;
        *a = n;
    }
    changed
}

/// What each node assigns (context keys with a non-null value, result variables) and deletes
/// (context keys set to `null`), as variable indices, in one list for every node.
struct Effects {
    /// Where each node's effects start in `list`, and where the last node's end.
    at: Vec<usize>,
    /// A variable, and whether it is deleted (else assigned).
    list: Vec<(u32, bool)>,
}

impl Effects {
    fn of(flow: &CompiledFlow, vars: &Vars<'_>) -> Effects {
        let index = |name: &str| u32::try_from(vars.index[name]).unwrap_or(u32::MAX);
        let mut at = Vec::with_capacity(flow.nodes.len() + 1);
        let results = |n: &crate::compile::CNode| {
            n.actions
                .iter()
                .filter(|a| a.result_variable.is_some())
                .count()
        };
        let len = flow
            .nodes
            .iter()
            .map(|n| n.context.len() + results(n))
            .sum();
        let mut list = Vec::with_capacity(len);
        for node in &flow.nodes {
            at.push(list.len());
            for (k, v) in &node.context {
                let null = matches!(v, crate::compile::CValue::Lit(l) if l.is_null());
                list.push((index(k), null));
            }
            for a in &node.actions {
                if let Some(r) = &a.result_variable {
                    list.push((index(r), false));
                }
            }
        }
        at.push(list.len());
        Effects { at, list }
    }
    fn of_node(&self, i: usize) -> &[(u32, bool)] {
        match (self.at.get(i), self.at.get(i + 1)) {
            (Some(&a), Some(&b)) => self.list.get(a..b).unwrap_or_default(),
            _ => &[],
        }
    }
    fn assigns(&self, i: usize, var: usize) -> bool {
        self.of_node(i)
            .iter()
            .any(|&(v, del)| !del && v as usize == var)
    }
    fn deletes(&self, i: usize, var: usize) -> bool {
        self.of_node(i)
            .iter()
            .any(|&(v, del)| del && v as usize == var)
    }
    /// Node `i`'s effect on the set of variables assigned when it is entered, `row`: its
    /// deletions, then its assignments.
    fn apply(&self, i: usize, row: &mut [u64]) {
        let effects = self.of_node(i);
        for &(v, _) in effects.iter().filter(|(_, del)| *del) {
            clear(row, v as usize);
        }
        for &(v, _) in effects.iter().filter(|(_, del)| !*del) {
            set(row, v as usize);
        }
    }
}

struct Vars<'a> {
    index: HashMap<&'a str, usize>,
}

impl<'a> Vars<'a> {
    fn of(flow: &'a CompiledFlow) -> Self {
        let mut index = HashMap::default();
        let mut add = |s: &'a str| {
            let n = index.len();
            index.entry(s).or_insert(n);
        };
        for v in &flow.start_context {
            add(v);
        }
        for n in &flow.nodes {
            for (k, _) in &n.context {
                add(k);
            }
            for a in &n.actions {
                if let Some(r) = &a.result_variable {
                    add(r);
                }
            }
        }
        Vars { index }
    }
}

/// A read of an assigned variable: its index, its name and where it is read.
type Read<'e> = (usize, &'e str, Span);

/// Variable names an expression reads without a guard, with the span of each read.
fn unguarded_reads<'e>(e: &'e Expr, out: &mut Vec<(&'e str, crate::expr::Span)>) {
    let mut guarded: HashSet<&str> = HashSet::default();
    let mut guard = |g: &'e Expr| {
        g.walk(&mut |y| {
            if let Some(name) = var_name(y) {
                guarded.insert(name);
            }
        })
    };
    e.walk(&mut |x| match &x.kind {
        ExprKind::Cond(c, _, _) => guard(c),
        ExprKind::Chain { first, rest }
            if rest.iter().any(|(op, _)| {
                matches!(op, BinOp::Nullish | BinOp::Elvis | BinOp::And | BinOp::Or)
            }) =>
        {
            guard(first);
            rest.iter().for_each(|(_, e)| guard(e));
        }
        ExprKind::Unary(UnOp::Not, a) => guard(a),
        _ => {}
    });
    e.walk(&mut |x| {
        if let Some(name) = var_name(x) {
            if !guarded.contains(name) {
                out.push((name, x.span.clone()));
            }
        }
    });
}

/// `$x` or `context.x` / `context['x']`.
pub(super) fn var_name(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Var(n) => Some(n),
        ExprKind::Member { object, name, .. } if matches!(&object.kind, ExprKind::Ident(r) if r == "context") => {
            Some(name)
        }
        ExprKind::Index { object, index } if matches!(&object.kind, ExprKind::Ident(r) if r == "context") => {
            match &index.kind {
                ExprKind::Str(s) => Some(s),
                _ => None,
            }
        }
        _ => None,
    }
}

impl FlowRule for VariableMaybeUnset {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let flow = ctx.flow;
        let Some(start) = flow.start else { return };
        let vars = Vars::of(flow);
        let nv = vars.index.len().max(1);
        let n = flow.nodes.len();
        let live = reachable(flow);

        let effects = Effects::of(flow, &vars);
        // The set after node `i`, entered with the set `inb`, in `out`.
        let transfer = |i: usize, inb: &[u64], out: &mut Vec<u64>| {
            out.clear();
            out.extend_from_slice(inb);
            effects.apply(i, out);
        };

        // Must-analysis: IN[n] = ∩ OUT[p] over predecessors. Nodes entered while the bot waits
        // (entry conditions, anything_else, the start fallback) also meet every waiting node.
        // A worklist over a monotone lattice: each IN only shrinks, so a node is revisited at
        // most once per variable, and the analysis always reaches its fixed point. OUT[n] is
        // not kept: it is IN[n] through the node's effects.
        let mut inb = Sets::new(n, nv, u64::MAX);
        let start_in = inb.row_mut(start);
        start_in.fill(0);
        for v in &flow.start_context {
            set(start_in, vars.index[v.as_str()]);
        }
        let waiting: Vec<bool> = (0..n).map(|i| live[i] && falls_through(flow, i)).collect();
        let entries: Vec<usize> = (0..n)
            .filter(|&i| live[i] && (is_root(flow, i) || i == start))
            .collect();
        let any_waiting = waiting.iter().any(|w| *w);
        let mut waiting_meet = vec![u64::MAX; inb.words];
        let mut queued = live.clone();
        let mut work: Vec<usize> = (0..n).filter(|&i| live[i]).rev().collect();
        let mut out_i = Vec::with_capacity(inb.words);
        let mut touched: Vec<usize> = Vec::new();
        while let Some(i) = work.pop() {
            queued[i] = false;
            transfer(i, inb.row(i), &mut out_i);
            for j in flow.successors(i) {
                if live[j] && meet(inb.row_mut(j), &out_i) {
                    touched.push(j);
                }
            }
            if waiting[i] && meet(&mut waiting_meet, &out_i) && any_waiting {
                for &j in &entries {
                    if meet(inb.row_mut(j), &waiting_meet) {
                        touched.push(j);
                    }
                }
            }
            for j in touched.drain(..) {
                if !std::mem::replace(&mut queued[j], true) {
                    work.push(j);
                }
            }
        }

        // Every unguarded read whose variable some path leaves unset, each with one such path.
        // (A variable assigned nowhere is `variable-never-assigned`'s.)
        let graph = Witness {
            flow,
            live: &live,
            waiting: &waiting,
            entries: &entries,
            effects: &effects,
        };
        let mut paths: HashMap<usize, Vec<Option<usize>>> = HashMap::default();
        // Sites of the same text share a tree, and so its reads: each tree's reads of assigned
        // variables, with the variable's index, found at its first site.
        let mut reads_of: Vec<Option<Vec<Read<'_>>>> = vec![None; flow.tree_count()];
        // Templates of a node see its own context assignments and result variables
        // (approximation: all of them, whatever their order); a node's sites are consecutive.
        let mut state = (usize::MAX, Vec::new());
        for site in flow
            .sites
            .iter()
            .filter(|s| s.role() == Role::Template && live[s.node()])
        {
            let node = site.node();
            if state.0 != node {
                state.0 = node;
                transfer(node, inb.row(node), &mut state.1);
            }
            let (Some(reads), Some(expr)) = (reads_of.get_mut(site.tree()), flow.expr(site)) else {
                continue;
            };
            let reads = reads.get_or_insert_with(|| {
                let mut reads = Vec::new();
                unguarded_reads(expr, &mut reads);
                reads
                    .into_iter()
                    .filter_map(|(name, span)| Some((*vars.index.get(name)?, name, span)))
                    .collect()
            });
            for &(var, name, ref span) in reads.iter() {
                if has(&state.1, var) {
                    continue;
                }
                let starts_set = flow.start_context.iter().any(|v| v == name);
                let parents = paths
                    .entry(var)
                    .or_insert_with(|| graph.unset_paths(start, var, starts_set));
                let path = path_to(parents, node, n);
                let mut d = Diagnostic::new::<VariableMaybeUnset>(
                    flow.place(site).at(span),
                    format!(
                        "`${name}` may be unset here: some path from the start node reaches this node without assigning it"
                    ),
                );
                let mut help = format!(
                    "assign `{name}` earlier on every path, or guard the read: `<? ${name} ?? '' ?>`"
                );
                if path.len() > 1 {
                    // A long path is shown by its ends.
                    let mut shown: Vec<String> =
                        path.iter().map(|&i| flow.nodes[i].label()).collect();
                    if shown.len() > MAX_SHOWN_PATH {
                        let tail = shown.split_off(shown.len() - MAX_SHOWN_PATH / 2);
                        shown.truncate(MAX_SHOWN_PATH / 2);
                        shown.push(format!("… ({} more)", path.len() - MAX_SHOWN_PATH));
                        shown.extend(tail);
                    }
                    help = format!(
                        "nothing assigns `{name}` on the path {}; {help}",
                        shown.join(" → ")
                    );
                    // Labels along the path, on each node's id (the read itself is the caret).
                    for (step, &i) in path.iter().enumerate() {
                        if i == node || path.len() > MAX_SHOWN_PATH {
                            continue;
                        }
                        let what = if effects.deletes(i, var) {
                            format!("{}. `{name}` is set to null here", step + 1)
                        } else {
                            format!("{}. does not assign `{name}`", step + 1)
                        };
                        d = d.also(
                            Location::Value(format!("{}/id", flow.nodes[i].pointer)),
                            what,
                        );
                    }
                }
                out.push(d.help(help));
            }
        }
    }
}

/// Longest path shown whole (in the help, and as labels on the nodes' ids).
const MAX_SHOWN_PATH: usize = 8;

/// The graph the dataflow walks, for finding one path on which a variable is unset.
struct Witness<'a> {
    flow: &'a CompiledFlow,
    live: &'a [bool],
    waiting: &'a [bool],
    entries: &'a [usize],
    effects: &'a Effects,
}

impl Witness<'_> {
    /// Breadth-first from the start node over the nodes entered with `var` unset: for each, the
    /// node it was entered from (the start node is its own parent). `starts_set`: the start
    /// event supplies `var`.
    fn unset_paths(&self, start: usize, var: usize, starts_set: bool) -> Vec<Option<usize>> {
        let n = self.flow.nodes.len();
        let assigns = |i: usize| self.effects.assigns(i, var);
        let kills = |i: usize| self.effects.deletes(i, var);
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut queue = std::collections::VecDeque::new();
        if !starts_set {
            parent[start] = Some(start);
            queue.push_back(start);
        }
        // A node that deletes `var` leaves it unset whatever came before.
        for i in (0..n).filter(|&i| self.live[i] && kills(i) && !assigns(i)) {
            if parent[i].is_none() {
                parent[i] = Some(i);
                queue.push_back(i);
            }
        }
        let mut entries_done = false;
        while let Some(i) = queue.pop_front() {
            if assigns(i) {
                continue;
            }
            let mut next: Vec<usize> = self.flow.successors(i).filter(|&j| self.live[j]).collect();
            if self.waiting[i] && !entries_done {
                entries_done = true;
                next.extend(self.entries.iter().copied());
            }
            for j in next {
                if parent[j].is_none() {
                    parent[j] = Some(i);
                    queue.push_back(j);
                }
            }
        }
        parent
    }
}

/// The path from the search's root to `to` (empty when none was found), at most `n` long.
fn path_to(parent: &[Option<usize>], to: usize, n: usize) -> Vec<usize> {
    let mut path = vec![to];
    let mut at = to;
    while let Some(Some(p)) = parent.get(at) {
        if *p == at {
            path.reverse();
            return path;
        }
        if path.len() > n {
            break;
        }
        path.push(*p);
        at = *p;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::{has, meet, set, Sets};

    /// Sets past the first word (a flow with more than 64 variables) behave as the first, and
    /// the rows of a table are apart.
    #[test]
    fn sets_of_many_variables_keep_every_word() {
        let n = 150;
        let members = [0, 63, 64, 127, 128, 149];
        let mut sets = Sets::new(3, n, 0);
        let a = sets.row_mut(1);
        for i in members {
            set(a, i);
        }
        super::clear(a, 64);
        let a = sets.row(1).to_vec();
        let expected = |i: usize| members.contains(&i) && i != 64;
        assert!((0..n).all(|i| has(&a, i) == expected(i)));
        assert!((0..n).all(|i| !has(sets.row(0), i) && !has(sets.row(2), i)));
        let mut full = Sets::new(1, n, u64::MAX);
        assert!(meet(full.row_mut(0), &a), "narrowed");
        assert!(
            full.row(0) == a && !meet(full.row_mut(0), &a),
            "then unchanged"
        );
    }
}
