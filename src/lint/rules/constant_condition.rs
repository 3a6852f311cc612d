//! `constant-condition`

use super::FlowRule;
use crate::compile::Place;
use crate::compile::Role;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::expr::{Expr, ExprKind};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a condition that is a bare number or string, such as `1000`.
    ///
    /// ## Why it matters
    /// A constant is always true (or always false): the author almost always meant a
    /// comparison (`$saldo > 1000`). Four IBM banking samples have conditions like this.
    ///
    /// ## Example
    /// ```text
    /// 1000
    /// ```
    pub struct ConstantCondition => "constant-condition", Warning;
}

/// Findings for one condition.
pub fn check_condition(expr: &Expr, place: Place<'_>, out: &mut Vec<Diagnostic>) {
    let what = match &expr.kind {
        ExprKind::Num(_) | ExprKind::Int(_) => format!(
            "the number {}",
            crate::expr::display(expr, crate::expr::Dialect::Builder)
        ),
        ExprKind::Str(s) => format!("the string '{s}'"),
        _ => return,
    };
    out.push(
        Diagnostic::new::<ConstantCondition>(
            place.at(&expr.span),
            format!("this condition is {what}, so it never changes"),
        )
        .help("compare it with something, e.g. `$valor > 1000`; use `true` for an unconditional branch"),
    );
}

impl FlowRule for ConstantCondition {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for s in ctx.flow.sites.iter().filter(|s| s.role() != Role::Template) {
            let Some(expr) = ctx.flow.expr(s) else {
                continue;
            };
            check_condition(expr, ctx.flow.place(s), out);
        }
    }
}
