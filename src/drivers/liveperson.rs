//! LivePerson Connector API (the bot acts as the consumer).
//!
//! - Service discovery: `GET {domain_url}/api/account/{account}/service/{name}/baseURI.json?version=1.0`
//!   (`sentinel`, `idp`, `asyncMessagingEnt`), unless `settings.base_url` points everything at one host.
//! - AppJWT: `POST https://{sentinel}/sentinel/api/account/{account}/app/token?v=1.0&grant_type=client_credentials`
//!   with `client_id`/`client_secret` as a form body; cached until shortly before it expires.
//! - ConsumerJWS: `POST https://{idp}/api/account/{account}/consumer?v=1.0`, `Authorization: <AppJWT>`,
//!   `{"ext_consumer_id": <session id>}`.
//! - Open: the engine's batch (`SetUserProfile`, `ConsumerRequestConversation`, …) to
//!   `…/messaging/consumer/conversation?v=3`; the conversation id is in the response element
//!   whose `reqId` is `"2,"`.
//! - Send: `ms.PublishEvent` (`ContentEvent`) to `…/messaging/consumer/conversation/send?v=3`.
//! - Close: `cm.UpdateConversationField` with `ConversationStateField: CLOSE`.
//! - Webhooks: `ms.MessagingEventNotification` (agent `ContentEvent`s; `AcceptStatusEvent` from
//!   the assigned agent is the join) and `cqm.ExConversationChangeNotification` (`closeReason`
//!   AGENT → `agent_closed`, CONSUMER → `user_closed`, SYSTEM → `user_inactivity_timeout` — LivePerson
//!   auto-closes only conversations waiting for the consumer). Signature:
//!   `X-Liveperson-Signature: sha1=<base64 HMAC-SHA1(app_secret, raw body)>`.

use super::http::{Body, Http, Request};
use super::{
    bad_response, config, header, json_body, secret, setting, BoxFuture, Conversation, Driver,
    Error, Headers, Inbound, Opened,
};
use crate::domain::http::HttpRequest;
use crate::domain::{CloseStatus, Event};
use crate::model::Integration;
use reqwest::Method;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default Domain API host.
pub const DEFAULT_DOMAIN: &str = "https://api.liveperson.net";

/// The LivePerson driver.
pub struct LivePerson {
    http: Http,
    /// (account, service) → base URL.
    hosts: Mutex<HashMap<(String, String), String>>,
    /// account → (AppJWT, valid until).
    app_jwt: Mutex<HashMap<String, (super::Secret, Instant)>>,
    /// (account, consumer) → ConsumerJWS: bounded and expiring, so a process that hands
    /// thousands of conversations over keeps a few megabytes of tokens at most.
    consumers: Mutex<super::cache::Expiring<(String, String), super::Secret>>,
}

/// ConsumerJWS tokens kept at once (about 3 KB each).
const CONSUMER_TOKENS: usize = 2048;
/// How long a ConsumerJWS is reused. LivePerson does not document its lifetime; a 401 gets a
/// fresh one before that (assumed).
const CONSUMER_TOKEN_TTL: Duration = Duration::from_secs(3600);

impl LivePerson {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        LivePerson {
            http,
            hosts: Mutex::default(),
            app_jwt: Mutex::default(),
            consumers: Mutex::new(super::cache::Expiring::new(
                CONSUMER_TOKENS,
                CONSUMER_TOKEN_TTL,
            )),
        }
    }

    async fn host(&self, i: &Integration, service: &str) -> Result<String, Error> {
        if let Some(b) = i.settings.get("base_url").and_then(Json::as_str) {
            return Ok(b.trim_end_matches('/').to_owned());
        }
        let account = setting(i, "account_id")?.to_owned();
        let key = (account.clone(), service.to_owned());
        if let Some(h) = self.hosts.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(h);
        }
        let domain = i
            .settings
            .get("domain_url")
            .and_then(Json::as_str)
            .unwrap_or(DEFAULT_DOMAIN)
            .trim_end_matches('/');
        let resp = self
            .http
            .send(Request {
                method: Method::GET,
                url: format!(
                    "{domain}/api/account/{account}/service/{service}/baseURI.json?version=1.0"
                ),
                headers: vec![],
                body: Body::Empty,
                what: format!("LivePerson: discover {service}"),
            })
            .await?;
        let base = resp
            .json("LivePerson domain API")?
            .get("baseURI")
            .and_then(Json::as_str)
            .map(|h| {
                if h.starts_with("http") {
                    h.to_owned()
                } else {
                    format!("https://{h}")
                }
            })
            .ok_or_else(|| {
                bad_response(format!("LivePerson domain API: no baseURI for {service}"))
            })?;
        if let Ok(mut m) = self.hosts.lock() {
            m.insert(key, base.clone());
        }
        Ok(base)
    }

    async fn app_jwt(&self, i: &Integration) -> Result<super::Secret, Error> {
        let account = setting(i, "account_id")?.to_owned();
        if let Some((t, until)) = self
            .app_jwt
            .lock()
            .ok()
            .and_then(|m| m.get(&account).cloned())
        {
            if Instant::now() < until {
                return Ok(t);
            }
        }
        let sentinel = self.host(i, "sentinel").await?;
        let (id, secret) = (secret(i, "client_id")?, secret(i, "client_secret")?);
        let resp = self
            .http
            .send(Request {
                method: Method::POST,
                url: format!("{sentinel}/sentinel/api/account/{account}/app/token?v=1.0&grant_type=client_credentials"),
                headers: vec![],
                body: Body::Form(vec![("client_id".into(), id.expose().into()), ("client_secret".into(), secret.expose().into())]),
                what: "LivePerson: AppJWT".into(),
            })
            .await?;
        let v = resp.json("LivePerson sentinel")?;
        let token = v
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| bad_response("LivePerson sentinel: no access_token"))?;
        let ttl = v.get("expires_in").and_then(Json::as_u64).unwrap_or(3600);
        let token = super::Secret::new(token);
        if let Ok(mut m) = self.app_jwt.lock() {
            m.insert(
                account,
                (
                    token.clone(),
                    // An absurd `expires_in` must not overflow the clock: a day at most.
                    Instant::now() + Duration::from_secs(ttl.saturating_sub(60).min(86_400)),
                ),
            );
        }
        Ok(token)
    }

    async fn consumer_jws(
        &self,
        i: &Integration,
        consumer: &str,
        app: &super::Secret,
    ) -> Result<super::Secret, Error> {
        let account = setting(i, "account_id")?.to_owned();
        let key = (account.clone(), consumer.to_owned());
        if let Some(t) = self
            .consumers
            .lock()
            .ok()
            .and_then(|mut m| m.get(&key, Instant::now()))
        {
            return Ok(t);
        }
        let idp = self.host(i, "idp").await?;
        let resp = self
            .http
            .send(Request {
                method: Method::POST,
                url: format!("{idp}/api/account/{account}/consumer?v=1.0"),
                headers: vec![("authorization".into(), app.expose().into())],
                body: Body::Json(json!({ "ext_consumer_id": consumer })),
                what: "LivePerson: ConsumerJWS".into(),
            })
            .await?;
        let token = resp
            .json("LivePerson idp")?
            .get("token")
            .and_then(Json::as_str)
            .map(super::Secret::new)
            .ok_or_else(|| bad_response("LivePerson idp: no token"))?;
        if let Ok(mut m) = self.consumers.lock() {
            m.insert(key, token.clone(), Instant::now());
        }
        Ok(token)
    }

    async fn open_once(&self, conv: &Conversation, request: &HttpRequest) -> Result<Opened, Error> {
        let i = &conv.integration;
        let app = self.app_jwt(i).await?;
        let jws = self.consumer_jws(i, &conv.identifier, &app).await?;
        let host = self.host(i, "asyncMessagingEnt").await?;
        let what = "LivePerson: open conversation";
        // `ms.PublishEvent` needs the conversation's `dialogId`, which exists only once
        // LivePerson has answered the batch: the start message goes out after it.
        let mut batch = request.clone();
        let mut later = Vec::new();
        if let Json::Array(items) = &mut batch.body {
            let (publish, rest): (Vec<Json>, Vec<Json>) = items
                .drain(..)
                .partition(|x| x.get("type").and_then(Json::as_str) == Some("ms.PublishEvent"));
            *items = rest;
            later = publish;
        }
        let answer = self
            .http
            .send_built(
                &batch,
                &[
                    ("AppJWT", app.expose().to_owned()),
                    ("ConsumerJWS", jws.expose().to_owned()),
                ],
                Some((crate::provider::liveperson::DEFAULT_BASE, &host)),
                what,
            )
            .await?
            .json(what)?;
        let item = answer
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("reqId").and_then(Json::as_str) == Some("2,"))
            })
            .ok_or_else(|| bad_response("LivePerson: no answer to ConsumerRequestConversation"))?;
        if item.get("code").and_then(Json::as_str) != Some("OK") {
            return Err(bad_response(format!(
                "LivePerson refused the conversation: {}",
                item.get("code").unwrap_or(&Json::Null)
            )));
        }
        let id = item
            .pointer("/body/conversationId")
            .and_then(Json::as_str)
            .ok_or_else(|| bad_response("LivePerson: no conversationId"))?;
        let opened = Conversation {
            remote_id: Some(id.to_owned()),
            ..conv.clone()
        };
        for mut m in later {
            if let Some(b) = m.get_mut("body").and_then(Json::as_object_mut) {
                b.insert("dialogId".into(), Json::from(id));
            }
            // The conversation is open either way; a start message LivePerson refuses is
            // logged, not a failed hand-over.
            match self
                .call(
                    &opened,
                    "conversation/send?v=3",
                    m,
                    "LivePerson: start message",
                )
                .await
            {
                Ok(a)
                    if a.get("code")
                        .and_then(Json::as_str)
                        .is_none_or(|c| c == "OK") => {}
                Ok(a) => {
                    tracing::warn!(target: "fluxo::drivers", code = %a.get("code").unwrap_or(&Json::Null), "LivePerson refused the start message");
                }
                Err(e) => {
                    tracing::warn!(target: "fluxo::drivers", error = %e, "the start message was not sent");
                }
            }
        }
        Ok(Opened {
            remote_id: id.to_owned(),
            result: item.clone(),
        })
    }

    /// A signed download URL for a hosted file (`ms.GenerateURLForDownloadFile`, then the
    /// file on the `swift` storage host with the signature as query parameters).
    async fn download_url(&self, conv: &Conversation, path: &str) -> Result<String, Error> {
        let body = json!({ "kind": "req", "id": "1", "type": "ms.GenerateURLForDownloadFile",
            "body": { "relativePath": path } });
        let what = "LivePerson: file download URL";
        let answer = self.call(conv, "conversation/send?v=3", body, what).await?;
        let b = answer.get("body").unwrap_or(&answer);
        let rel = b.get("relativePath").and_then(Json::as_str).unwrap_or(path);
        let q = |k: &str| {
            b.pointer(&format!("/queryParams/{k}"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .ok_or_else(|| bad_response(format!("{what}: no `queryParams.{k}`")))
        };
        let (sig, exp) = (q("temp_url_sig")?, q("temp_url_expires")?);
        let host = self.host(&conv.integration, "swift").await?;
        let mut url = reqwest::Url::parse(&format!("{host}{rel}"))
            .map_err(|e| bad_response(format!("{what}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("temp_url_sig", &sig)
            .append_pair("temp_url_expires", &exp);
        Ok(url.into())
    }

    /// Forgets the tokens of an account (an expired AppJWT answers 401 before its time).
    fn forget(&self, i: &Integration, consumer: &str) {
        let Ok(account) = setting(i, "account_id") else {
            return;
        };
        if let Ok(mut m) = self.app_jwt.lock() {
            m.remove(account);
        }
        if let Ok(mut m) = self.consumers.lock() {
            m.remove(&(account.to_owned(), consumer.to_owned()));
        }
    }

    /// [`Self::call_once`], again with fresh tokens after a 401.
    async fn call(
        &self,
        conv: &Conversation,
        path: &str,
        body: Json,
        what: &str,
    ) -> Result<Json, Error> {
        match self.call_once(conv, path, body.clone(), what).await {
            Err(e) if e.status() == Some(401) => {
                self.forget(&conv.integration, &conv.identifier);
                self.call_once(conv, path, body, what).await
            }
            other => other,
        }
    }

    async fn call_once(
        &self,
        conv: &Conversation,
        path: &str,
        body: Json,
        what: &str,
    ) -> Result<Json, Error> {
        let i = &conv.integration;
        let account = setting(i, "account_id")?.to_owned();
        let app = self.app_jwt(i).await?;
        let jws = self.consumer_jws(i, &conv.identifier, &app).await?;
        let base = self.host(i, "asyncMessagingEnt").await?;
        let resp = self
            .http
            .send(Request {
                method: Method::POST,
                url: format!("{base}/api/account/{account}/messaging/consumer/{path}"),
                headers: vec![
                    ("authorization".into(), app.expose().into()),
                    ("x-lp-on-behalf".into(), jws.expose().into()),
                ],
                body: Body::Json(body),
                what: what.into(),
            })
            .await?;
        resp.json(what)
    }
}

impl Driver for LivePerson {
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            match self.open_once(conv, request).await {
                // An AppJWT LivePerson expired early: fresh tokens, once.
                Err(e) if e.status() == Some(401) => {
                    self.forget(&conv.integration, &conv.identifier);
                    self.open_once(conv, request).await
                }
                other => other,
            }
        })
    }

    fn send<'a>(
        &'a self,
        conv: &'a Conversation,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = conv
                .remote_id
                .as_deref()
                .ok_or_else(|| config("LivePerson: the conversation is not open yet"))?;
            let body = json!({ "kind": "req", "id": "1", "type": "ms.PublishEvent",
                "body": { "dialogId": id, "event": { "type": "ContentEvent", "contentType": "text/plain", "message": text } } });
            self.call(conv, "conversation/send?v=3", body, "LivePerson: send")
                .await
                .map(drop)
        })
    }

    fn typing<'a>(
        &'a self,
        conv: &'a Conversation,
        typing: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(id) = conv.remote_id.as_deref() else {
                return Ok(());
            };
            let state = if typing { "COMPOSING" } else { "ACTIVE" };
            let body = json!({ "kind": "req", "id": "1", "type": "ms.PublishEvent",
                "body": { "dialogId": id, "event": { "type": "ChatStateEvent", "chatState": state } } });
            self.call(conv, "conversation/send?v=3", body, "LivePerson: typing")
                .await
                .map(drop)
        })
    }

    fn close<'a>(&'a self, conv: &'a Conversation) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(id) = conv.remote_id.as_deref() else {
                return Ok(());
            };
            let body = json!({ "kind": "req", "id": "1,", "type": "cm.UpdateConversationField",
                "body": { "conversationId": id, "conversationField": [ { "field": "ConversationStateField", "conversationState": "CLOSE" } ] } });
            self.call(conv, "conversation/send?v=3", body, "LivePerson: close")
                .await
                .map(drop)
        })
    }

    fn prepare<'a>(
        &'a self,
        conv: &'a Conversation,
        event: Event,
    ) -> BoxFuture<'a, Result<Event, Error>> {
        Box::pin(async move {
            let Event::AgentFile {
                url,
                name,
                mime_type,
            } = event
            else {
                return Ok(event);
            };
            let Some(path) = url.strip_prefix(HOSTED) else {
                return Ok(Event::AgentFile {
                    url,
                    name,
                    mime_type,
                });
            };
            let url = self.download_url(conv, path).await?;
            Ok(Event::AgentFile {
                url,
                name,
                mime_type,
            })
        })
    }

    fn webhook(
        &self,
        i: &Integration,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Vec<Inbound>, Error> {
        // LivePerson signs webhooks with the app installation's client secret; `app_secret`
        // is still read, for integrations files written before that was known.
        let key = if i.settings.contains_key("app_secret") {
            "app_secret"
        } else {
            "client_secret"
        };
        let app_secret = super::webhook_secret(i, key)?;
        let sig = super::required_header(headers, "x-liveperson-signature")?;
        let expected = if sig.starts_with("sha256=") {
            super::signature::liveperson_sha256(app_secret.expose(), body)
        } else {
            super::signature::liveperson(app_secret.expose(), body)
        };
        super::verify(sig, &expected, "X-Liveperson-Signature")?;
        if let (Some(got), Ok(account)) = (
            header(headers, "x-liveperson-account-id"),
            setting(i, "account_id"),
        ) {
            super::verify(got, account, "X-Liveperson-Account-Id")?;
        }
        let v = json_body(body)?;
        let kind = v.get("type").and_then(Json::as_str).unwrap_or_default();
        let changes = v
            .pointer("/body/changes")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for c in changes {
            match kind {
                "ms.MessagingEventNotification" => {
                    // LivePerson's own examples carry only `dialogId` (equal to the
                    // conversation id for the main dialog).
                    let conv = c
                        .get("conversationId")
                        .or_else(|| c.get("dialogId"))
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    // Private lines between agents and managers never reach the customer.
                    // LivePerson's events page puts `messageAudience` beside the event;
                    // older payloads put it inside.
                    let audience = c
                        .get("messageAudience")
                        .or_else(|| c.pointer("/event/messageAudience"))
                        .and_then(Json::as_str);
                    if audience == Some("AGENTS_AND_MANAGERS") {
                        continue;
                    }
                    let role = c
                        .pointer("/originatorMetadata/role")
                        .and_then(Json::as_str)
                        .unwrap_or_default();
                    if role != "ASSIGNED_AGENT" {
                        continue; // our own consumer messages come back too
                    }
                    let participant = c
                        .pointer("/originatorMetadata/id")
                        .or_else(|| c.get("originatorId"))
                        .and_then(Json::as_str)
                        .unwrap_or("agent")
                        .to_owned();
                    let seq = c.get("sequence").map_or_else(
                        || super::body_key(c.to_string().as_bytes()),
                        Json::to_string,
                    );
                    let event = match c.pointer("/event/type").and_then(Json::as_str) {
                        Some("ContentEvent") => content_event(&c),
                        Some("RichContentEvent") => Event::AgentMessage {
                            text: String::new(),
                            // The schema names it `message`; LivePerson's guides, `content`.
                            content: c
                                .pointer("/event/content")
                                .or_else(|| c.pointer("/event/message"))
                                .cloned(),
                        },
                        Some("AcceptStatusEvent") => join(i, &participant),
                        Some("ChatStateEvent") => Event::AgentTyping {
                            typing: c.pointer("/event/chatState").and_then(Json::as_str)
                                == Some("COMPOSING"),
                        },
                        _ => continue,
                    };
                    let dedupe = match &event {
                        Event::AgentJoin { .. } => format!("lp:{conv}:join:{participant}"),
                        // Chat states carry no sequence and repeat (COMPOSING, ACTIVE,
                        // COMPOSING): each delivery counts; a repeated one changes nothing.
                        Event::AgentTyping { .. } if c.get("sequence").is_none() => {
                            format!("lp:{conv}:state:{}", jiff::Timestamp::now().as_nanosecond())
                        }
                        _ => format!("lp:{conv}:seq:{seq}"),
                    };
                    out.push(Inbound {
                        remote_id: conv,
                        dedupe,
                        event,
                    });
                }
                "cqm.ExConversationChangeNotification" => {
                    let r = c.get("result").cloned().unwrap_or(Json::Null);
                    let conv = r
                        .get("convId")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let d = r.get("conversationDetails").cloned().unwrap_or(Json::Null);
                    if d.get("state").and_then(Json::as_str) == Some("CLOSE") {
                        let reason = d
                            .get("closeReason")
                            .and_then(Json::as_str)
                            .unwrap_or("SYSTEM")
                            .to_owned();
                        let event = match reason.as_str() {
                            "AGENT" => Event::AgentClose {
                                wrap_up: Some(reason.clone()),
                            },
                            "CONSUMER" => Event::UserClose {
                                reason: Some(reason.clone()),
                            },
                            _ => Event::ProviderClosed {
                                status: CloseStatus::UserInactivityTimeout,
                                reason: Some(reason.clone()),
                            },
                        };
                        out.push(Inbound {
                            remote_id: conv.clone(),
                            dedupe: format!("lp:{conv}:close"),
                            event,
                        });
                    } else {
                        for p in d
                            .get("participants")
                            .and_then(Json::as_array)
                            .into_iter()
                            .flatten()
                        {
                            // Only the agent who holds the conversation has joined: a
                            // participant in `SUGGESTED` state has only been offered it.
                            let active = p
                                .get("state")
                                .and_then(Json::as_str)
                                .is_none_or(|s| s == "ACTIVE");
                            if p.get("role").and_then(Json::as_str) == Some("ASSIGNED_AGENT")
                                && active
                            {
                                let participant =
                                    p.get("id").and_then(Json::as_str).unwrap_or("agent");
                                out.push(Inbound {
                                    remote_id: conv.clone(),
                                    dedupe: format!("lp:{conv}:join:{participant}"),
                                    event: join(i, participant),
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The join of participant `id`. LivePerson's notifications name agents only by an opaque
/// participant id and the Connector API has no profile request, so the name shown is the
/// integration's `settings.agent_display_name` (default `agent`). Participants named in
/// `settings.bot_participants` (`{ "participant id": "display name" }`: LivePerson's own bots
/// join as assigned agents too) are announced as `BOT`, with that name.
fn join(i: &Integration, id: &str) -> Event {
    let bot = i
        .settings
        .get("bot_participants")
        .and_then(|b| b.get(id))
        .map(|n| n.as_str().unwrap_or("bot").to_owned());
    let name = bot.clone().unwrap_or_else(|| {
        i.settings
            .get("agent_display_name")
            .and_then(Json::as_str)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or("agent")
            .to_owned()
    });
    Event::AgentJoin {
        name,
        avatar: None,
        representative_type: bot.map(|_| crate::domain::RepresentativeType::Bot),
    }
}

/// The marker a hosted file's event carries until [`LivePerson`] signs its download URL.
const HOSTED: &str = "liveperson-hosted:";

/// An agent's `ContentEvent`: text, or a hosted file (`hosted/file`, whose `message` is an
/// object with `caption`, `relativePath` and `fileType`).
fn content_event(c: &Json) -> Event {
    let message = c.pointer("/event/message");
    let content_type = c
        .pointer("/event/contentType")
        .and_then(Json::as_str)
        .unwrap_or("text/plain");
    match message {
        // The docs say `hosted/file`; the schema's default is `HostedFile`.
        Some(Json::Object(m))
            if content_type.eq_ignore_ascii_case("hosted/file")
                || content_type.eq_ignore_ascii_case("HostedFile") =>
        {
            let text = |k: &str| m.get(k).and_then(Json::as_str).map(str::to_owned);
            Event::AgentFile {
                url: format!("{HOSTED}{}", text("relativePath").unwrap_or_default()),
                name: text("caption").filter(|c| !c.is_empty()),
                mime_type: text("fileType").map(|t| file_type(&t)),
            }
        }
        Some(Json::String(t)) => Event::AgentMessage {
            text: t.clone(),
            content: None,
        },
        // Another kind of content (a secure form, an external file): passed to the channel.
        other => Event::AgentMessage {
            text: String::new(),
            content: other.cloned(),
        },
    }
}

/// LivePerson's `fileType` as a media type.
fn file_type(t: &str) -> String {
    match t.to_ascii_uppercase().as_str() {
        "JPG" | "JPEG" => "image/jpeg".into(),
        "PNG" => "image/png".into(),
        "GIF" => "image/gif".into(),
        "IMG" => "image/*".into(),
        "PDF" => "application/pdf".into(),
        "TXT" => "text/plain".into(),
        other => format!("application/{}", other.to_ascii_lowercase()),
    }
}
