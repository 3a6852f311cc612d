//! `unknown-action`

use super::did_you_mean;
use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports an action whose `name` is neither a built-in action (`start_live_chat`,
    /// `http_request`, `transfer_to_agent_liveperson`) nor declared in the flow's
    /// `custom_actions` list.
    ///
    /// ## Why it matters
    /// A misspelt built-in (`start_livechat`) becomes a custom action that nobody implements:
    /// the conversation waits for a result that never comes. A name one edit away from a
    /// built-in is therefore an error, whatever the rule's default level.
    ///
    /// ## Example
    /// ```json
    /// { "name": "start_livechat", "parameters": { "integration_id": 7 } }
    /// ```
    pub struct UnknownAction => "unknown-action", Warning;
}

/// Actions every flow may use.
pub const BUILTIN_ACTIONS: &[&str] = &[
    "start_live_chat",
    "http_request",
    "transfer_to_agent_liveperson",
];

impl FlowRule for UnknownAction {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let custom = &ctx.flow.custom_actions;
        for n in &ctx.flow.nodes {
            for (k, a) in n.actions.iter().enumerate() {
                if BUILTIN_ACTIONS.contains(&a.name.as_str()) || custom.iter().any(|c| c == &a.name)
                {
                    continue;
                }
                let location = Location::Value(format!("{}/actions/{k}/name", n.pointer));
                // One edit from a built-in is a typo, not a host's action: at run time the turn
                // would wait for a result that no host sends.
                if let Some(builtin) = BUILTIN_ACTIONS
                    .iter()
                    .find(|b| crate::text::levenshtein(&a.name.to_lowercase(), b) <= 1)
                {
                    out.push(
                        Diagnostic::new::<UnknownAction>(
                            location,
                            format!(
                                "`{}` is not an action: did you mean the built-in `{builtin}`?",
                                a.name
                            ),
                        )
                        .with_severity(crate::diagnostic::Severity::Error)
                        .help(format!(
                            "write `{builtin}`; as it is, the turn stops here and waits for a result that no host sends"
                        )),
                    );
                    continue;
                }
                let help = did_you_mean(&a.name, BUILTIN_ACTIONS).unwrap_or_else(|| {
                    "if the host implements it, list it in the flow's `custom_actions`".to_string()
                });
                out.push(
                    Diagnostic::new::<UnknownAction>(
                        location,
                        format!(
                            "`{}` is not a built-in action nor a declared custom action",
                            a.name
                        ),
                    )
                    .help(help),
                );
            }
        }
    }
}
