//! `duplicate-node-id`

use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a node whose `id` is already used by an earlier node.
    ///
    /// ## Why it matters
    /// `next[].goto` names a node by id; with two nodes of that id, the later one can never be
    /// reached through `goto`.
    ///
    /// ## Example
    /// ```json
    /// [ { "id": "menu" }, { "id": "menu" } ]
    /// ```
    pub struct DuplicateNodeId => "duplicate-node-id", Error;
}

impl FlowRule for DuplicateNodeId {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let nodes = &ctx.flow.nodes;
        // Each node that shares its id with an earlier one, and that earlier one, in file
        // order. (A table keyed by id held a large flow's every id for one finding or none.)
        let order = crate::compile::IdOrder::of(nodes);
        let mut again: Vec<(usize, usize)> = Vec::new();
        for group in order.groups(nodes) {
            if let [f, rest @ ..] = group {
                again.extend(rest.iter().map(|&i| (i as usize, *f as usize)));
            }
        }
        again.sort_unstable();
        for (i, f) in again {
            let n = &nodes[i];
            out.push(
                Diagnostic::new::<DuplicateNodeId>(
                    Location::Value(format!("{}/id", n.pointer)),
                    match &ctx.flow.nodes[f].name {
                        Some(name) => format!(
                            "node id `{}` is already used by an earlier node ({name})",
                            n.id
                        ),
                        None => {
                            format!("node id `{}` is already used by an earlier node", n.id)
                        }
                    },
                )
                .label("used again here")
                .also(
                    Location::Value(format!("{}/id", ctx.flow.nodes[f].pointer)),
                    "first used here",
                )
                .help("rename one of them"),
            );
        }
    }
}
