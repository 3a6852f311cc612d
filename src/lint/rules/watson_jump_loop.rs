//! `watson-jump-loop`

use super::watson_tree::{name_list, Tree};
use super::WatsonRule;
use crate::compile::graph::cyclic_components;
use crate::diagnostic::{declare_rule, Diagnostic, Location};

declare_rule! {
    /// ## What it does
    /// Reports dialog nodes that jump (`jump_to` with selector `condition` or `body`) or skip
    /// the user's input (`skip_user_input`) round in a circle, so that one turn can go round
    /// without ever waiting for input. A jump with selector `user_input`, a node that waits
    /// (`get_user_input`, the default) or a frame that prompts for its slots breaks the circle.
    ///
    /// ## Why it matters
    /// Watson documents no limit on the nodes one turn processes; the same input takes the
    /// same path again, so the turn never ends (Watson answers an error, fluxo stops at
    /// `MAX_NODES_PER_TURN`). IBM warns about a jump from a conditional response back to a
    /// node above it.
    ///
    /// ## Example
    /// ```json
    /// { "dialog_node": "menu", "next_step": { "behavior": "jump_to", "selector": "body", "dialog_node": "options" } },
    /// { "dialog_node": "options", "next_step": { "behavior": "jump_to", "selector": "condition", "dialog_node": "menu" } }
    /// ```
    pub struct WatsonJumpLoop => "watson-jump-loop", Warning;
}

impl WatsonRule for WatsonJumpLoop {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        let children = tree.children();
        let n = tree.nodes.len();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, e) in edges.iter_mut().enumerate() {
            // A frame prompts for its slots: the turn waits there.
            if tree.disabled(i) || tree.kind(i) == "frame" {
                continue;
            }
            let Some(step) = tree.step(i) else { continue };
            if step.jumps() {
                if step.selector() == "user_input" {
                    continue;
                }
                if let Some(t) = step.target().and_then(|t| tree.by_id.get(t)) {
                    if !tree.disabled(*t) {
                        e.push(*t);
                    }
                }
            } else if step.field == "next_step" && step.behavior() == Some("skip_user_input") {
                e.extend(tree.dialog_children(&children, i));
            }
        }
        let of = |v: usize| edges.get(v).map_or(&[][..], Vec::as_slice);
        for comp in cyclic_components(edges.len(), of) {
            let Some(&first) = comp.first() else { continue };
            let field = tree.step(first).map_or("next_step", |s| s.field);
            let suffix = match tree.step(first) {
                Some(s) if s.jumps() => format!("/{field}/dialog_node"),
                _ => format!("/{field}/behavior"),
            };
            let message = if comp.len() == 1 {
                format!(
                    "`{}` jumps to itself without waiting for input: one turn can go round forever",
                    tree.id(first)
                )
            } else {
                format!(
                    "{} jump or skip to each other without waiting for input: one turn can go round forever",
                    name_list(tree, &comp, 6)
                )
            };
            out.push(
                Diagnostic::new::<WatsonJumpLoop>(Location::Value(tree.pointer(first, &suffix)), message)
                    .help("wait for the user's input somewhere on the way (`get_user_input`, or a jump with selector `user_input`)"),
            );
        }
    }
}
