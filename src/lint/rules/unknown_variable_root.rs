//! `unknown-variable-root`

use crate::diagnostic::Diagnostic;
use crate::expr::{Expr, ExprKind};
use crate::lint::rules::did_you_mean;
use crate::lint::{declare_rule, LintContext};

declare_rule! {
    /// ## What it does
    /// Reports a bare name in an expression that is not one of the roots: `context`, `contact`,
    /// `input`, `intent`, `intents`, `entities`, `confidence`, `score_level`,
    /// `base_has_answers`, `env` (Watson workspaces have their own list).
    ///
    /// ## Why it matters
    /// An unknown name is `undefined` at run time, so the condition is silently false.
    /// Usually a context variable without its `$`, or `input_text` for `input.text`.
    ///
    /// ## Example
    /// ```text
    /// matricula != null
    /// ```
    /// Write `$matricula != null`.
    pub struct UnknownVariableRoot => "unknown-variable-root", Error;
}

/// The dialect an expression is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A fluxo / builder flow.
    Flow,
    /// An imported Watson workspace.
    Watson,
}

/// Roots of Watson's expression language.
pub const WATSON_ROOTS: &[&str] = &[
    "context",
    "input",
    "intent",
    "intents",
    "entities",
    "output",
    "event",
    "metadata",
    "anything_else",
    "conversation_start",
    "welcome",
    "irrelevant",
    "all_slots_filled",
    "has_skipped_slots",
    "slot_in_focus",
    "returning_from_digression",
    "confidence",
];

/// Findings for one expression.
pub fn check_expr(expr: &Expr, pointer: &str, dialect: Dialect, out: &mut Vec<Diagnostic>) {
    let roots = match dialect {
        Dialect::Flow => crate::expr::eval::ROOTS,
        Dialect::Watson => WATSON_ROOTS,
    };
    expr.walk(&mut |e| {
        if let ExprKind::Ident(name) = &e.kind {
            // SpEL reads `True`, `FALSE`, `Null` as literals (case-insensitively).
            let spel_literal = dialect == Dialect::Watson
                && ["true", "false", "null"]
                    .iter()
                    .any(|l| name.eq_ignore_ascii_case(l));
            if !roots.contains(&name.as_str()) && !spel_literal {
                let mut d = Diagnostic::new(
                    UnknownVariableRoot::META.code,
                    UnknownVariableRoot::META.severity,
                    pointer,
                    format!("`{name}` is not a variable: it is always undefined"),
                )
                .inner(e.span.clone());
                let help = if let Some(rest) = name.strip_prefix("input_") {
                    Some(format!("did you mean `input.{rest}`?"))
                } else {
                    did_you_mean(name, roots).or_else(|| {
                        (dialect == Dialect::Flow)
                            .then(|| format!("for a context variable write `${name}`"))
                    })
                };
                if let Some(h) = help {
                    d = d.help(h);
                }
                out.push(d);
            }
        }
    });
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    for s in &ctx.flow.sites {
        check_expr(&s.expr, &s.pointer, Dialect::Flow, out);
    }
}
