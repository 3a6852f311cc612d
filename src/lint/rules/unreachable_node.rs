//! `unreachable-node`

use super::FlowRule;
use crate::compile::graph::reachable_despite;
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
    /// A node whose `next`, `condition` or `input` does not fit the schema is read with the
    /// widest meaning it could have had (its `next` may lead anywhere), so a `schema` finding
    /// does not also make its targets unreachable.
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
        // Parts of nodes the schema stage could not read take their widest meaning, so only
        // nodes unreachable whatever the author meant there are reported.
        for (i, seen) in reachable_despite(ctx.flow, &ctx.unread)
            .into_iter()
            .enumerate()
        {
            if !seen {
                let Some(n) = ctx.flow.nodes.get(i) else {
                    continue;
                };
                out.push(
                    Diagnostic::new::<UnreachableNode>(
                        Location::Value(format!("{}/id", n.pointer)),
                        format!(
                            "node {} can never be reached from the start node",
                            n.label()
                        ),
                    )
                    .help(
                        "add a `next` that leads here, give it an entry `condition`, or remove it",
                    ),
                );
            }
        }
    }
}
