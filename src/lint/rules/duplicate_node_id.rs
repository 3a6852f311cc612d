//! `duplicate-node-id`

use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;
use rustc_hash::FxHashMap as HashMap;

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
        let mut first: HashMap<&str, usize> = HashMap::default();
        for (i, n) in ctx.flow.nodes.iter().enumerate() {
            if let Some(&f) = first.get(n.id.as_str()) {
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
            } else {
                first.insert(&n.id, i);
            }
        }
    }
}
