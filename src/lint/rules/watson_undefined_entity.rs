//! `watson-undefined-entity`

use crate::compile::Place;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::expr::{Expr, ExprKind};
use rustc_hash::FxHashSet as HashSet;

declare_rule! {
    /// ## What it does
    /// Reports `@name` or `@name:value` in a condition or `<? ?>` segment when the workspace
    /// defines no entity `name` (checked only when the workspace has an `entities` list).
    /// System entities (`@sys-number`, `@sys-date`, …) count as defined; `@name` inside a
    /// string literal is text.
    ///
    /// ## Why it matters
    /// Watson never detects an entity the workspace does not define, so the condition is
    /// never true and the node can never fire (or the value is always null).
    ///
    /// ## Example
    /// ```text
    /// @true
    /// ```
    /// in a workspace with no entity `true` (the author meant the condition `true`).
    pub struct WatsonUndefinedEntity => "watson-undefined-entity", Warning;
}

/// Findings for one expression, given the entities the workspace defines.
pub(crate) fn check_expr(
    expr: &Expr,
    place: Place<'_>,
    entities: &HashSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    expr.walk(&mut |x| {
        let name = match &x.kind {
            ExprKind::Entity(n) | ExprKind::EntityIs(n, _) => n,
            _ => return,
        };
        if name.starts_with("sys-") || entities.contains(name.as_str()) {
            return;
        }
        let mut d = Diagnostic::new::<WatsonUndefinedEntity>(
            place.at(&x.span),
            format!("the workspace defines no entity `{name}`: Watson never detects it"),
        );
        let literal = ["true", "false"]
            .iter()
            .find(|l| name.eq_ignore_ascii_case(l))
            .map(|l| format!("for the condition that is always {l}, write `{l}` without `@`"));
        let help = literal.or_else(|| {
            super::watson_tree::near_spelling(name, entities)
                .map(|k| format!("did you mean `@{k}`?"))
        });
        if let Some(h) = help {
            d = d.help(h);
        }
        out.push(d);
    });
}
