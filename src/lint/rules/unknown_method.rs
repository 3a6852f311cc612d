//! `unknown-method`

use super::unknown_variable_root::Dialect;
use crate::diagnostic::Diagnostic;
use crate::expr::{Expr, ExprKind};
use crate::lint::rules::did_you_mean;
use crate::lint::{declare_rule, LintContext};

declare_rule! {
    /// ## What it does
    /// Reports a method call that is not in the whitelist. Strings: `length`, `toLowerCase`,
    /// `toUpperCase`, `trim`, `includes`/`contains`, `startsWith`, `endsWith`, `indexOf`,
    /// `substring`, `slice`, `replace`, `split`, `matches`, `size`; regexes: `test`; arrays:
    /// `length`, `size`, `includes`/`contains`, `join`, `indexOf`, `get`, `append`; numbers:
    /// `toFixed`; functions `now()` and `today()`. Watson workspaces also accept Watson's
    /// String, JSONArray, JSONObject and date methods.
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

/// Methods a flow expression may call.
pub const FLOW_METHODS: &[&str] = &[
    "length",
    "toLowerCase",
    "toUpperCase",
    "trim",
    "includes",
    "contains",
    "startsWith",
    "endsWith",
    "indexOf",
    "substring",
    "slice",
    "replace",
    "split",
    "matches",
    "test",
    "size",
    "join",
    "get",
    "append",
    "toFixed",
];

/// Methods a Watson expression may call (Watson's String/JSONArray/JSONObject/date helpers).
pub const WATSON_METHODS: &[&str] = &[
    "length",
    "toLowerCase",
    "toUpperCase",
    "trim",
    "contains",
    "startsWith",
    "endsWith",
    "indexOf",
    "substring",
    "replace",
    "replaceAll",
    "split",
    "matches",
    "size",
    "join",
    "get",
    "append",
    "equals",
    "equalsIgnoreCase",
    "extract",
    "find",
    "getMatch",
    "isEmpty",
    "toJson",
    "toInt",
    "toLong",
    "toDouble",
    "toString",
    "charAt",
    "addAll",
    "clear",
    "containsIgnoreCase",
    "containsIntent",
    "filter",
    "getRandomItem",
    "joinToArray",
    "remove",
    "removeValue",
    "set",
    "has",
    "keySet",
    "entrySet",
    "after",
    "before",
    "sameMoment",
    "sameOrAfter",
    "sameOrBefore",
    "reformatDateTime",
    "plusDays",
    "plusMonths",
    "plusYears",
    "minusDays",
    "minusMonths",
    "minusYears",
    "plusHours",
    "plusMinutes",
    "plusSeconds",
    "minusHours",
    "minusMinutes",
    "minusSeconds",
    "format",
    "getTime",
    "values",
    "literal",
];

const FUNCTIONS: &[&str] = &["now", "today"];

/// Findings for one expression.
pub fn check_expr(expr: &Expr, pointer: &str, dialect: Dialect, out: &mut Vec<Diagnostic>) {
    let methods = match dialect {
        Dialect::Flow => FLOW_METHODS,
        Dialect::Watson => WATSON_METHODS,
    };
    expr.walk(&mut |e| {
        let (name, span, list, what) = match &e.kind {
            ExprKind::Method {
                name, name_span, ..
            } => (name, name_span.clone(), methods, "method"),
            ExprKind::Call { name, .. } => (name, e.span.clone(), FUNCTIONS, "function"),
            _ => return,
        };
        if list.contains(&name.as_str()) {
            return;
        }
        let message = if name.is_empty() {
            "only methods and `now()`/`today()` can be called".to_string()
        } else {
            format!("`{name}` is not a known {what}")
        };
        let mut d = Diagnostic::new(
            UnknownMethod::META.code,
            UnknownMethod::META.severity,
            pointer,
            message,
        )
        .inner(span);
        if let Some(h) = did_you_mean(name, list) {
            d = d.help(h);
        }
        out.push(d);
    });
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    for s in &ctx.flow.sites {
        check_expr(&s.expr, &s.pointer, Dialect::Flow, out);
    }
}
