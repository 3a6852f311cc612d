//! `live-chat-status-without-hand-over`

use super::live_chats;
use super::FlowRule;
use crate::compile::graph::{landing, reads_status, status_routers_without_input};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::domain::BuiltinAction;
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a condition that reads `input.live_chat.status` where no hand-over
    /// (`start_live_chat`) can deliver one: a `next` of a node that no hand-over lands on, or an
    /// entry condition in a flow without any hand-over.
    ///
    /// ## Why it matters
    /// The close status arrives only at the open input the conversation waits at after
    /// `start_live_chat`. Elsewhere the condition can never hold and the survey or apology
    /// behind it never runs, silently. A common cause is the open input removed from the node
    /// after the hand-over, or `transfer_to_agent_liveperson`, which hands the dialog to
    /// LivePerson's own channel broker and sends no close status back.
    ///
    /// ## Example
    /// ```json
    /// { "id": "transferir", "actions": [ { "name": "transfer_to_agent_liveperson", "parameters": { "skill": "vendas" } } ],
    ///   "input": { "default": { "type": "text_input" } },
    ///   "next": [ { "condition": "input.live_chat.status == 'agent_closed'", "goto": "pesquisa" } ] }
    /// ```
    pub struct LiveChatStatusWithoutHandOver => "live-chat-status-without-hand-over", Warning;
}

impl FlowRule for LiveChatStatusWithoutHandOver {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let flow = ctx.flow;
        let mut lands = vec![false; flow.nodes.len()];
        let mut any = false;
        // Nodes meant as a hand-over's landing node that have no open input, with the
        // hand-over's node.
        let mut without_input: Vec<Option<usize>> = vec![None; flow.nodes.len()];
        for lc in live_chats(ctx) {
            any = true;
            for l in landing(flow, lc.node).0 {
                if let Some(x) = lands.get_mut(l) {
                    *x = true;
                }
            }
            for r in status_routers_without_input(flow, lc.node) {
                if let Some(x) = without_input.get_mut(r) {
                    x.get_or_insert(lc.node);
                }
            }
        }
        // The nodes where a LivePerson transfer lands, to say why no status comes.
        let mut transfers = vec![false; flow.nodes.len()];
        for (i, n) in flow.nodes.iter().enumerate() {
            if n.actions.iter().any(|a| {
                BuiltinAction::parse(&a.name) == Some(BuiltinAction::TransferToAgentLiveperson)
            }) {
                for l in landing(flow, i).0 {
                    if let Some(x) = transfers.get_mut(l) {
                        *x = true;
                    }
                }
            }
        }
        let help = |i: usize| {
            if transfers.get(i).copied().unwrap_or(false) {
                "`transfer_to_agent_liveperson` hands the dialog to LivePerson's channel broker, which sends no close status back; use `start_live_chat` with a LivePerson integration to route on the status"
            } else {
                "route on the status in the open input the conversation waits at right after `start_live_chat`"
            }
        };
        for (i, n) in flow.nodes.iter().enumerate() {
            if lands.get(i).copied().unwrap_or(true) || ctx.unread.get(i).is_some_and(|u| u.input) {
                continue;
            }
            let Some(k) = n
                .next
                .iter()
                .position(|x| x.condition.as_deref().is_some_and(reads_status))
            else {
                continue;
            };
            if let Some(h) = without_input.get(i).copied().flatten() {
                out.push(
                    Diagnostic::new::<LiveChatStatusWithoutHandOver>(
                        Location::Value(format!("{}/next/{k}/condition", n.pointer)),
                        format!(
                            "node {} routes on `input.live_chat.status` after the hand-over in node {}, but has no open `input`: the close status goes only to a node that waits, so its status conditions can never hold",
                            n.label(),
                            flow.nodes[h].label()
                        ),
                    )
                    .also(Location::Value(format!("{}/id", n.pointer)), "no `input` here")
                    .help("give this node an open `input` (`\"input\": { \"default\": { \"type\": \"text_input\" } }`): after `start_live_chat` the conversation waits there, and its `next` routes on the status"),
                );
                continue;
            }
            out.push(
                Diagnostic::new::<LiveChatStatusWithoutHandOver>(
                    Location::Value(format!("{}/next/{k}/condition", n.pointer)),
                    format!(
                        "node {} routes on `input.live_chat.status`, but no hand-over lands here: this condition can never hold",
                        n.label()
                    ),
                )
                .help(help(i)),
            );
        }
        if any {
            return;
        }
        for (i, n) in flow.nodes.iter().enumerate() {
            let crate::compile::Entry::Expr(e) = &n.entry else {
                continue;
            };
            if reads_status(e) {
                out.push(
                    Diagnostic::new::<LiveChatStatusWithoutHandOver>(
                        Location::Value(format!("{}/condition", n.pointer)),
                        format!(
                            "node {} is entered on `input.live_chat.status`, but the flow has no `start_live_chat`: this condition can never hold",
                            n.label()
                        ),
                    )
                    .help(help(i)),
                );
            }
        }
    }
}
