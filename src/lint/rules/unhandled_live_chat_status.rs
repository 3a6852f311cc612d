//! `unhandled-live-chat-status`

use crate::diagnostic::Diagnostic;
use crate::expr::eval::eval_condition;
use crate::expr::Scope;
use crate::lint::graph::landing;
use crate::lint::rules::{integration_of, live_chats, CLOSE_STATUSES};
use crate::lint::{declare_rule, LintContext};
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

/// The close statuses a hand-over can end with.
pub fn statuses_for(has_business_hours: bool) -> &'static [&'static str] {
    if has_business_hours {
        CLOSE_STATUSES
    } else {
        &CLOSE_STATUSES[..5]
    }
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    // Landing node → statuses it must handle (several hand-overs may share one landing node).
    let mut needs: BTreeMap<usize, &[&str]> = BTreeMap::new();
    for lc in live_chats(ctx) {
        let bh = integration_of(ctx, lc.action).is_some_and(|i| i.business_hours.is_some());
        for l in landing(ctx.flow, lc.node).0 {
            let e = needs.entry(l).or_insert(statuses_for(bh));
            if bh {
                *e = statuses_for(true);
            }
        }
    }
    for (l, statuses) in needs {
        let node = &ctx.flow.nodes[l];
        let missing: Vec<&str> = statuses
            .iter()
            .copied()
            .filter(|s| !handles(ctx, l, s))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let pointer = if node.next.is_empty() {
            node.pointer.clone()
        } else {
            format!("{}/next", node.pointer)
        };
        out.push(
            Diagnostic::new(
                UnhandledLiveChatStatus::META.code,
                UnhandledLiveChatStatus::META.severity,
                pointer,
                format!(
                    "node `{}` receives the live-chat close status but its `next` does not handle: {}",
                    node.id,
                    missing.join(", ")
                ),
            )
            .help("add a `next` entry per status (`input.live_chat.status == '…'`) or an unconditional fallback"),
        );
    }
}

fn handles(ctx: &LintContext<'_>, node: usize, status: &str) -> bool {
    let input = json!({ "text": "", "live_chat": { "status": status } });
    let empty = json!({});
    let scope = Scope {
        context: &empty,
        contact: &empty,
        input: &input,
        ..Scope::empty()
    };
    ctx.flow.nodes[node].next.iter().any(|x| {
        x.condition
            .as_ref()
            .is_none_or(|c| eval_condition(c, scope).unwrap_or(false))
    })
}
