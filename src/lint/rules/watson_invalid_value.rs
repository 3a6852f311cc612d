//! `watson-invalid-value`

use super::did_you_mean;
use super::watson_tree::Tree;
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::source::json;
use crate::watson::node::ENUMERATED;
use serde_json::Value as Json;

declare_rule! {
    /// ## What it does
    /// Reports a dialog node field whose value is not one Watson knows: `type`, `event_name`,
    /// `next_step.behavior`, `next_step.selector` (and the legacy `go_to.selector`),
    /// `digress_in`, `digress_out`, `digress_out_slots`.
    ///
    /// ## Why it matters
    /// Watson refuses the workspace; fluxo falls back to the default (a `standard` node, a
    /// jump with selector `condition`, waiting for input), which is not what the author wrote.
    ///
    /// ## Example
    /// ```json
    /// "next_step": { "behavior": "jump", "selector": "condition", "dialog_node": "menu" }
    /// ```
    /// Write `jump_to`.
    pub struct WatsonInvalidValue => "watson-invalid-value", Error;
}

impl WatsonRule for WatsonInvalidValue {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        for (i, node) in tree.nodes.iter().enumerate() {
            let Some(node) = node else { continue };
            for (field, allowed) in ENUMERATED {
                let mut keys = field.trim_start_matches('/').split('/');
                let mut v = keys.next().and_then(|k| json::field(node, k));
                for k in keys {
                    v = v.and_then(Json::as_object).and_then(|x| json::field(x, k));
                }
                let Some(v) = v else {
                    continue;
                };
                let written = match v {
                    Json::Null => continue,
                    Json::String(s) if allowed.contains(&s.as_str()) => continue,
                    Json::String(s) => format!("`{s}`"),
                    other => other.to_string(),
                };
                let name = field.trim_start_matches('/').replace('/', ".");
                let mut d = Diagnostic::new::<WatsonInvalidValue>(
                    Location::Value(tree.pointer(i, field)),
                    format!("{written} is not a valid `{name}`"),
                );
                // `jump` for `jump_to`: a prefix is a likelier slip than the nearest spelling.
                let prefixed = |s: &str| {
                    allowed
                        .iter()
                        .find(|a| !s.is_empty() && a.starts_with(s))
                        .map(|a| format!("did you mean `{a}`?"))
                };
                let help = v
                    .as_str()
                    .and_then(|s| prefixed(s).or_else(|| did_you_mean(s, allowed)))
                    .unwrap_or_else(|| {
                        format!(
                            "one of {}",
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                d = d.help(help);
                out.push(d);
            }
        }
    }
}
