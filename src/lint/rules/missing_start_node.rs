//! `missing-start-node`

use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a flow in which no node has the condition `start`.
    ///
    /// ## Why it matters
    /// A conversation begins at the start node (the last node whose condition is `start`);
    /// without one, the bot cannot answer the first message.
    ///
    /// ## Example
    /// ```json
    /// { "id": "boas_vindas", "condition": "start", "output": [ … ] }
    /// ```
    pub struct MissingStartNode => "missing-start-node", Error;
}

impl FlowRule for MissingStartNode {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        // A node whose entry condition could not be read may have been the start node; the
        // schema finding says what is wrong there.
        if ctx.flow.start.is_none() && !ctx.unread.iter().any(|u| u.entry) {
            out.push(
                Diagnostic::new::<MissingStartNode>(
                    Location::Value(String::from("/nodes")),
                    "no node has the condition `start`: the conversation has nowhere to begin",
                )
                .help("give the welcome node `\"condition\": \"start\"`"),
            );
        }
    }
}
