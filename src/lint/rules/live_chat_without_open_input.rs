//! `live-chat-without-open-input`

use super::live_chats;
use super::FlowRule;
use crate::compile::graph::{landing, landing_uncertain, status_routers_without_input};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a `start_live_chat` after which the conversation reaches no node with an open
    /// `input`: neither the hand-over node itself nor any node its `next` leads to without
    /// waiting.
    ///
    /// ## Why it matters
    /// The builder's documented pattern is a node with an open input after the hand-over
    /// node. When the chat ends, the close status (`input.live_chat.status`) is delivered to
    /// that node; without it, the bot cannot route the user back (survey, goodbye, retry).
    ///
    /// ## Example
    /// ```json
    /// { "id": "transbordo", "actions": [ { "name": "start_live_chat", … } ] }
    /// ```
    /// with no `next` and no `input`.
    pub struct LiveChatWithoutOpenInput => "live-chat-without-open-input", Error;
}

impl FlowRule for LiveChatWithoutOpenInput {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for lc in live_chats(ctx) {
            let (inputs, _) = landing(ctx.flow, lc.node);
            // A lost `input` or `next` on the way (a schema finding) may be the open input.
            // A node on the way that routes on the status but lost its input is reported
            // there (`live-chat-status-without-hand-over`), where the fix is.
            if inputs.is_empty()
                && !landing_uncertain(ctx.flow, lc.node, &ctx.unread)
                && status_routers_without_input(ctx.flow, lc.node).is_empty()
            {
                out.push(
                    Diagnostic::new::<LiveChatWithoutOpenInput>(Location::Value(format!("{}/name", lc.pointer)),
                        "after this hand-over no node waits for input, so the close status has nowhere to go",
                    )
                    .help("add a `next` to a node with an open `input` whose `next` tests `input.live_chat.status`"),
                );
            }
        }
    }
}
