//! `unknown-live-chat-status`

use super::did_you_mean;
use super::each_distinct_tree;
use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::domain::CloseStatus;
use crate::expr::{BinOp, Expr, ExprKind};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a string compared with `input.live_chat.status` that is not a close status:
    /// `agent_closed`, `user_closed`, `timeout`, `user_inactivity_timeout`, `error`,
    /// `out_of_hours`.
    ///
    /// ## Why it matters
    /// The comparison is never true, so the branch it guards is dead. Typical typos:
    /// `agent_close`, `closed_by_agent`, `inactivity_timeout`.
    ///
    /// ## Example
    /// ```text
    /// input.live_chat.status == 'agent_close'
    /// ```
    pub struct UnknownLiveChatStatus => "unknown-live-chat-status", Error;
}

fn is_status(e: &Expr) -> bool {
    e.is_path(&["input", "live_chat", "status"])
}

impl FlowRule for UnknownLiveChatStatus {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        each_distinct_tree(ctx.flow, out, |s, expr, out| {
            expr.walk(&mut |e| {
                let literals: Vec<&Expr> = match &e.kind {
                    ExprKind::Chain { first, rest } => {
                        // `a == b` and `a != b` are chains of one comparison.
                        let mut lits = Vec::new();
                        let mut left: &Expr = first;
                        for (op, right) in rest {
                            if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::StrictEq | BinOp::StrictNe) {
                                if is_status(left) {
                                    lits.push(right);
                                } else if is_status(right) {
                                    lits.push(left);
                                }
                            }
                            left = right;
                        }
                        lits
                    }
                    ExprKind::Method { object, name, args, .. }
                        if (name == "includes" || name == "contains" || name == "indexOf")
                            && args.first().is_some_and(is_status) =>
                    {
                        match &object.kind {
                            ExprKind::Array(items) => items.iter().collect(),
                            _ => vec![],
                        }
                    }
                    _ => vec![],
                };
                for lit in literals {
                    if let ExprKind::Str(v) = &lit.kind {
                        if CloseStatus::parse(v).is_none() {
                            let mut d = Diagnostic::new::<UnknownLiveChatStatus>(
                                ctx.flow.place(s).at(&lit.span),
                                format!("`{v}` is not a live-chat close status, so this comparison never holds"),
                            );
                            let names = CloseStatus::ALL.map(CloseStatus::as_str);
                            d = d.help(did_you_mean(v, &names).unwrap_or_else(|| {
                                format!("the statuses are: {}", names.join(", "))
                            }));
                            out.push(d);
                        }
                    }
                }
            });
        });
    }
}
