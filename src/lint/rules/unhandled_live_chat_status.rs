//! `unhandled-live-chat-status`

use super::FlowRule;
use super::{integration_of, live_chats};
use crate::compile::graph::{landing, routes_on_status, LostNext};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::domain::CloseStatus;
use crate::expr::{Budget, Dialect, Evaluator, Scope};
use crate::lint::LintContext;
use serde_json::json;
use std::collections::BTreeMap;

declare_rule! {
    /// ## What it does
    /// For every hand-over, looks at the open-input node the conversation lands on and checks
    /// that its `next` handles every close status — `agent_closed`, `user_closed`, `timeout`,
    /// `user_inactivity_timeout`, `error`, and `out_of_hours` when the integration has
    /// business hours — either with a condition that holds for that status or with an
    /// unconditional fallback. Conditions are evaluated with `input.live_chat.status` set and
    /// an empty context.
    ///
    /// ## Why it matters
    /// An unhandled status falls through to the flow's entry conditions: a user whose chat
    /// timed out gets the main menu instead of an apology.
    ///
    /// ## Example
    /// ```json
    /// "next": [ { "condition": "input.live_chat.status == 'agent_closed'", "goto": "pesquisa" } ]
    /// ```
    /// leaves `user_closed`, `timeout`, `user_inactivity_timeout` and `error` unhandled.
    pub struct UnhandledLiveChatStatus => "unhandled-live-chat-status", Warning;
}

impl FlowRule for UnhandledLiveChatStatus {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        // Landing node → statuses it must handle (several hand-overs may share one landing node).
        let mut needs: BTreeMap<usize, &[CloseStatus]> = BTreeMap::new();
        for lc in live_chats(ctx) {
            let bh = integration_of(ctx, lc.action).is_some_and(|i| i.business_hours.is_some());
            for l in landing(ctx.flow, lc.node).0 {
                let e = needs.entry(l).or_insert(CloseStatus::possible(bh));
                if bh {
                    *e = CloseStatus::possible(true);
                }
            }
        }
        for (l, statuses) in needs {
            // A `next` the schema stage could not read may well handle every status.
            if ctx.unread.get(l).is_some_and(|u| u.next != LostNext::Read) {
                continue;
            }
            let node = &ctx.flow.nodes[l];
            let pointer = if node.next.is_empty() {
                node.pointer.clone()
            } else {
                format!("{}/next", node.pointer)
            };
            if !routes_on_status(ctx.flow, l) {
                // A survey right after the hand-over would take the close notice (an empty
                // text) as the user's answer.
                out.push(
                    Diagnostic::new::<UnhandledLiveChatStatus>(
                        Location::Value(pointer),
                        format!(
                            "node {} receives the return from the live chat, but none of its `next` conditions reads `input.live_chat.status`: the close notice is taken as the user's answer",
                            node.label()
                        ),
                    )
                    .help("route the close status first (`input.live_chat.status == 'agent_closed'` → the survey), and wait for the user's answer in the node after it"),
                );
                continue;
            }
            let missing: Vec<&str> = statuses
                .iter()
                .filter(|s| !handles(ctx, l, **s))
                .map(|s| s.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::new::<UnhandledLiveChatStatus>(
                    Location::Value(pointer),
                    format!(
                        "node {} receives the live-chat close status but its `next` does not handle: {}",
                        node.label(),
                        missing.join(", ")
                    ),
                )
                .help("add a `next` entry per status (`input.live_chat.status == '…'`) or an unconditional fallback"),
            );
        }
    }
}

fn handles(ctx: &LintContext<'_>, node: usize, status: CloseStatus) -> bool {
    let input = json!({ "text": "", "live_chat": { "status": status.as_str() } });
    let empty = json!({});
    let scope = Scope {
        context: &empty,
        contact: &empty,
        input: &input,
        ..Scope::empty()
    };
    ctx.flow.nodes[node].next.iter().any(|x| {
        x.condition.as_ref().is_none_or(|c| {
            Evaluator::new(scope, Budget::default(), Dialect::Builder)
                .condition(c)
                .unwrap_or(false)
        })
    })
}
