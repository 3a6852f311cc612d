//! ALTU Connector (Agent Connector API), e.g. Tech4Humans.
//!
//! ALTU posts events to the live chat's webhook (`settings.webhook_url`) as
//! `{action, conversationID, identifier, parameters, timestamp}`, authenticated with a fresh
//! HS256 JWT per request (`{access_token, iat, exp = iat + 60}`, signed with the integration's
//! `access_key`). The hand-over is `OPEN_CONVERSATION`: `parameters.extraInfo` (the builder's
//! `extra_info`, camel-cased on the wire) and `parameters.contact.extra.contact_info`, each at
//! most 1024 characters of JSON; with `include_history`, the messages since `start`.
//!
//! Assumed: `conversationID` is `null` until the live chat answers with its own id; `skillId`
//! is passed through in `parameters`.

use super::{json_within, Handoff, HttpRequest, Method};
use crate::domain::ALTU_INFO_MAX;
use serde_json::{json, Value as Json};

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HttpRequest {
    let url = h
        .setting("webhook_url")
        .unwrap_or("{webhook_url}")
        .to_owned();
    let within = |k: &str| -> Json {
        let s = json_within(h.param(k), ALTU_INFO_MAX);
        if s.is_empty() {
            json!({})
        } else {
            serde_json::from_str(&s).unwrap_or(Json::Null)
        }
    };
    let mut contact = json!({
        "name": h.contact_text("name"),
        "email": h.contact_text("email"),
        "phone": h.contact_text("phone"),
        "extra": { "contact_info": within("contact_info") }
    });
    if let Some(cpf) = h.contact_text("cpf") {
        contact["extra"]["cpf"] = json!(cpf);
    }
    let mut parameters = json!({ "extraInfo": within("extra_info"), "contact": contact });
    if let Some(skill) = h.param("skillId") {
        parameters["skillId"] = skill.clone();
    }
    if h.integration.include_history {
        parameters["history"] = Json::Array(h.history.to_vec());
    }
    HttpRequest::json(
        Method::Post,
        url,
        json!({
            "action": "OPEN_CONVERSATION",
            "conversationID": null,
            "identifier": h.identifier,
            "parameters": parameters,
            "timestamp": h.now_ms.div_euclid(1000),
        }),
    )
    .credential(
        "Authorization",
        "Bearer ",
        "JWT HS256 {access_token, iat, exp: iat+60}",
    )
}
