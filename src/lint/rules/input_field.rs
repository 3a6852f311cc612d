//! `unknown-input-field`

use super::each_distinct_tree;
use super::{did_you_mean, FlowRule};
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::domain::{INPUT_FIELDS, LIVE_CHAT_FIELDS};
use crate::expr::ExprKind;
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a read of a field of `input` (or of `input.live_chat`) that the engine never
    /// sets. The fields are `input.text`, `input.valid`, `input.value`, `input.values` and
    /// `input.live_chat.status`.
    ///
    /// ## Why it matters
    /// A misspelt field is `undefined`, so the condition is silently false: with
    /// `input.livechat.status == 'agent_closed'` the satisfaction survey never runs.
    ///
    /// ## Example
    /// ```text
    /// input.live_chat.state == 'timeout'
    /// ```
    /// The field is `status`.
    pub struct UnknownInputField => "unknown-input-field", Error;
}

impl FlowRule for UnknownInputField {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let fields: Vec<&str> = INPUT_FIELDS.iter().map(|(n, _)| *n).collect();
        let chat_fields: Vec<&str> = LIVE_CHAT_FIELDS.iter().map(|(n, _)| *n).collect();
        each_distinct_tree(ctx.flow, out, |s, expr, out| {
            expr.walk(&mut |e| {
                // Only a member access or an index can read `input.…` (the cheap test first:
                // this runs on every node of every tree).
                if !matches!(e.kind, ExprKind::Member { .. } | ExprKind::Index { .. }) {
                    return;
                }
                let Some(path) = e.path() else { return };
                // Each member access is visited on its own: look at the exact length only.
                let (known, name, prefix): (&[&str], &str, &str) = match path.as_slice() {
                    ["input", f] => (&fields, f, "input"),
                    ["input", "live_chat", f] => (&chat_fields, f, "input.live_chat"),
                    _ => return,
                };
                if known.contains(&name) {
                    return;
                }
                let mut d = Diagnostic::new::<UnknownInputField>(
                    ctx.flow.place(s).at(&e.span),
                    format!("`{prefix}.{name}` is not set by the engine: it is always undefined"),
                );
                d = d.help(did_you_mean(name, known).map_or_else(
                    || format!("the fields of `{prefix}` are: {}", known.join(", ")),
                    |h| {
                        h.replace('`', "").replacen(
                            "did you mean ",
                            &format!("did you mean `{prefix}."),
                            1,
                        ) + "`"
                    },
                ));
                out.push(d);
            });
        });
    }
}
