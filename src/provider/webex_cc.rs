//! Webex Contact Center. An integration picks one of two hand-overs with `settings.mode`:
//!
//! - `callback`: the public Create Task API (`POST {base_url}/v1/tasks`, schema
//!   `CreateTaskRequest` in Cisco's OpenAPI document): a telephony task with `outboundType:
//!   CALLBACK`, so an agent calls the customer back on the phone number of the contact. There is
//!   no chat in this mode.
//! - `digital` (the default, so integrations written before modes existed keep working): a chat
//!   task in Cisco's private "Bring Your Own Custom Messaging Channel" beta. Its shapes are not
//!   public and are assumed (documented in `docs/providers.md`): `mediaType: "chat"`, the entry
//!   point (`settings.entry_point_id`), the customer as `origin`, the hand-over data as task
//!   `attributes`.
//!
//! With `mask_pii`, personal data in the attributes is masked before it leaves fluxo (Webex's own
//! masking is only on the agent's desktop).

use super::{base_url, Handoff, HttpRequest, Method};
use crate::domain::pii;
use serde_json::{json, Map, Value as Json};

/// Default API host (US region).
pub const DEFAULT_BASE: &str = "https://api.wxcc-us1.cisco.com";

/// Contact fields that may hold the customer's phone number, in the order they are tried.
pub const PHONE_FIELDS: &[&str] = &["phone", "telefone", "celular"];

/// `CreateTaskRequest`: the longest `destination` and `entryPointId` Webex accepts.
#[cfg_attr(not(feature = "drivers"), allow(dead_code))]
pub const MAX_ID_CHARS: usize = 36;

/// `CreateTaskRequest.attributes`: at most 30 pairs, keys up to 200 bytes, values up to 1024.
const MAX_ATTRIBUTES: usize = 30;
const MAX_ATTRIBUTE_KEY_BYTES: usize = 200;
const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;

pub use crate::model::WebexMode as Mode;

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HttpRequest {
    let body = match Mode::of(&h.integration.settings) {
        Some(Mode::Callback) => callback(h),
        // An unknown mode is refused by the driver; the request shown is the default's.
        Some(Mode::Digital) | None => json!({
            "mediaType": "chat",
            "entryPointId": h.setting("entry_point_id").unwrap_or("{entryPointId}"),
            "destination": h.identifier,
            "origin": h.contact_text("name").unwrap_or("cliente"),
            "attributes": attributes(h),
        }),
    };
    HttpRequest::json(
        Method::Post,
        format!("{}/v1/tasks", base_url(h, DEFAULT_BASE)),
        body,
    )
    .credential("Authorization", "Bearer ", "access_token")
}

/// `CreateTaskRequest` for a callback: the outbound entry point, the contact's phone number as
/// `destination` (`null` when the contact has none: the driver refuses to send it), and
/// `CallbackDetails` with the only values the spec lists (`web`, `immediate`).
fn callback(h: &Handoff<'_>) -> Json {
    let mut body = Map::new();
    body.insert(
        "entryPointId".into(),
        json!(h.setting("entry_point_id").unwrap_or("{entryPointId}")),
    );
    body.insert("destination".into(), json!(phone(h)));
    body.insert("mediaType".into(), json!("telephony"));
    body.insert("outboundType".into(), json!("CALLBACK"));
    body.insert(
        "callback".into(),
        json!({ "callbackOrigin": "web", "callbackType": "immediate" }),
    );
    // The outdial ANI; without it Webex uses the entry point's default.
    if let Some(origin) = h.setting("origin") {
        body.insert("origin".into(), json!(origin));
    }
    let mut attrs = attributes(h);
    attrs.retain(|k, _| k.len() <= MAX_ATTRIBUTE_KEY_BYTES);
    let attrs: Map<String, Json> = attrs
        .into_iter()
        .take(MAX_ATTRIBUTES)
        .map(|(k, v)| {
            let v = match v {
                Json::String(s) => Json::String(truncate_bytes(&s, MAX_ATTRIBUTE_VALUE_BYTES)),
                other => other,
            };
            (k, v)
        })
        .collect();
    body.insert("attributes".into(), Json::Object(attrs));
    Json::Object(body)
}

/// The contact's phone number as a dial string: its digits, with a leading `+` kept.
fn phone(h: &Handoff<'_>) -> Option<String> {
    let raw = PHONE_FIELDS.iter().find_map(|f| h.contact_text(f))?;
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(if raw.trim_start().starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

/// What is wrong with a callback `CreateTaskRequest` body, if anything: the driver checks it
/// before sending, so a hand-over Webex would refuse fails with a message that says why.
#[cfg_attr(not(feature = "drivers"), allow(dead_code))]
pub fn callback_problem(body: &Json) -> Option<String> {
    let text = |k: &str| body.get(k).and_then(Json::as_str).filter(|s| !s.is_empty());
    let Some(destination) = text("destination") else {
        return Some(format!(
            "Webex callback: the contact has no phone number (contact {})",
            PHONE_FIELDS
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if destination.chars().count() > MAX_ID_CHARS {
        return Some(format!(
            "Webex callback: the contact's phone number has {} characters; Webex accepts at most {MAX_ID_CHARS}",
            destination.chars().count()
        ));
    }
    match text("entryPointId") {
        Some(ep) if !ep.starts_with('{') && ep.chars().count() <= MAX_ID_CHARS => None,
        _ => Some(format!(
            "Webex callback: `settings.entry_point_id` must be an outbound entry point id (at most {MAX_ID_CHARS} characters)"
        )),
    }
}

/// The flow's `extra_info` as task attributes, masked with `mask_pii`.
fn attributes(h: &Handoff<'_>) -> Map<String, Json> {
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
    attributes
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() > max {
            break;
        }
        end = i + c.len_utf8();
    }
    s.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_bytes("ação", 3), "a\u{e7}");
        assert_eq!(truncate_bytes("ação", 2), "a");
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }

    #[test]
    fn modes() {
        let m = |v: Json| Mode::of(v.as_object().unwrap_or(&Map::new()));
        assert_eq!(m(json!({})), Some(Mode::Digital));
        assert_eq!(m(json!({ "mode": "callback" })), Some(Mode::Callback));
        assert_eq!(m(json!({ "mode": "digital" })), Some(Mode::Digital));
        assert_eq!(m(json!({ "mode": "chat" })), None);
        assert_eq!(m(json!({ "mode": 1 })), None);
    }

    #[test]
    fn callback_problems() {
        let ok = json!({ "destination": "+5511987654321", "entryPointId": "ep-out" });
        assert_eq!(callback_problem(&ok), None);
        let no_phone = json!({ "destination": null, "entryPointId": "ep-out" });
        assert!(callback_problem(&no_phone).is_some_and(|m| m.contains("no phone number")));
        let long = json!({ "destination": "1".repeat(37), "entryPointId": "ep-out" });
        assert!(callback_problem(&long).is_some_and(|m| m.contains("37 characters")));
        let no_ep = json!({ "destination": "123", "entryPointId": "{entryPointId}" });
        assert!(callback_problem(&no_ep).is_some_and(|m| m.contains("entry_point_id")));
    }
}
