//! `unknown-variable-root`

use super::did_you_mean;
use super::each_distinct_tree;
use super::FlowRule;
use crate::compile::Place;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::expr::{Dialect, Expr, ExprKind};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a bare name in an expression that is not one of the roots: `context`, `contact`,
    /// `input`, `intent`, `intents`, `entities`, `confidence`, `score_level`,
    /// `base_has_answers`, `env` (Watson workspaces have their own list).
    ///
    /// ## Why it matters
    /// An unknown name is `undefined` at run time, so the condition is silently false.
    /// Usually a context variable without its `$`. In a Watson workspace, `input_text` is
    /// reported as a warning: it is undocumented, yet IBM's samples rely on it; `input.text` is
    /// the documented spelling.
    ///
    /// ## Example
    /// ```text
    /// matricula != null
    /// ```
    /// Write `$matricula != null`.
    pub struct UnknownVariableRoot => "unknown-variable-root", Error;
}

/// Findings for one expression.
pub fn check_expr(expr: &Expr, place: Place<'_>, dialect: Dialect, out: &mut Vec<Diagnostic>) {
    let roots = dialect.roots();
    expr.walk(&mut |e| {
        let ExprKind::Ident(name) = &e.kind else {
            return;
        };
        // SpEL reads `True`, `FALSE`, `Null` as literals (case-insensitively).
        let spel_literal = dialect == Dialect::Watson
            && ["true", "false", "null"]
                .iter()
                .any(|l| name.eq_ignore_ascii_case(l));
        if roots.contains(&name.as_str()) || spel_literal {
            return;
        }
        let location = place.at(&e.span);
        let message = match dialect {
            Dialect::Watson if name.starts_with("input_") => format!(
                "`{name}` is undocumented: IBM's samples rely on it, but Watson's reference does not list it, and fluxo reads it as null"
            ),
            Dialect::Watson => {
                format!("`{name}` is not a Watson variable: it is null at run time")
            }
            _ => format!("`{name}` is not a variable: it is always undefined"),
        };
        let help = if name == "anything_else" || name == "start" {
            Some(format!(
                "`{name}` is a node's entry `condition`, not an expression; in `next`, an entry without `condition` is the fallback branch"
            ))
        } else if let Some(rest) = name.strip_prefix("input_") {
            Some(format!("did you mean `input.{rest}`?"))
        } else {
            did_you_mean(name, roots).or_else(|| {
                (dialect == Dialect::Builder)
                    .then(|| format!("for a context variable write `${name}`"))
            })
        };
        let mut d = Diagnostic::new::<UnknownVariableRoot>(location, message);
        if dialect == Dialect::Watson && name.starts_with("input_") {
            // Undocumented rather than wrong: IBM's own samples use it.
            d.severity = crate::diagnostic::Severity::Warning;
        }
        if let Some(h) = help {
            d = d.help(h);
        }
        out.push(d);
    });
}

impl FlowRule for UnknownVariableRoot {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        each_distinct_tree(ctx.flow, out, |s, expr, out| {
            check_expr(expr, ctx.flow.place(s), Dialect::Builder, out);
        });
    }
}
