//! Provider request builders: pure functions that say exactly what a provider receives for a
//! hand-over, and the result variable the flow gets when the provider accepts.
//!
//! A builder returns a typed [`HttpRequest`]; the engine shows it in `handoff_requested.request`
//! and the driver sends that very request. Two things only are left for the driver to fill in:
//! credentials, which appear as named placeholders (`<AppJWT>`) so they are never in an output
//! or a log, and a host the provider's own discovery service names (LivePerson's
//! `{asyncMessagingEnt}`), when the integration does not set `base_url`.
//!
//! The wire shapes follow the providers' public API documentation; where it leaves a gap the
//! module of that provider says what was assumed (see also `docs/providers.md`).

pub mod altu_connector;
pub mod liveperson;
pub mod omni;
pub mod webex_cc;
pub mod zendesk;

pub use crate::domain::http::{HttpRequest, Method};
use crate::domain::{HandoffInputs, Provider};
use crate::model::Integration;
use serde_json::{json, Map, Value as Json};

/// Everything a request builder may use.
#[derive(Debug, Clone, Copy)]
pub struct Handoff<'a> {
    /// The integration.
    pub integration: &'a Integration,
    /// Rendered `start_live_chat` parameters.
    pub parameters: &'a Map<String, Json>,
    /// The conversation's contact.
    pub contact: &'a Map<String, Json>,
    /// The conversation's context.
    pub context: &'a Map<String, Json>,
    /// A stable id for the end user (the session id).
    pub identifier: &'a str,
    /// Messages since `start`, oldest first: `{ "from": "user"|"bot", "text", "at" }`.
    pub history: &'a [Json],
    /// Now, in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

impl<'a> Handoff<'a> {
    /// The builder's inputs for `integration`, from what a hand-over recorded.
    pub fn from_inputs(integration: &'a Integration, inputs: &'a HandoffInputs) -> Handoff<'a> {
        Handoff {
            integration,
            parameters: &inputs.parameters,
            contact: &inputs.contact,
            context: &inputs.context,
            identifier: &inputs.identifier,
            history: &inputs.history,
            now_ms: inputs.now_ms,
        }
    }

    /// A parameter.
    pub fn param(&self, name: &str) -> Option<&Json> {
        self.parameters.get(name).filter(|v| !v.is_null())
    }

    /// A string setting.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.integration.settings.get(name).and_then(Json::as_str)
    }

    /// A contact attribute as text.
    pub fn contact_text(&self, name: &str) -> Option<&str> {
        self.contact
            .get(name)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// What a hand-over asks of the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRequest {
    /// The request.
    pub request: HttpRequest,
    /// The provider's id for the conversation, when the request addresses one that already
    /// exists (a Sunshine Conversations conversation).
    pub remote_id: Option<String>,
}

/// The wire request for a hand-over to `h.integration`.
pub fn handoff_request(h: &Handoff<'_>) -> HandoffRequest {
    let request = |r: HttpRequest| HandoffRequest {
        request: r,
        remote_id: None,
    };
    match h.integration.provider {
        Provider::Liveperson => request(liveperson::open(h)),
        Provider::Zendesk => zendesk::open(h),
        Provider::AltuConnector => request(altu_connector::open(h)),
        Provider::Omni => request(omni::open(h)),
        Provider::WebexCc => request(webex_cc::open(h)),
        // Nothing is sent: this is what a host's own driver for the simulator would receive.
        Provider::Simulator => request(HttpRequest::json(
            Method::Post,
            "simulator:handoff",
            json!({ "identifier": h.identifier, "parameters": h.parameters }),
        )),
    }
}

/// The result variable's value once the provider accepted the hand-over.
pub fn accepted_result(
    provider: Provider,
    remote_id: Option<&str>,
    provider_result: Option<&Json>,
) -> Json {
    match provider {
        // SPEC §4.3 / the builder's docs.
        Provider::Liveperson => json!({
            "status": "ok",
            "body": { "reqId": "2,", "code": "OK", "body": { "conversationId": remote_id } }
        }),
        Provider::Zendesk => json!({
            "response": {
                "body": provider_result.cloned().unwrap_or_else(|| json!({ "ticket": { "id": remote_id } })),
                "status": "ok"
            }
        }),
        // Undocumented for these providers: the same "ok" envelope, with the provider's id.
        _ => {
            let mut v = json!({ "status": "ok", "conversation_id": remote_id });
            if let Some(r) = provider_result {
                v["body"] = r.clone();
            }
            v
        }
    }
}

/// The result variable's value when the provider failed before accepting.
pub fn error_result(message: &str) -> Json {
    json!({ "status": "error", "message": message })
}

/// JSON text of `v`, or "" when it is longer than `max` characters (the builder's rule for
/// LivePerson's `extra_info`: a longer value is sent empty).
pub fn json_within(v: Option<&Json>, max: usize) -> String {
    match v {
        None => String::new(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() <= max {
                s
            } else {
                String::new()
            }
        }
    }
}

/// The base URL of an integration: `settings.base_url` or the provider's real default.
pub fn base_url(h: &Handoff<'_>, default: &str) -> String {
    h.setting("base_url")
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned()
}
