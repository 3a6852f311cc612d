//! `watson-undefined-intent`

use crate::compile::Place;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::expr::{Expr, ExprKind};
use rustc_hash::FxHashSet as HashSet;

declare_rule! {
    /// ## What it does
    /// Reports `#name` in a condition or `<? ?>` segment when the workspace defines no intent
    /// `name` (checked only when the workspace has an `intents` list). `#name` inside a
    /// string literal is text, not an intent.
    ///
    /// ## Why it matters
    /// Watson never recognises an intent the workspace does not train, so the condition is
    /// never true: the node can never fire. Usually a renamed or deleted intent, or a case
    /// slip (`#Cancel_Policy` for `#cancel_policy`).
    ///
    /// ## Example
    /// ```text
    /// #negative_reaction
    /// ```
    /// when the workspace's intents are `negative_feedback` and `positive_feedback`.
    pub struct WatsonUndefinedIntent => "watson-undefined-intent", Warning;
}

/// Findings for one expression, given the intents the workspace defines.
pub(crate) fn check_expr(
    expr: &Expr,
    place: Place<'_>,
    intents: &HashSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    expr.walk(&mut |x| {
        let ExprKind::Intent(name) = &x.kind else {
            return;
        };
        if intents.contains(name.as_str()) {
            return;
        }
        let mut d = Diagnostic::new::<WatsonUndefinedIntent>(
            place.at(&x.span),
            format!("the workspace defines no intent `{name}`: this condition is never true"),
        );
        let help = super::watson_tree::near_spelling(name, intents)
            .map(|k| format!("did you mean `#{k}`?"));
        if let Some(h) = help {
            d = d.help(h);
        }
        out.push(d);
    });
}
