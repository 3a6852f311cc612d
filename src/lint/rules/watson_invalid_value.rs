//! `watson-invalid-value`

use super::did_you_mean;
use super::watson_tree::Tree;
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
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

/// The values Watson's API accepts, by field (`next_step.selector` also takes the SDK's
/// undocumented `client`, and `event_name` the SDK's three undocumented events, so that no real
/// export is refused).
const FIELDS: &[(&str, &[&str])] = &[
    (
        "/type",
        &[
            "standard",
            "frame",
            "slot",
            "response_condition",
            "event_handler",
            "folder",
        ],
    ),
    (
        "/event_name",
        &[
            "focus",
            "input",
            "filled",
            "nomatch",
            "generic",
            "validate",
            "filled_multiple",
            "nomatch_responses_depleted",
        ],
    ),
    (
        "/next_step/behavior",
        &[
            "get_user_input",
            "skip_user_input",
            "jump_to",
            "reprompt",
            "skip_slot",
            "skip_all_slots",
        ],
    ),
    (
        "/next_step/selector",
        &["condition", "body", "user_input", "client"],
    ),
    ("/go_to/selector", &["condition", "body", "user_input"]),
    (
        "/digress_in",
        &["not_available", "returns", "does_not_return"],
    ),
    (
        "/digress_out",
        &["allow_returning", "allow_all", "allow_all_never_return"],
    ),
    (
        "/digress_out_slots",
        &["not_allowed", "allow_returning", "allow_all"],
    ),
];

impl WatsonRule for WatsonInvalidValue {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        for (i, node) in tree.nodes.iter().enumerate() {
            let Some(node) = node else { continue };
            for (field, allowed) in FIELDS {
                let mut keys = field.trim_start_matches('/').split('/');
                let mut v = keys.next().and_then(|k| node.get(k));
                for k in keys {
                    v = v.and_then(|x| x.get(k));
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
