//! `watson-jump-without-target`

use super::watson_tree::Tree;
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};

declare_rule! {
    /// ## What it does
    /// Reports a `next_step` with `behavior: jump_to` (or a legacy `go_to`) that names no
    /// `dialog_node` to jump to. (A name that matches no node is `unknown-goto-target`.)
    ///
    /// ## Why it matters
    /// The jump goes nowhere: Watson leaves such a `next_step` behind when the target node is
    /// deleted, and the conversation stops where the author meant it to move on.
    ///
    /// ## Example
    /// ```json
    /// "next_step": { "behavior": "jump_to", "selector": "body" }
    /// ```
    pub struct WatsonJumpWithoutTarget => "watson-jump-without-target", Error;
}

impl WatsonRule for WatsonJumpWithoutTarget {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        for i in 0..tree.nodes.len() {
            let Some(step) = tree.step(i) else { continue };
            if !step.jumps() || step.target().is_some() {
                continue;
            }
            let suffix = if step.value.contains_key("behavior") {
                format!("/{}/behavior", step.field)
            } else {
                format!("/{}", step.field)
            };
            out.push(
                Diagnostic::new::<WatsonJumpWithoutTarget>(
                    Location::Value(tree.pointer(i, &suffix)),
                    format!("`{}` jumps, but names no node to jump to", tree.id(i)),
                )
                .help("set `dialog_node` to the node to jump to, or wait for the user's input (`get_user_input`)"),
            );
        }
    }
}
