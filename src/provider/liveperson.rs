//! LivePerson Conversational Cloud — Connector API (bot acting as consumer).
//!
//! Opening is one `POST …/messaging/consumer/conversation?v=3` whose body is a JSON *array*:
//! `userprofile.SetUserProfile` first, then `cm.ConsumerRequestConversation` (with `skillId`
//! *inside* its body — a known pitfall of open-source connectors — and `campaignInfo`), then the
//! `start_message` as a consumer `ms.PublishEvent`. Headers: `Authorization: <AppJWT>` (from
//! Sentinel) and `X-LP-ON-BEHALF: <ConsumerJWS>` (from IdP).
//!
//! Assumed where the docs are silent: the builder's placement of `extra_info`. fluxo sends its
//! JSON text (at most 256 characters, else empty, as the builder documents) in the
//! `ctmrinfo` SDE's `socialId` field, the only free-text customer field of that SDE.

use super::{base_url, json_within, Handoff, HttpRequest, Method};
use crate::domain::LIVEPERSON_EXTRA_INFO_MAX;
use serde_json::{json, Value as Json};

/// The asyncMessagingEnt host, when `base_url` is not set: resolved at run time through the
/// Domain API (`domain_url`, default `https://api.liveperson.net`).
pub const DEFAULT_BASE: &str = "https://{asyncMessagingEnt}";

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HttpRequest {
    let account = h.setting("account_id").unwrap_or("{accountId}");
    let url = format!(
        "{}/api/account/{account}/messaging/consumer/conversation?v=3",
        base_url(h, DEFAULT_BASE)
    );
    let name = h.contact_text("name").unwrap_or_default();
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let mut request_conversation = json!({
        "brandId": account,
        "channelType": "MESSAGING",
        "skillId": h.param("skill_id").map_or_else(|| "-1".to_owned(), text),
        "conversationContext": { "type": "SharkContext", "visitorId": h.identifier,
            "lang": h.param("lang").map(text).filter(|l| !l.is_empty()).unwrap_or_else(|| "pt-BR".to_owned()) }
    });
    if let Some(c) = h.param("campaign_info") {
        request_conversation["campaignInfo"] = json!({
            "campaignId": c.get("campaign_id").map(text),
            "engagementId": c.get("engagement_id").map(text),
        });
    }
    if let Some(agent) = h.param("agent").map(text).filter(|a| !a.is_empty()) {
        // Routing to a specific agent: LivePerson's "preferred agent" hint.
        request_conversation["conversationContext"]["preferredAgent"] = json!(agent);
    }
    let mut batch = vec![
        json!({
            "kind": "req", "id": "1,", "type": "userprofile.SetUserProfile",
            "body": { "authenticatedData": { "lp_sdes": [
                { "type": "ctmrinfo", "info": { "ctype": "chatbot", "customerId": h.identifier,
                    "socialId": json_within(h.param("extra_info"), LIVEPERSON_EXTRA_INFO_MAX) } },
                { "type": "personal", "personal": { "firstname": first, "lastname": last,
                    "contacts": [ { "email": h.contact_text("email"), "phone": h.contact_text("phone") } ] } }
            ] } }
        }),
        json!({ "kind": "req", "id": "2,", "type": "cm.ConsumerRequestConversation", "body": request_conversation }),
    ];
    if let Some(msg) = h.param("start_message").map(text).filter(|m| !m.is_empty()) {
        batch.push(json!({
            "kind": "req", "id": "3,", "type": "ms.PublishEvent",
            "body": { "event": { "type": "ContentEvent", "contentType": "text/plain", "message": msg } }
        }));
    }
    // LivePerson's schemas want strings where a value is given: absent data is left out, not
    // sent as `null`.
    let mut batch = Json::Array(batch);
    prune_nulls(&mut batch);
    HttpRequest::json(Method::Post, url, batch)
        .credential("Authorization", "", "AppJWT")
        .credential("X-LP-ON-BEHALF", "", "ConsumerJWS")
}

/// Removes `null` members (and the objects they leave empty inside arrays stay as they are).
fn prune_nulls(v: &mut Json) {
    match v {
        Json::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Json::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}
