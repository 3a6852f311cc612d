//! `loop-without-input`

use super::FlowRule;
use crate::compile::graph::loops_without_input;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports nodes that can fire each other in a cycle through `next` without any of them
    /// waiting for input.
    ///
    /// ## Why it matters
    /// Unless a condition breaks the cycle, the turn never ends; fluxo stops it after 64
    /// firings with a `loop_limit` error, and the builder may hang or flood the user.
    ///
    /// A node whose `input` does not fit the schema counts as waiting: the `schema` finding
    /// says what is wrong, and the loop it closes may well wait for the user.
    ///
    /// ## Example
    /// ```json
    /// [ { "id": "a", "next": [ { "goto": "b" } ] }, { "id": "b", "next": [ { "goto": "a" } ] } ]
    /// ```
    pub struct LoopWithoutInput => "loop-without-input", Warning;
}

impl FlowRule for LoopWithoutInput {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for comp in loops_without_input(ctx.flow, &ctx.unread) {
            let names: Vec<String> = comp
                .iter()
                .take(8)
                .map(|&i| ctx.flow.nodes[i].label())
                .collect();
            let more = if comp.len() > 8 {
                format!(" and {} more", comp.len() - 8)
            } else {
                String::new()
            };
            let first = &ctx.flow.nodes[comp[0]];
            let unconditional = comp
                .iter()
                .all(|&i| ctx.flow.nodes[i].next.iter().all(|x| x.condition.is_none()));
            out.push(
                Diagnostic::new::<LoopWithoutInput>(
                    Location::Value(format!("{}/next", first.pointer)),
                    format!(
                        "nodes {}{more} can fire one another in a loop without waiting for input{}",
                        names.join(", "),
                        if unconditional {
                            " (every step is unconditional: the loop never ends)"
                        } else {
                            ""
                        }
                    ),
                )
                .help("give one node of the loop an `input`, or a condition that ends the loop"),
            );
        }
    }
}
