//! `unknown-integration`

use super::live_chats;
use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;
use crate::model::normalise_id;

declare_rule! {
    /// ## What it does
    /// With `--integrations FILE`, reports a `start_live_chat` whose `integration_id` matches
    /// no integration of the file (ids match loosely: `7` and `"7"` are the same).
    ///
    /// ## Why it matters
    /// The hand-over goes nowhere; in production the user waits for an agent who never comes.
    ///
    /// ## Example
    /// ```json
    /// { "name": "start_live_chat", "parameters": { "integration_id": 8 } }
    /// ```
    /// when the file defines integrations 1, 2 and 7.
    pub struct UnknownIntegration => "unknown-integration", Error;
}

impl FlowRule for UnknownIntegration {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let Some(file) = ctx.integrations else { return };
        for lc in live_chats(ctx) {
            let Some(id) = lc.action.param("integration_id").and_then(|v| v.literal()) else {
                continue;
            };
            let Some(id) = normalise_id(&id) else {
                out.push(Diagnostic::new::<UnknownIntegration>(
                    Location::Value(format!("{}/parameters/integration_id", lc.pointer)),
                    "`integration_id` must be a number or a string",
                ));
                continue;
            };
            if file.find(&id).is_none() {
                let known: Vec<&str> = file.integrations.iter().map(|i| i.id.as_str()).collect();
                out.push(
                    Diagnostic::new::<UnknownIntegration>(
                        Location::Value(format!("{}/parameters/integration_id", lc.pointer)),
                        format!("no integration has the id `{id}`"),
                    )
                    .help(if known.is_empty() {
                        "the integrations file defines none".to_string()
                    } else {
                        format!("known ids: {}", known.join(", "))
                    }),
                );
            }
        }
    }
}
