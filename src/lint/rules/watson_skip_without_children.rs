//! `watson-skip-without-children`

use super::watson_tree::Tree;
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};

declare_rule! {
    /// ## What it does
    /// Reports `next_step.behavior: skip_user_input` on a node that has no dialog children
    /// (enabled standard nodes, frames or folders under it).
    ///
    /// ## Why it matters
    /// Skipping the user's input means "go straight on to my children"; with none, there is
    /// nothing to go on to, and Watson's tool only offers the option on nodes with children.
    /// The author most likely meant a jump, or children that were since deleted.
    ///
    /// ## Example
    /// ```json
    /// { "dialog_node": "goodbye", "next_step": { "behavior": "skip_user_input" } }
    /// ```
    /// with no node whose `parent` is `goodbye`.
    pub struct WatsonSkipWithoutChildren => "watson-skip-without-children", Warning;
}

impl WatsonRule for WatsonSkipWithoutChildren {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        let children = tree.children();
        for i in 0..tree.nodes.len() {
            let Some(step) = tree.step(i) else { continue };
            if step.field != "next_step" || step.behavior() != Some("skip_user_input") {
                continue;
            }
            if !matches!(tree.kind(i), "standard" | "frame" | "folder") || tree.disabled(i) {
                continue;
            }
            if !tree.dialog_children(&children, i).is_empty() {
                continue;
            }
            out.push(
                Diagnostic::new::<WatsonSkipWithoutChildren>(
                    Location::Value(tree.pointer(i, "/next_step/behavior")),
                    format!(
                        "`{}` skips the user's input, but has no children to go on to",
                        tree.id(i)
                    ),
                )
                .help("use `jump_to` with the node to go on to, or `get_user_input`"),
            );
        }
    }
}
