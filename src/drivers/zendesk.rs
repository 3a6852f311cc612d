//! Zendesk, `tickets` or `messaging` mode.
//!
//! Tickets: open `POST /api/v2/tickets` (the engine's `{"ticket": …}`), user messages as public
//! comments (`PUT /api/v2/tickets/{id}`), close by setting the ticket `closed`; auth
//! `Basic base64({email}/token:{api_token})`. Agent events come from a trigger webhook, signed
//! `X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(webhook_secret, timestamp + body))` with
//! `X-Zendesk-Webhook-Signature-Timestamp`. The trigger's JSON template is the author's; fluxo
//! expects (documented in `docs/providers.md`) `{"type": "agent_join"|"agent_message"|"solved",
//! "ticket_id", "agent_name", "comment_id", "text"}`.
//!
//! Messaging (Sunshine Conversations): open with the engine's `passControl`; user messages
//! `POST …/conversations/{id}/messages` as the user; close `releaseControl`. Webhooks carry
//! `X-API-Key` equal to the webhook secret; `conversation:message` from a `business` author is
//! the agent (the first one also joins), `switchboard:releaseControl` ends the chat
//! (`agent_closed`, the raw `reason` kept). Event ids deduplicate retries.

use super::http::Http;
use super::{
    bad_request, bad_response, config, credential_name, header, json_body, secret, setting,
    BoxFuture, Conversation, Driver, Error, Headers, Inbound, Opened,
};
use crate::domain::http::HttpRequest;
use crate::domain::Event;
use crate::model::Integration;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value as Json};

/// The Zendesk driver.
pub struct Zendesk {
    http: Http,
    /// Ticket id → its requester's user id (the author of the user's comments). Bounded;
    /// a miss reads the ticket again.
    requesters: std::sync::Mutex<std::collections::HashMap<String, Json>>,
}

/// Most ticket requesters remembered.
const REQUESTERS: usize = 10_000;

/// How far a webhook's signed timestamp may be from now. Zendesk documents the timestamp as
/// part of the signature but no window; five minutes (assumed) refuses replays of captured
/// deliveries while allowing for clock skew and Zendesk's own retries, which are signed anew.
pub const WEBHOOK_TOLERANCE_S: i64 = 300;

/// Refuses a webhook whose signed timestamp is unreadable or too far from `now`.
fn fresh(ts: &str, now: jiff::Timestamp) -> Result<(), Error> {
    let at: jiff::Timestamp = ts.parse().map_err(|_| {
        super::unauthorized("X-Zendesk-Webhook-Signature-Timestamp is not an RFC 3339 time")
    })?;
    let skew = (now.as_second() - at.as_second()).abs();
    if skew > WEBHOOK_TOLERANCE_S {
        return Err(super::unauthorized(format!(
            "X-Zendesk-Webhook-Signature-Timestamp is {skew} s away from now (more than {WEBHOOK_TOLERANCE_S} s): a replayed or delayed delivery"
        )));
    }
    Ok(())
}

fn messaging(i: &Integration) -> bool {
    i.settings.get("mode").and_then(Json::as_str) == Some("messaging")
}

fn base(i: &Integration) -> Result<String, Error> {
    if let Some(b) = i.settings.get("base_url").and_then(Json::as_str) {
        return Ok(b.trim_end_matches('/').to_owned());
    }
    let sub = setting(i, "subdomain")?;
    Ok(if messaging(i) {
        format!("https://{sub}.zendesk.com/sc")
    } else {
        format!("https://{sub}.zendesk.com")
    })
}

fn auth(i: &Integration) -> Result<String, Error> {
    Ok(format!("Basic {}", basic(i)?))
}

/// The Basic credentials, base64-encoded.
fn basic(i: &Integration) -> Result<String, Error> {
    let creds = if messaging(i) {
        format!(
            "{}:{}",
            secret(i, "key_id")?.expose(),
            secret(i, "key_secret")?.expose()
        )
    } else {
        format!(
            "{}/token:{}",
            setting(i, "email")?,
            secret(i, "api_token")?.expose()
        )
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(creds))
}

impl Zendesk {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        Zendesk {
            http,
            requesters: std::sync::Mutex::default(),
        }
    }

    fn remember(&self, ticket: &str, requester: Option<&Json>) {
        let Some(r) = requester.filter(|r| !r.is_null()) else {
            return;
        };
        if let Ok(mut m) = self.requesters.lock() {
            if m.len() >= REQUESTERS {
                m.clear();
            }
            m.insert(ticket.to_owned(), r.clone());
        }
    }

    /// The ticket's requester (from the create answer, else read from the ticket).
    async fn requester(&self, i: &Integration, ticket: &str) -> Result<Json, Error> {
        if let Some(r) = self
            .requesters
            .lock()
            .ok()
            .and_then(|m| m.get(ticket).cloned())
        {
            return Ok(r);
        }
        let what = "Zendesk: read ticket";
        let resp = self
            .http
            .send(super::http::Request {
                method: Method::GET,
                url: format!("{}/api/v2/tickets/{ticket}", base(i)?),
                headers: vec![("authorization".into(), auth(i)?)],
                body: super::http::Body::Empty,
                what: what.into(),
            })
            .await?;
        let v = resp.json(what)?;
        let r = v
            .pointer("/ticket/requester_id")
            .filter(|r| !r.is_null())
            .cloned()
            .ok_or_else(|| bad_response("Zendesk: the ticket has no requester_id"))?;
        self.remember(ticket, Some(&r));
        Ok(r)
    }

    /// The Sunshine user of conversation `id` (its participant), whom the user's messages are
    /// posted as: read once from the conversation's participants, then remembered.
    async fn sunco_user(&self, i: &Integration, id: &str) -> Result<Json, Error> {
        let key = format!("sunco:{id}");
        if let Some(r) = self
            .requesters
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(r);
        }
        let app = setting(i, "app_id")?;
        let what = "Zendesk: conversation participants";
        let resp = self
            .http
            .send(super::http::Request {
                method: Method::GET,
                url: format!("{}/v2/apps/{app}/conversations/{id}/participants", base(i)?),
                headers: vec![("authorization".into(), auth(i)?)],
                body: super::http::Body::Empty,
                what: what.into(),
            })
            .await?;
        let v = resp.json(what)?;
        let user = v
            .pointer("/participants/0/userId")
            .filter(|u| u.is_string())
            .cloned()
            .ok_or_else(|| bad_response("Zendesk: the conversation has no user participant"))?;
        self.remember(&key, Some(&user));
        Ok(user)
    }

    async fn call(
        &self,
        i: &Integration,
        method: Method,
        url: String,
        body: Json,
        what: &str,
    ) -> Result<super::http::Response, Error> {
        self.http
            .json(method, url, ("authorization", auth(i)?), body, what)
            .await
    }
}

impl Driver for Zendesk {
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            let i = &conv.integration;
            let creds = [(credential_name(request), basic(i)?)];
            if messaging(i) {
                // passControl addresses the Sunshine conversation the request names.
                let conversation = conv.remote_id.clone().ok_or_else(|| {
                    config("Zendesk: the hand-over names no Sunshine conversation")
                })?;
                self.http
                    .send_built(request, &creds, None, "Zendesk: passControl")
                    .await?;
                Ok(Opened {
                    remote_id: conversation,
                    result: json!({}),
                })
            } else {
                let what = "Zendesk: create ticket";
                // Ticket creation honours `Idempotency-Key`: a retry of the same hand-over
                // (after a timeout or a crash) does not open a second ticket.
                let keyed;
                let request = match &conv.idempotency_key {
                    Some(k) if request.header_value("idempotency-key").is_none() => {
                        let mut r = request.clone();
                        r.headers.push((
                            "Idempotency-Key".into(),
                            crate::domain::http::HeaderValue::Text(k.clone()),
                        ));
                        keyed = r;
                        &keyed
                    }
                    _ => request,
                };
                let v = self
                    .http
                    .send_built(request, &creds, None, what)
                    .await?
                    .json(what)?;
                let id = v
                    .pointer("/ticket/id")
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .ok_or_else(|| bad_response("Zendesk: no ticket id"))?;
                self.remember(&id, v.pointer("/ticket/requester_id"));
                Ok(Opened {
                    remote_id: id,
                    result: v,
                })
            }
        })
    }

    fn send<'a>(
        &'a self,
        conv: &'a Conversation,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let i = &conv.integration;
            let id = conv
                .remote_id
                .as_deref()
                .ok_or_else(|| config("Zendesk: the conversation is not open yet"))?;
            if messaging(i) {
                let app = setting(i, "app_id")?;
                let user = self.sunco_user(i, id).await?;
                let body = json!({ "author": { "type": "user", "userId": user }, "content": { "type": "text", "text": text } });
                self.call(
                    i,
                    Method::POST,
                    format!("{}/v2/apps/{app}/conversations/{id}/messages", base(i)?),
                    body,
                    "Zendesk: message",
                )
                .await
                .map(drop)
            } else {
                // Without `author_id` the API's own agent account would be the author: the
                // user's words would appear as the agent's public reply.
                let author = self.requester(i, id).await?;
                let body = json!({ "ticket": { "comment": { "body": text, "public": true, "author_id": author } } });
                self.call(
                    i,
                    Method::PUT,
                    format!("{}/api/v2/tickets/{id}", base(i)?),
                    body,
                    "Zendesk: comment",
                )
                .await
                .map(drop)
            }
        })
    }

    fn send_file<'a>(
        &'a self,
        conv: &'a Conversation,
        file: &'a super::SharedFile,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let i = &conv.integration;
            let id = conv
                .remote_id
                .as_deref()
                .ok_or_else(|| config("Zendesk: the conversation is not open yet"))?;
            if !messaging(i) {
                // A ticket comment with the link (uploads need the Attachments API).
                return self.send(conv, &file.as_text()).await;
            }
            let app = setting(i, "app_id")?;
            // Sunshine's `image` and `file` content types carry a `mediaUrl`.
            let kind = if file
                .mime_type
                .as_deref()
                .is_some_and(|m| m.starts_with("image/"))
            {
                "image"
            } else {
                "file"
            };
            let mut content = json!({ "type": kind, "mediaUrl": file.url });
            if let (Some(n), "file") = (&file.name, kind) {
                content["altText"] = json!(n);
            }
            let user = self.sunco_user(i, id).await?;
            let body = json!({ "author": { "type": "user", "userId": user }, "content": content });
            self.call(
                i,
                Method::POST,
                format!("{}/v2/apps/{app}/conversations/{id}/messages", base(i)?),
                body,
                "Zendesk: file",
            )
            .await
            .map(drop)
        })
    }

    fn close<'a>(&'a self, conv: &'a Conversation) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let i = &conv.integration;
            let Some(id) = conv.remote_id.as_deref() else {
                return Ok(());
            };
            if messaging(i) {
                let app = setting(i, "app_id")?;
                let url = format!(
                    "{}/v2/apps/{app}/conversations/{id}/releaseControl",
                    base(i)?
                );
                let released = self
                    .call(
                        i,
                        Method::POST,
                        url,
                        // `releaseControlBody` has only `metadata` (flat strings, numbers, booleans).
                        json!({ "metadata": { "fluxo_reason": "bot_closed" } }),
                        "Zendesk: releaseControl",
                    )
                    .await;
                match released {
                    // With an integration-scoped key, Sunshine refuses releaseControl from an
                    // integration that is not the active one: control has already left the
                    // agent (the Agent Workspace released it), so there is nothing to end.
                    // The bot's side is over either way; but with an integration-scoped key
                    // this is also the answer while the agent holds the conversation, so say
                    // what to change.
                    Err(e) if e.status() == Some(403) => {
                        tracing::warn!(target: "fluxo::drivers", "releaseControl refused (403): either control already left the agent, or the key is integration-scoped and cannot release the agent's control; use an app-scoped key");
                        Ok(())
                    }
                    other => other.map(drop),
                }
            } else {
                let body = json!({ "ticket": { "status": "closed", "comment": { "body": "Atendimento encerrado pelo chatbot.", "public": false } } });
                self.call(
                    i,
                    Method::PUT,
                    format!("{}/api/v2/tickets/{id}", base(i)?),
                    body,
                    "Zendesk: close ticket",
                )
                .await
                .map(drop)
            }
        })
    }

    fn webhook(
        &self,
        i: &Integration,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Vec<Inbound>, Error> {
        let s = super::webhook_secret(i, "webhook_secret")?;
        if messaging(i) {
            super::verify(
                super::required_header(headers, "x-api-key")?,
                s.expose(),
                "X-API-Key",
            )?;
            let v = json_body(body)?;
            let mut out = Vec::new();
            for e in v
                .get("events")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let id = e.get("id").and_then(Json::as_str).unwrap_or_default();
                let conv = e
                    .pointer("/payload/conversation/id")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                // `author.subtypes` (Sunshine's spec: `agent`, `bot`, `AI`, `activity`) tells a
                // human agent from the business's bots and from system activity.
                let subtypes: Vec<&str> = e
                    .pointer("/payload/message/author/subtypes")
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let human = subtypes.is_empty() || subtypes.contains(&"agent");
                match e.get("type").and_then(Json::as_str) {
                    Some("conversation:message")
                        if human
                            && e.pointer("/payload/message/author/type")
                                .and_then(Json::as_str)
                                == Some("business") =>
                    {
                        let author = |k: &str| {
                            e.pointer(&format!("/payload/message/author/{k}"))
                                .and_then(Json::as_str)
                                .map(str::to_owned)
                        };
                        let name = author("displayName").unwrap_or_else(|| "agent".into());
                        out.push(Inbound {
                            remote_id: conv.clone(),
                            // A Sunshine conversation keeps its id across hand-overs, so the
                            // join is keyed by the event: the engine ignores repeated joins.
                            dedupe: format!("zd:{id}:join"),
                            event: Event::AgentJoin {
                                name,
                                avatar: author("avatarUrl"),
                                representative_type: None,
                            },
                        });
                        let content = e
                            .pointer("/payload/message/content")
                            .cloned()
                            .unwrap_or_default();
                        let text =
                            |k: &str| content.get(k).and_then(Json::as_str).map(str::to_owned);
                        // `image` and `file` content (Sunshine's `mediaUrl`) is a shared file.
                        let event = match (text("type").as_deref(), text("mediaUrl")) {
                            (Some("image" | "file"), Some(url)) => Event::AgentFile {
                                url,
                                name: text("altText"),
                                mime_type: text("mediaType"),
                            },
                            _ => Event::AgentMessage {
                                text: text("text").unwrap_or_default(),
                                content: None,
                            },
                        };
                        out.push(Inbound {
                            remote_id: conv,
                            dedupe: format!("zd:{id}"),
                            event,
                        });
                    }
                    // The agent's typing indicator. (The user's typing cannot go the other
                    // way: Sunshine's `activityTypes` take only `conversation:read` from a
                    // `user` author; the user's own client shows it to the agent.)
                    Some("conversation:typing")
                        if e.pointer("/payload/activity/author/type")
                            .and_then(Json::as_str)
                            == Some("business") =>
                    {
                        let typing = e.pointer("/payload/activity/type").and_then(Json::as_str)
                            == Some("typing:start");
                        out.push(Inbound {
                            remote_id: conv,
                            dedupe: format!("zd:{id}"),
                            event: Event::AgentTyping { typing },
                        });
                    }
                    Some("switchboard:releaseControl") => {
                        let reason = e
                            .pointer("/payload/reason")
                            .and_then(Json::as_str)
                            .unwrap_or("releaseControl")
                            .to_owned();
                        // Sunshine's reasons (`switchboard:passControl`): `ticketClosed`, the
                        // agent's end; `transferToEmail`, the agent goes on by email because
                        // the user left the chat.
                        let event = if reason == "transferToEmail" {
                            Event::ProviderClosed {
                                status: crate::domain::CloseStatus::UserInactivityTimeout,
                                reason: Some(reason),
                            }
                        } else {
                            Event::AgentClose {
                                wrap_up: Some(reason),
                            }
                        };
                        out.push(Inbound {
                            remote_id: conv,
                            dedupe: format!("zd:{id}"),
                            event,
                        });
                    }
                    _ => {}
                }
            }
            Ok(out)
        } else {
            let ts = super::required_header(headers, "x-zendesk-webhook-signature-timestamp")?;
            let sig = super::required_header(headers, "x-zendesk-webhook-signature")?;
            super::verify(
                sig,
                &super::signature::zendesk(s.expose(), ts, body),
                "X-Zendesk-Webhook-Signature",
            )?;
            fresh(ts, jiff::Timestamp::now())?;
            let v = json_body(body)?;
            let ticket = v
                .get("ticket_id")
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .ok_or_else(|| bad_request("no `ticket_id`"))?;
            let agent = v
                .get("agent_name")
                .and_then(Json::as_str)
                .unwrap_or("agent")
                .to_owned();
            let invocation = header(headers, "x-zendesk-webhook-invocation-id")
                .map_or_else(|| super::body_key(body), str::to_owned);
            let (event, dedupe) = match v.get("type").and_then(Json::as_str) {
                Some("agent_join") => (
                    Event::AgentJoin {
                        name: agent.clone(),
                        avatar: None,
                        representative_type: None,
                    },
                    format!("zd:{ticket}:join:{agent}"),
                ),
                Some("agent_message") => {
                    let id = v
                        .get("comment_id")
                        .map(Json::to_string)
                        .unwrap_or(invocation);
                    (
                        Event::AgentMessage {
                            text: v
                                .get("text")
                                .and_then(Json::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            content: None,
                        },
                        format!("zd:{ticket}:comment:{id}"),
                    )
                }
                Some("solved") => (
                    Event::AgentClose {
                        wrap_up: Some("solved".into()),
                    },
                    format!("zd:{ticket}:solved"),
                ),
                Some(other) => {
                    return Err(bad_request(format!(
                        "unknown `type` `{other}`: expected `agent_join`, `agent_message` or `solved`"
                    )))
                }
                None => {
                    return Err(bad_request(
                        "the webhook has no `type` (expected `agent_join`, `agent_message` or `solved`)",
                    ))
                }
            };
            Ok(vec![Inbound {
                remote_id: ticket,
                dedupe,
                event,
            }])
        }
    }
}
