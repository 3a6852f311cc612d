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

/// A set of variable indices: the first 64 in one word, the others in `rest` (empty, so never
/// allocated, in a flow with 64 variables or fewer; this rule makes and copies a set per node).
#[derive(Clone, PartialEq, Eq)]
struct Bits {
    first: u64,
    rest: Vec<u64>,
}

impl Bits {
    fn of(n: usize, word: u64) -> Self {
        Bits {
            first: word,
            rest: vec![word; n.div_ceil(64).saturating_sub(1)],
        }
    }
    fn empty(n: usize) -> Self {
        Bits::of(n, 0)
    }
    fn full(n: usize) -> Self {
        Bits::of(n, u64::MAX)
    }
    fn word(&mut self, i: usize) -> Option<&mut u64> {
        match i / 64 {
            0 => Some(&mut self.first),
            w => self.rest.get_mut(w - 1),
        }
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = self.word(i) {
            *w |= 1 << (i % 64);
        }
    }
    fn clear(&mut self, i: usize) {
        if let Some(w) = self.word(i) {
            *w &= !(1 << (i % 64));
        }
    }
    fn has(&self, i: usize) -> bool {
        let w = match i / 64 {
            0 => Some(self.first),
            w => self.rest.get(w - 1).copied(),
        };
        w.is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn meet(&mut self, o: &Bits) -> bool {
        let mut changed = false;
        let words =
            std::iter::once((&mut self.first, &o.first)).chain(self.rest.iter_mut().zip(&o.rest));
        for (a, b) in words {
            let n = *a & *b;
            changed |= n != *a;
            *a = n;
        }
        changed
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

        // What each node assigns (context keys with a non-null value, result variables) and deletes.
        let gen_kill: Vec<(Vec<usize>, Vec<usize>)> = flow
            .nodes
            .iter()
            .map(|node| {
                let mut gen = Vec::new();
                let mut kill = Vec::new();
                for (k, v) in &node.context {
                    let i = vars.index[k.as_str()];
                    if matches!(v, crate::compile::CValue::Lit(l) if l.is_null()) {
                        kill.push(i);
                    } else {
                        gen.push(i);
                    }
                }
                for a in &node.actions {
                    if let Some(r) = &a.result_variable {
                        gen.push(vars.index[r.as_str()]);
                    }
                }
                (gen, kill)
            })
            .collect();
        let transfer = |i: usize, inb: &Bits| {
            let mut o = inb.clone();
            for &k in &gen_kill[i].1 {
                o.clear(k);
            }
            for &g in &gen_kill[i].0 {
                o.set(g);
            }
            o
        };

        // Must-analysis: IN[n] = ∩ OUT[p] over predecessors. Nodes entered while the bot waits
        // (entry conditions, anything_else, the start fallback) also meet every waiting node.
        // A worklist over a monotone lattice: each IN only shrinks, so a node is revisited at
        // most once per variable, and the analysis always reaches its fixed point.
        let mut start_in = Bits::empty(nv);
        for v in &flow.start_context {
            start_in.set(vars.index[v.as_str()]);
        }
        let mut inb: Vec<Bits> = vec![Bits::full(nv); n];
        inb[start] = start_in;
        let mut outb: Vec<Bits> = (0..n).map(|i| transfer(i, &inb[i])).collect();
        let waiting: Vec<bool> = (0..n).map(|i| live[i] && falls_through(flow, i)).collect();
        let entries: Vec<usize> = (0..n)
            .filter(|&i| live[i] && (is_root(flow, i) || i == start))
            .collect();
        let any_waiting = waiting.iter().any(|w| *w);
        let mut waiting_meet = Bits::full(nv);
        let mut queued = live.clone();
        let mut work: Vec<usize> = (0..n).filter(|&i| live[i]).rev().collect();
        let narrow = |j: usize, by: &Bits, inb: &mut Vec<Bits>, outb: &mut Vec<Bits>| {
            if inb[j].meet(by) {
                outb[j] = transfer(j, &inb[j]);
                true
            } else {
                false
            }
        };
        let mut touched: Vec<usize> = Vec::new();
        while let Some(i) = work.pop() {
            queued[i] = false;
            let out_i = outb[i].clone();
            for j in flow.successors(i) {
                if live[j] && narrow(j, &out_i, &mut inb, &mut outb) {
                    touched.push(j);
                }
            }
            if waiting[i] && waiting_meet.meet(&out_i) && any_waiting {
                for &j in &entries {
                    if narrow(j, &waiting_meet, &mut inb, &mut outb) {
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
            gen_kill: &gen_kill,
        };
        let mut paths: HashMap<usize, Vec<Option<usize>>> = HashMap::default();
        // Sites of the same text share a tree, and so its reads: each tree's reads of assigned
        // variables, with the variable's index, found at its first site.
        let mut reads_of: Vec<Option<Vec<Read<'_>>>> = vec![None; flow.tree_count()];
        // Templates of a node see its own context assignments and result variables
        // (approximation: all of them, whatever their order); a node's sites are consecutive.
        let mut state = (usize::MAX, Bits::empty(0));
        for site in flow
            .sites
            .iter()
            .filter(|s| s.role() == Role::Template && live[s.node()])
        {
            let node = site.node();
            if state.0 != node {
                state = (node, transfer(node, &inb[node]));
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
                if state.1.has(var) {
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
                        let what = if gen_kill[i].1.contains(&var) {
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
    gen_kill: &'a [(Vec<usize>, Vec<usize>)],
}

impl Witness<'_> {
    /// Breadth-first from the start node over the nodes entered with `var` unset: for each, the
    /// node it was entered from (the start node is its own parent). `starts_set`: the start
    /// event supplies `var`.
    fn unset_paths(&self, start: usize, var: usize, starts_set: bool) -> Vec<Option<usize>> {
        let n = self.flow.nodes.len();
        let assigns = |i: usize| self.gen_kill[i].0.contains(&var);
        let kills = |i: usize| self.gen_kill[i].1.contains(&var);
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
    use super::Bits;

    /// Sets past the first word (a flow with more than 64 variables) behave as the first.
    #[test]
    fn sets_of_many_variables_keep_every_word() {
        let n = 150;
        let mut a = Bits::empty(n);
        for i in [0, 63, 64, 127, 128, 149] {
            a.set(i);
        }
        assert!((0..n).all(|i| a.has(i) == [0, 63, 64, 127, 128, 149].contains(&i)));
        a.clear(64);
        assert!(!a.has(64) && a.has(63) && a.has(127));
        let mut full = Bits::full(n);
        assert!(full.meet(&a), "narrowed");
        assert!(full == a && !full.meet(&a), "then unchanged");
        assert!((0..n).all(|i| full.has(i) == a.has(i)));
    }
}
