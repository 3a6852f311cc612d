//! `missing-integration-id`

use super::live_chats;
use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a `start_live_chat` action without an `integration_id` parameter.
    ///
    /// ## Why it matters
    /// The builder cannot tell which live-chat integration (Connect > Live Chats) should take
    /// the conversation, so the hand-over fails and the user is left with the bot.
    ///
    /// ## Example
    /// ```json
    /// { "name": "start_live_chat", "parameters": { "skill_id": "123" } }
    /// ```
    pub struct MissingIntegrationId => "missing-integration-id", Error;
}

impl FlowRule for MissingIntegrationId {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for lc in live_chats(ctx) {
            if lc.action.param("integration_id").is_none() {
                out.push(
                    Diagnostic::new::<MissingIntegrationId>(Location::Value(lc.pointer.clone()),
                        "`start_live_chat` has no `integration_id`: nothing says which live chat takes the conversation",
                    )
                    .help("add `\"integration_id\": <id>` to `parameters`"),
                );
            }
        }
    }
}
