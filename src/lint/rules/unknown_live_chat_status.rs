//! `unknown-live-chat-status`

use crate::diagnostic::Diagnostic;
use crate::expr::{BinOp, Expr, ExprKind};
use crate::lint::rules::{did_you_mean, CLOSE_STATUSES};
use crate::lint::{declare_rule, LintContext};

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
    e.path()
        .is_some_and(|p| p == ["input", "live_chat", "status"])
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    for s in &ctx.flow.sites {
        s.expr.walk(&mut |e| {
            let literals: Vec<&Expr> = match &e.kind {
                ExprKind::Binary(BinOp::Eq | BinOp::Ne | BinOp::StrictEq | BinOp::StrictNe, a, b) => {
                    if is_status(a) {
                        vec![b]
                    } else if is_status(b) {
                        vec![a]
                    } else {
                        vec![]
                    }
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
                    if !CLOSE_STATUSES.contains(&v.as_str()) {
                        let mut d = Diagnostic::new(
                            UnknownLiveChatStatus::META.code,
                            UnknownLiveChatStatus::META.severity,
                            &s.pointer,
                            format!("`{v}` is not a live-chat close status, so this comparison never holds"),
                        )
                        .inner(lit.span.clone());
                        d = d.help(did_you_mean(v, CLOSE_STATUSES).unwrap_or_else(|| {
                            format!("the statuses are: {}", CLOSE_STATUSES.join(", "))
                        }));
                        out.push(d);
                    }
                }
            }
        });
    }
}
