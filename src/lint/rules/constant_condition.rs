//! `constant-condition`

use crate::compile::Role;
use crate::diagnostic::Diagnostic;
use crate::expr::{Expr, ExprKind};
use crate::lint::{declare_rule, LintContext};

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
pub fn check_condition(expr: &Expr, pointer: &str, out: &mut Vec<Diagnostic>) {
    let what = match &expr.kind {
        ExprKind::Num(n) => format!("the number {}", crate::expr::eval::fmt_num(*n)),
        ExprKind::Str(s) => format!("the string '{s}'"),
        _ => return,
    };
    out.push(
        Diagnostic::new(
            ConstantCondition::META.code,
            ConstantCondition::META.severity,
            pointer,
            format!("this condition is {what}, so it never changes"),
        )
        .inner(expr.span.clone())
        .help("compare it with something, e.g. `$valor > 1000`; use `true` for an unconditional branch"),
    );
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    for s in ctx.flow.sites.iter().filter(|s| s.role != Role::Template) {
        check_condition(&s.expr, &s.pointer, out);
    }
}
