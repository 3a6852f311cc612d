//! Omni (Digital Contact / Ligo Omni).
//!
//! The public docs describe the hand-over only as the bot's "Humano" block (a target queue —
//! an Omni *service* —, a pre-transfer message, business-hours and agents-online checks) and an
//! `x-api-key` per channel. Assumed request, documented in `docs/providers.md`:
//! `POST {base_url}/integration/attendance` with `x-api-key`, the service (queue) id, the
//! contact, the pre-transfer message and `extra_info`.

use super::{base_url, Handoff, HttpRequest, Method};
use serde_json::{json, Value as Json};

/// Default API host.
pub const DEFAULT_BASE: &str = "https://api.omni.digitalcontact.cloud";

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HttpRequest {
    HttpRequest::json(
        Method::Post,
        format!("{}/integration/attendance", base_url(h, DEFAULT_BASE)),
        json!({
            "service": h.setting("service_id").or_else(|| h.param("queue").and_then(Json::as_str)),
            "clientId": h.identifier,
            "contact": { "name": h.contact_text("name"), "phone": h.contact_text("phone"), "email": h.contact_text("email") },
            "message": h.param("start_message"),
            "extra": h.param("extra_info"),
        }),
    )
    .credential("x-api-key", "", "api_key")
}
