//! Webex Contact Center, through the "Bring Your Own Custom Messaging Channel" middleware.
//!
//! The Create Task API for digital channels is in beta and its shapes are not public. Assumed
//! request, documented in `docs/providers.md`: `POST {base_url}/v1/tasks` with an OAuth bearer
//! token, `mediaType: "chat"`, the entry point (`settings.entry_point_id`), the customer as
//! `origin`, and the hand-over data as task `attributes`. With `mask_pii`, personal data in the
//! attributes is masked before it leaves fluxo (Webex's own masking is only on the agent's
//! desktop).

use super::{base_url, Handoff, HttpRequest, Method};
use crate::domain::pii;
use serde_json::{json, Map, Value as Json};

/// Default API host (US region).
pub const DEFAULT_BASE: &str = "https://api.wxcc-us1.cisco.com";

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HttpRequest {
    let mut attributes = Map::new();
    if let Some(extra) = h.param("extra_info").and_then(Json::as_object) {
        for (k, v) in extra {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            attributes.insert(
                k.clone(),
                json!(if h.integration.mask_pii {
                    pii::mask(&text)
                } else {
                    text
                }),
            );
        }
    }
    HttpRequest::json(
        Method::Post,
        format!("{}/v1/tasks", base_url(h, DEFAULT_BASE)),
        json!({
            "mediaType": "chat",
            "entryPointId": h.setting("entry_point_id").unwrap_or("{entryPointId}"),
            "destination": h.identifier,
            "origin": h.contact_text("name").unwrap_or("cliente"),
            "attributes": attributes,
        }),
    )
    .credential("Authorization", "Bearer ", "access_token")
}
