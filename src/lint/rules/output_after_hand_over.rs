//! `output-after-hand-over`

use super::{live_chats, FlowRule};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;
use std::collections::BTreeSet;

declare_rule! {
    /// ## What it does
    /// Reports `output` (or conditional `responses`) on a node that hands the conversation
    /// over with `start_live_chat`.
    ///
    /// ## Why it matters
    /// Once the hand-over is requested the bot has left the scene: the node's own output would
    /// arrive after the agent's first words, so fluxo never sends it (a documented choice; the
    /// builder's docs do not say). Messages meant for the user before the transfer belong in
    /// the action's `before_action_messages`.
    ///
    /// ## Example
    /// ```json
    /// { "id": "transbordo", "actions": [ { "name": "start_live_chat", "parameters": { "integration_id": 7 } } ],
    ///   "output": [ { "default": { "type": "text", "text": "Aguarde um atendente." } } ] }
    /// ```
    /// Move the text to `"before_action_messages": ["Aguarde um atendente."]`.
    pub struct OutputAfterHandOver => "output-after-hand-over", Warning;
}

impl FlowRule for OutputAfterHandOver {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let nodes: BTreeSet<usize> = live_chats(ctx).map(|lc| lc.node).collect();
        for i in nodes {
            let node = &ctx.flow.nodes[i];
            let field = match (node.output.is_empty(), node.responses.is_empty()) {
                (false, _) => "output",
                (true, false) => "responses",
                (true, true) => continue,
            };
            out.push(
                Diagnostic::new::<OutputAfterHandOver>(
                    Location::Key(format!("{}/{field}", node.pointer)),
                    format!(
                        "node {} hands over to a live chat, so its own `{field}` is never shown",
                        node.label()
                    ),
                )
                .help("send it before the transfer with the action's `before_action_messages`"),
            );
        }
    }
}
