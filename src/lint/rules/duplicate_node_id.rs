//! `duplicate-node-id`

use crate::diagnostic::Diagnostic;
use crate::lint::{declare_rule, LintContext};
use std::collections::HashMap;

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

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, n) in ctx.flow.nodes.iter().enumerate() {
        if let Some(&f) = first.get(n.id.as_str()) {
            out.push(
                Diagnostic::new(
                    DuplicateNodeId::META.code,
                    DuplicateNodeId::META.severity,
                    format!("{}/id", n.pointer),
                    format!("node id `{}` is already used by an earlier node", n.id),
                )
                .help(format!(
                    "the first node with this id is at {}; rename one of them",
                    ctx.flow.nodes[f].pointer
                )),
            );
        } else {
            first.insert(&n.id, i);
        }
    }
}
