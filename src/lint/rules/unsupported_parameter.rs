//! `unsupported-parameter`

use super::FlowRule;
use super::{did_you_mean, integration_of, live_chats};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::domain::Provider;
use crate::domain::{BEFORE_ACTION_MESSAGES, INTEGRATION_ID};
use crate::lint::LintContext;
use crate::source::json::push_segment;

declare_rule! {
    /// ## What it does
    /// Checks `start_live_chat` parameters against what the integration's provider reads:
    /// `contact_info` only reaches ALTU Connector; Zendesk receives neither `extra_info` nor
    /// `contact_info`; LivePerson reads `skill_id` while ALTU Connector reads `skillId`; and a
    /// parameter the provider does not know is ignored.
    ///
    /// ## Why it matters
    /// The builder drops these parameters silently: the agent never sees the data, or the chat
    /// lands in the default skill instead of the one the author chose.
    ///
    /// ## Example
    /// ```json
    /// { "integration_id": 7, "skillId": "1234" }
    /// ```
    /// on a LivePerson integration: LivePerson reads `skill_id`.
    pub struct UnsupportedParameter => "unsupported-parameter", Warning;
}

impl FlowRule for UnsupportedParameter {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for lc in live_chats(ctx) {
            let Some(integration) = integration_of(ctx, lc.action) else {
                continue;
            };
            let provider = integration.provider;
            if provider == Provider::Simulator {
                continue;
            }
            for (name, _) in &lc.action.parameters {
                if name == INTEGRATION_ID || name == BEFORE_ACTION_MESSAGES {
                    continue;
                }
                let mut pointer = format!("{}/parameters", lc.pointer);
                push_segment(&mut pointer, name);
                let problem = if !provider.receives(name) {
                    // What the provider does receive instead, if anything.
                    let help = match (provider, name.as_str()) {
                        (Provider::Zendesk, _) => {
                            "Zendesk receives neither `extra_info` nor `contact_info`: pass the data in `tags`, `custom_fields` or `historyExtraInfo`".to_string()
                        }
                        (_, "contact_info") => "move the data into `extra_info`".to_string(),
                        _ => format!("{provider} does not read it"),
                    };
                    Some((
                        format!("{provider} does not receive `{name}`; the builder drops it"),
                        Some(help),
                    ))
                } else if let Some(right) = provider.spelling_of(name) {
                    Some((
                        format!("{provider} reads `{right}`, not `{name}`"),
                        Some(format!("rename it to `{right}`")),
                    ))
                } else {
                    match provider.parameters() {
                        Some(known) if !known.contains(&name.as_str()) => Some((
                            format!("{provider} does not read a parameter `{name}`; it is ignored"),
                            did_you_mean(name, known).or_else(|| {
                                Some(format!("known parameters: {}", known.join(", ")))
                            }),
                        )),
                        _ => None,
                    }
                };
                if let Some((message, help)) = problem {
                    let mut d =
                        Diagnostic::new::<UnsupportedParameter>(Location::Key(pointer), message);
                    if let Some(h) = help {
                        d = d.help(h);
                    }
                    out.push(d);
                }
            }
        }
    }
}
