//! `watson-parent-cycle`

use super::watson_tree::{link_cycles, name_list, Tree};
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};

declare_rule! {
    /// ## What it does
    /// Reports dialog nodes whose `parent` links go round in a circle: a node that is its own
    /// parent, or `a` under `b` under `a`.
    ///
    /// ## Why it matters
    /// Such nodes hang from no root: Watson refuses the workspace, and no path of the dialog
    /// can reach them.
    ///
    /// ## Example
    /// ```json
    /// { "dialog_node": "billing", "parent": "invoices" },
    /// { "dialog_node": "invoices", "parent": "billing" }
    /// ```
    pub struct WatsonParentCycle => "watson-parent-cycle", Error;
}

impl WatsonRule for WatsonParentCycle {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        let links: Vec<Option<usize>> = (0..tree.nodes.len()).map(|i| tree.parent(i)).collect();
        for cycle in link_cycles(&links) {
            let Some(&first) = cycle.first() else {
                continue;
            };
            let message = if cycle.len() == 1 {
                format!("`{}` is its own parent", tree.id(first))
            } else {
                format!(
                    "the `parent` links of {} go round in a circle",
                    name_list(tree, &cycle, 6)
                )
            };
            out.push(
                Diagnostic::new::<WatsonParentCycle>(
                    Location::Value(tree.pointer(first, "/parent")),
                    message,
                )
                .help("give one of these nodes a parent outside the circle, or make it a root node (`parent: null`)"),
            );
        }
    }
}
