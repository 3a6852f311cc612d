//! `unknown-option`

use super::FlowRule;
use crate::compile::CValue;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::expr::{BinOp, Expr, ExprKind};
use crate::lint::LintContext;
use serde_json::Value as Json;

declare_rule! {
    /// ## What it does
    /// Compares the strings that a node's `next` conditions test `input.text` against with the
    /// options of the node's own list input (`select`, `option_list`, `quick_replies`,
    /// `autocomplete`).
    ///
    /// ## Why it matters
    /// When the user picks an option, `input.text` holds the option's `value` (its title when it
    /// has none). A condition on a title, or on a misspelt value, never holds: the user's choice
    /// falls through to the catch-all.
    ///
    /// ## Example
    /// ```json
    /// "input": { "default": { "type": "select", "payload": { "options": [ { "title": "Rastrear", "value": "rastreio" } ] } } },
    /// "next": [ { "condition": "input.text == 'Rastrear'", "goto": "rastreio" } ]
    /// ```
    pub struct UnknownOption => "unknown-option", Warning;
}

/// The options of a list input, as `(title, value)`, when they are all written literally.
fn options(payload: &CValue) -> Option<Vec<(String, String)>> {
    let field = |name: &str| -> Option<Json> {
        match payload {
            CValue::Lit(l) => match l.value() {
                Json::Object(mut p) => p.shift_remove(name),
                _ => None,
            },
            CValue::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.literal()),
            _ => None,
        }
    };
    let found = field("options").or_else(|| field("replies"))?;
    let list = found.as_array()?;
    list.iter()
        .map(|o| {
            let title = o.get("title").and_then(Json::as_str).unwrap_or_default();
            let value = match o.get("value") {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Null) | None => title.to_owned(),
                Some(other) => other.to_string(),
            };
            Some((title.to_owned(), value))
        })
        .collect()
}

/// `input.text == 'x'` (either side, any equality) → `'x'` with its expression.
fn compared_texts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    e.walk(&mut |x| {
        let ExprKind::Chain { first, rest } = &x.kind else {
            return;
        };
        let mut left: &Expr = first;
        for (op, right) in rest {
            if matches!(
                op,
                BinOp::Eq | BinOp::StrictEq | BinOp::Ne | BinOp::StrictNe
            ) {
                let is_text = |e: &Expr| e.is_path(&["input", "text"]);
                if is_text(left) && matches!(right.kind, ExprKind::Str(_)) {
                    out.push(right);
                } else if is_text(right) && matches!(left.kind, ExprKind::Str(_)) {
                    out.push(left);
                }
            }
            left = right;
        }
    });
}

impl FlowRule for UnknownOption {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for (i, n) in ctx.flow.nodes.iter().enumerate() {
            let Some(input) = &n.input else { continue };
            // Every channel's list must lack the text for the condition to be dead.
            let lists: Option<Vec<Vec<(String, String)>>> = input
                .channels
                .iter()
                .map(|(_, kind, payload)| {
                    use crate::model::InputType as T;
                    matches!(
                        kind,
                        T::Select | T::OptionList | T::QuickReplies | T::Autocomplete
                    )
                    .then(|| options(payload))
                    .flatten()
                })
                .collect();
            let Some(lists) = lists.filter(|l| !l.is_empty()) else {
                continue;
            };
            // An optional list lets a typed answer through as it is: only a title (which the
            // engine turns into its value) is then sure never to be compared.
            let open = !crate::compile::graph::mandatory_input(ctx.flow, i);
            for (k, x) in n.next.iter().enumerate() {
                let Some(c) = &x.condition else { continue };
                let mut texts = Vec::new();
                compared_texts(c, &mut texts);
                for t in texts {
                    let ExprKind::Str(s) = &t.kind else { continue };
                    // A picked option sets `input.text` to its value exactly.
                    let chosen = |list: &Vec<(String, String)>| list.iter().any(|(_, v)| v == s);
                    if lists.iter().any(chosen) {
                        continue;
                    }
                    let Some(list) = lists.first() else { continue };
                    let values: Vec<&str> = list.iter().map(|(_, v)| v.as_str()).collect();
                    let by_title = list.iter().find(|(title, _)| same(title, s));
                    if open && by_title.is_none() {
                        continue;
                    }
                    let help = match by_title {
                        Some((title, value)) => format!(
                            "`{title}` is the option's title; when it is picked `input.text` holds its value: compare with '{value}'"
                        ),
                        None => match crate::text::closest(s, &values) {
                            Some(v) => format!("did you mean '{v}'?"),
                            None => format!("the options' values are: {}", values.join(", ")),
                        },
                    };
                    out.push(
                        Diagnostic::new::<UnknownOption>(
                            Location::Value(format!("{}/next/{k}/condition", n.pointer))
                                .narrow(t.span.start..t.span.end),
                            format!(
                                "'{s}' is not the value of any option of node {}: this comparison never holds when the user picks from the list",
                                n.label()
                            ),
                        )
                        .help(help),
                    );
                }
            }
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
