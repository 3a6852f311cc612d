//! `watson-unsupported-regex`

use super::watson_tree::Tree;
use super::WatsonRule;
use crate::compile::Place;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::expr::{compile_regex, Expr, ExprKind};
use serde_json::Value as Json;

declare_rule! {
    /// ## What it does
    /// Reports a regex Watson's engine (RE2) cannot run: a backreference (`\1`, `\k<name>`) or
    /// look-around, in the pattern given to `matches`, `find`, `extract`, `getMatch`,
    /// `replaceAll` or `split`, or in a pattern entity's `patterns`.
    ///
    /// ## Why it matters
    /// Watson refuses a pattern entity with such a pattern, and a condition using one fails
    /// when it runs (an error in `log_messages`, the node never fires). fluxo's engine is
    /// linear-time for the same reason and refuses the same patterns.
    ///
    /// ## Example
    /// ```text
    /// input.text.matches('(\\d)\\1{3}')
    /// ```
    pub struct WatsonUnsupportedRegex => "watson-unsupported-regex", Error;
}

const REGEX_METHODS: &[&str] = &[
    "matches",
    "find",
    "extract",
    "getMatch",
    "replaceAll",
    "split",
];

/// Findings for one expression.
pub(crate) fn check_expr(expr: &Expr, place: Place<'_>, out: &mut Vec<Diagnostic>) {
    expr.walk(&mut |x| {
        let ExprKind::Method { name, args, .. } = &x.kind else {
            return;
        };
        if !REGEX_METHODS.contains(&name.as_str()) {
            return;
        }
        let Some(Expr {
            kind: ExprKind::Str(p),
            span,
        }) = args.first()
        else {
            return;
        };
        if let Err(why) = compile_regex(p, "") {
            out.push(finding(place.at(span), &why));
        }
    });
}

fn finding(location: Location, why: &str) -> Diagnostic {
    let why = why.lines().last().unwrap_or(why).trim();
    Diagnostic::new::<WatsonUnsupportedRegex>(
        location,
        format!("Watson's regex engine (RE2) cannot run this pattern: {why}"),
    )
    .help("RE2 has no backreferences or look-around: match the parts separately, or list the alternatives")
}

impl WatsonRule for WatsonUnsupportedRegex {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        let entities = tree.workspace.get("entities").and_then(Json::as_array);
        for (e, entity) in entities.into_iter().flatten().enumerate() {
            let values = entity.get("values").and_then(Json::as_array);
            for (v, value) in values.into_iter().flatten().enumerate() {
                if value.get("type").and_then(Json::as_str) != Some("patterns") {
                    continue;
                }
                let patterns = value.get("patterns").and_then(Json::as_array);
                for (k, p) in patterns.into_iter().flatten().enumerate() {
                    let Some(p) = p.as_str() else { continue };
                    if let Err(why) = compile_regex(p, "") {
                        out.push(finding(
                            Location::Value(format!(
                                "{}/entities/{e}/values/{v}/patterns/{k}",
                                tree.root
                            )),
                            &why,
                        ));
                    }
                }
            }
        }
    }
}
