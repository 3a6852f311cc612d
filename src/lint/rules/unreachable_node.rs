//! `unreachable-node`

use super::FlowRule;
use crate::compile::graph::reachable;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a node the conversation can never reach from the start node: no `next` leads to
    /// it, and it has no entry condition that could fire while the bot waits for input.
    ///
    /// ## Why it matters
    /// Dead nodes are usually a forgotten `goto` (the author thinks a branch exists that no
    /// user can reach) or leftovers that make the flow harder to read.
    ///
    /// ## Example
    /// A node `pesquisa` with no entry condition that no `next` names.
    pub struct UnreachableNode => "unreachable-node", Warning;
}

impl FlowRule for UnreachableNode {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        if ctx.flow.start.is_none() {
            return; // missing-start-node says it all
        }
        for (i, seen) in reachable(ctx.flow).into_iter().enumerate() {
            if !seen {
                let n = &ctx.flow.nodes[i];
                out.push(
                    Diagnostic::new::<UnreachableNode>(
                        Location::Value(format!("{}/id", n.pointer)),
                        format!("node `{}` can never be reached from the start node", n.id),
                    )
                    .help(
                        "add a `next` that leads here, give it an entry `condition`, or remove it",
                    ),
                );
            }
        }
    }
}
