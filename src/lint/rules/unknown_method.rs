//! `unknown-method`

use super::each_distinct_tree;
use super::{did_you_mean, FlowRule};
use crate::compile::Place;
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::expr::{arity_text, methods, Dialect, Expr, ExprKind, Receiver};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a method or function call that is not in the method table of the expression's
    /// dialect, or that passes the wrong number of arguments. The table — each method with
    /// the values it applies to, its arguments and its dialect — is printed below and in
    /// `docs/expressions.md`; the evaluator runs exactly the same table.
    ///
    /// ## Why it matters
    /// An unknown method is an error at run time, in front of the user.
    ///
    /// ## Example
    /// ```text
    /// input.text.toLowercase() == 'sim'
    /// ```
    /// The method is `toLowerCase`.
    pub struct UnknownMethod => "unknown-method", Error;
}

/// The method table as `fluxo rule unknown-method` prints it (and `docs/expressions.md` copies
/// it): one line per method with its arguments and the dialects that have it — `builder`,
/// `watson` or `both`.
pub fn table_text() -> String {
    let mut out = format!(
        "{:<34} {:<7} {:<8} {}\n",
        "method", "args", "dialect", "what it does"
    );
    for m in methods() {
        let on = match m.receiver {
            Receiver::Function => format!("{}(…)", m.name),
            r => format!("{}.{}(…)", r.as_str(), m.name),
        };
        out.push_str(&format!(
            "{on:<34} {:<7} {:<8} {}\n",
            arity_text(m),
            m.availability.as_str(),
            m.doc
        ));
    }
    out
}

/// Findings for one expression.
pub fn check_expr(expr: &Expr, place: Place<'_>, dialect: Dialect, out: &mut Vec<Diagnostic>) {
    expr.walk(&mut |e| {
        let (name, span, argc, function) = match &e.kind {
            ExprKind::Method {
                name,
                name_span,
                args,
                ..
            } => (name, name_span.clone(), args.len(), false),
            ExprKind::Call { name, args } => (name, e.span.clone(), args.len(), true),
            _ => return,
        };
        let entries: Vec<_> = methods()
            .iter()
            .filter(|m| {
                m.name == name
                    && m.availability.includes(dialect)
                    && (m.receiver == Receiver::Function) == function
            })
            .collect();
        let location = place.at(&span);
        if entries.is_empty() {
            let candidates: Vec<&str> = methods()
                .iter()
                .filter(|m| {
                    m.availability.includes(dialect)
                        && (m.receiver == Receiver::Function) == function
                })
                .map(|m| m.name)
                .collect();
            // The builder's custom actions run JavaScript with Moment; flow expressions do not.
            if function && name == "moment" && dialect == crate::expr::Dialect::Builder {
                out.push(
                    Diagnostic::new::<UnknownMethod>(
                        location,
                        "Moment is not available in flow expressions: `moment` is not a known function",
                    )
                    .help("use `now()` (`yyyy-MM-dd HH:mm:ss`) or `today()` (`yyyy-MM-dd`) and the string methods, such as `today().substring(8, 10)`; date arithmetic belongs in a custom action, where Moment is available"),
                );
                return;
            }
            let message = if name.is_empty() {
                "only methods and functions such as `now()` can be called".to_string()
            } else if function {
                format!("`{name}` is not a known function")
            } else {
                format!("`{name}` is not a known method")
            };
            let mut d = Diagnostic::new::<UnknownMethod>(location, message);
            let other = methods()
                .iter()
                .find(|m| m.name == name && !m.availability.includes(dialect));
            if let Some(h) = did_you_mean(name, &candidates) {
                d = d.help(h);
            } else if let Some(m) = other {
                d = d.help(format!(
                    "`{name}` exists only in {} expressions",
                    m.availability.as_str()
                ));
            }
            out.push(d);
        } else if !entries
            .iter()
            .any(|m| (m.min_args..=m.max_args).contains(&argc))
        {
            let expected: Vec<String> = entries.iter().map(|m| arity_text(m)).collect();
            out.push(Diagnostic::new::<UnknownMethod>(
                location,
                format!(
                    "`{name}` takes {} argument(s), not {argc}",
                    expected.join(" or ")
                ),
            ));
        }
    });
}

impl FlowRule for UnknownMethod {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        each_distinct_tree(ctx.flow, out, |s, expr, out| {
            check_expr(expr, ctx.flow.place(s), Dialect::Builder, out);
        });
    }
}
