//! `unsupported-parameter`

use crate::diagnostic::Diagnostic;
use crate::integrations::Provider;
use crate::lint::rules::{did_you_mean, integration_of, live_chats};
use crate::lint::{declare_rule, LintContext};

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

/// Parameters each provider reads (besides `integration_id` and `before_action_messages`).
pub fn known_parameters(p: Provider) -> Option<&'static [&'static str]> {
    match p {
        Provider::Liveperson => Some(&[
            "start_message",
            "skill_id",
            "agent",
            "campaign_info",
            "extra_info",
        ]),
        Provider::AltuConnector => Some(&["extra_info", "contact_info", "skillId"]),
        Provider::Zendesk => Some(&[
            "tags",
            "visitorInfo",
            "historyExtraInfo",
            "custom_fields",
            "subject",
            "priority",
        ]),
        // Omni and Webex docs do not list hand-over parameters: accept any but contact_info.
        Provider::Omni | Provider::WebexCc | Provider::Simulator => None,
    }
}

/// Runs the rule.
pub fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    for lc in live_chats(ctx) {
        let Some(integration) = integration_of(ctx, lc.action) else {
            continue;
        };
        let provider = integration.provider;
        if provider == Provider::Simulator {
            continue;
        }
        for (name, _) in &lc.action.parameters {
            if name == "integration_id" || name == "before_action_messages" {
                continue;
            }
            let pointer = format!(
                "{}/parameters/{}",
                lc.pointer,
                name.replace('~', "~0").replace('/', "~1")
            );
            let problem = match (provider, name.as_str()) {
                (Provider::AltuConnector, "contact_info") => None,
                (_, "contact_info") => Some((
                    format!(
                        "`contact_info` only reaches ALTU Connector; {} ignores it",
                        provider.as_str()
                    ),
                    Some("move the data into `extra_info`".to_string()),
                )),
                (Provider::Zendesk, "extra_info") => Some((
                    "Zendesk receives no `extra_info`".to_string(),
                    Some("use `tags` or `historyExtraInfo`".to_string()),
                )),
                (Provider::Liveperson, "skillId") => Some((
                    "LivePerson reads `skill_id`, not `skillId`".to_string(),
                    Some("rename it to `skill_id`".to_string()),
                )),
                (Provider::AltuConnector, "skill_id") => Some((
                    "ALTU Connector reads `skillId`, not `skill_id`".to_string(),
                    Some("rename it to `skillId`".to_string()),
                )),
                (p, other) => match known_parameters(p) {
                    Some(known) if !known.contains(&other) => Some((
                        format!(
                            "{} does not read a parameter `{other}`; it is ignored",
                            p.as_str()
                        ),
                        did_you_mean(other, known)
                            .or_else(|| Some(format!("known parameters: {}", known.join(", ")))),
                    )),
                    _ => None,
                },
            };
            if let Some((message, help)) = problem {
                let mut d = Diagnostic::new(
                    UnsupportedParameter::META.code,
                    UnsupportedParameter::META.severity,
                    pointer,
                    message,
                )
                .label(crate::lint::rules::KEY_LABEL);
                if let Some(h) = help {
                    d = d.help(h);
                }
                out.push(d);
            }
        }
    }
}
