//! Zendesk, in two modes (`settings.mode`):
//!
//! - `tickets` (default): `POST https://{subdomain}.zendesk.com/api/v2/tickets` with
//!   `{"ticket": {…}}` — subject, the first public comment, requester, `tags`, `custom_fields`
//!   (`[{id, value}]`), `external_id`. Auth `Basic {email}/token:{api_token}`.
//! - `messaging`: Sunshine Conversations switchboard, `POST …/v2/apps/{appId}/conversations/
//!   {conversationId}/passControl` to the Agent Workspace with `dataCapture` metadata
//!   (`dataCapture.systemField.tags`, `dataCapture.ticketField.<id>`, requester name/email).
//!
//! The builder sends Zendesk neither `extra_info` nor `contact_info`. `visitorInfo.display_name`
//! becomes the requester's name; `historyExtraInfo` is added to the first comment.
//! Assumed: in messaging mode the Sunshine conversation id comes from the context variable
//! `sunco_conversation_id` (set by the channel), else the session identifier.

use super::{base_url, Handoff, HandoffRequest, HttpRequest, Method};
use serde_json::{json, Map, Value as Json};

/// The hand-over request.
pub fn open(h: &Handoff<'_>) -> HandoffRequest {
    if h.setting("mode") == Some("messaging") {
        let (request, conversation) = messaging(h);
        HandoffRequest {
            request,
            remote_id: Some(conversation),
        }
    } else {
        HandoffRequest {
            request: tickets(h),
            remote_id: None,
        }
    }
}

fn requester(h: &Handoff<'_>) -> (Option<String>, Option<String>) {
    let visitor = h.param("visitorInfo");
    let name = visitor
        .and_then(|v| v.get("display_name"))
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(255).collect())
        .or_else(|| h.contact_text("name").map(str::to_owned));
    let email = visitor
        .and_then(|v| v.get("email"))
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| h.contact_text("email"))
        .map(str::to_owned);
    (name, email)
}

fn first_comment(h: &Handoff<'_>) -> String {
    let mut body = String::from("Conversa transferida pelo chatbot.");
    for m in h.history {
        let who = m.get("from").and_then(Json::as_str).unwrap_or("user");
        let text = m.get("text").and_then(Json::as_str).unwrap_or_default();
        body.push_str(&format!(
            "\n{}: {text}",
            if who == "bot" { "Bot" } else { "Cliente" }
        ));
    }
    if let Some(extra) = h.param("historyExtraInfo") {
        body.push_str(&format!("\n{extra}"));
    }
    body
}

fn tickets(h: &Handoff<'_>) -> HttpRequest {
    let subdomain = h.setting("subdomain").unwrap_or("{subdomain}");
    let base = base_url(h, &format!("https://{subdomain}.zendesk.com"));
    let (name, email) = requester(h);
    let mut ticket = json!({
        "subject": h.param("subject").and_then(Json::as_str).unwrap_or("Atendimento solicitado pelo chatbot"),
        "comment": { "body": first_comment(h), "public": true },
    });
    // An existing Zendesk user as the requester (the builder's `requester_id`), else a
    // requester by name and e-mail, which Zendesk finds or creates.
    match h.param("requester_id").filter(|v| !v.is_null()) {
        Some(id) => ticket["requester_id"] = id.clone(),
        None => {
            ticket["requester"] =
                json!({ "name": name.unwrap_or_else(|| "Cliente".into()), "email": email });
        }
    }
    ticket["external_id"] = json!(h.identifier);
    // The builder's routing parameters ("Iniciar LiveChat"), passed as the Tickets API names
    // them. `brand_id` and `ticket_form_id` need Zendesk Enterprise.
    for k in [
        "tags",
        "custom_fields",
        "priority",
        "type",
        "group_id",
        "assignee_id",
        "brand_id",
        "ticket_form_id",
    ] {
        if let Some(v) = h.param(k).filter(|v| !v.is_null()) {
            ticket[k] = v.clone();
        }
    }
    HttpRequest::json(
        Method::Post,
        format!("{base}/api/v2/tickets"),
        json!({ "ticket": ticket }),
    )
    .credential("Authorization", "Basic ", "base64(email/token:api_token)")
}

fn messaging(h: &Handoff<'_>) -> (HttpRequest, String) {
    let subdomain = h.setting("subdomain").unwrap_or("{subdomain}");
    let base = base_url(h, &format!("https://{subdomain}.zendesk.com/sc"));
    let app = h.setting("app_id").unwrap_or("{appId}");
    let conversation = h
        .context
        .get("sunco_conversation_id")
        .and_then(Json::as_str)
        .unwrap_or(h.identifier);
    let mut metadata = Map::new();
    if let Some(tags) = h.param("tags").and_then(Json::as_array) {
        let joined: Vec<String> = tags
            .iter()
            .filter_map(Json::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        metadata.insert(
            "dataCapture.systemField.tags".into(),
            json!(joined.join(" ")),
        );
    }
    for f in h
        .param("custom_fields")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(id), Some(v)) = (f.get("id"), f.get("value")) {
            let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
            metadata.insert(format!("dataCapture.ticketField.{id}"), v.clone());
        }
    }
    let (name, email) = requester(h);
    if let Some(n) = name {
        metadata.insert("dataCapture.systemField.requester.name".into(), json!(n));
    }
    if let Some(e) = email {
        metadata.insert("dataCapture.systemField.requester.email".into(), json!(e));
    }
    let request = HttpRequest::json(
        Method::Post,
        format!("{base}/v2/apps/{app}/conversations/{conversation}/passControl"),
        json!({
            "switchboardIntegration": h.setting("switchboard_integration").unwrap_or("next"),
            "metadata": metadata
        }),
    )
    .credential("Authorization", "Basic ", "base64(key_id:key_secret)");
    (request, conversation.to_owned())
}
