//! Webex Contact Center, in the integration's `settings.mode` (`callback` or `digital`; the
//! request builders and `docs/providers.md` say what each sends).
//!
//! - `callback` (the public API): open is `POST {base}/v1/tasks` with a `CreateTaskRequest` for a
//!   telephony `CALLBACK`; the task id is the `CreateTaskResponse`'s `data.id`. There is no chat:
//!   what the user types while the callback is pending cannot reach the agent, so it is
//!   acknowledged and dropped with a log line (a refusal would end the chat with `error` and
//!   leave a callback the bot no longer waits for). The bot's close is `POST
//!   {base}/v1/tasks/{id}/end`, which takes no body.
//! - `digital` (the default; Cisco's private BYO-channel beta, assumed shapes): the same open
//!   with a chat task, user messages to `POST {base}/v1/tasks/{id}/messages` as `{"text"}`, the
//!   same close.
//!
//! Authentication: `Bearer` + `settings.access_token`; or, with `settings.refresh_token`,
//! `client_id` and `client_secret`, an access token from Webex's token endpoint
//! (`POST https://webexapis.com/v1/access_token`, `grant_type=refresh_token`; `settings.token_url`
//! overrides it), cached until a minute before its `expires_in`. A 401 from the API gets a fresh
//! token and the call is made again, once. A refresh token Webex rotates is kept in memory.
//!
//! Webhooks are Contact Center subscription deliveries: `X-WebexCC-Signature` is
//! `hex(HMAC-SHA256(webhook_secret, raw body))`. Subscriptions of version 2 also send
//! `X-WebExCC-Timestamp`, which must equal the body's `comciscotimestamp`; a body timestamp more
//! than 5 minutes away from now is a replay and is refused (Cisco's sample uses 5 minutes). The
//! envelope is CloudEvents-like (`id`, `type`, `source`, `data`). Events: `task:connected` →
//! join (once per task); `task:ended` — `terminatingParty` Agent → `agent_closed` (wrap-up reason kept),
//! Customer → `user_closed`, System → `timeout`, but a `RONA` end re-queues the task and does
//! **not** end the chat; `task:failed` → `error`. Digital mode only (assumed beta events):
//! `task:connect` → join, `agent:message` → agent message.

use super::http::{Body, Http, Request, Response};
use super::{
    bad_request, bad_response, config, json_body, secret, BoxFuture, Conversation, Driver, Error,
    Headers, Inbound, Opened, Secret,
};
use crate::domain::http::HttpRequest;
use crate::domain::{CloseStatus, Event};
use crate::model::Integration;
use crate::provider::webex_cc::{callback_problem, Mode};
use reqwest::Method;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Webex's OAuth token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://webexapis.com/v1/access_token";

/// How far a signed webhook timestamp may be from now (either way), in milliseconds.
pub const WEBHOOK_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The tokens of one integration that refreshes them.
#[derive(Default)]
struct Tokens {
    /// The access token and when to stop using it.
    access: Option<(Secret, Instant)>,
    /// The refresh token Webex last returned, when it differs from the configured one.
    refresh: Option<Secret>,
}

/// The Webex Contact Center driver.
pub struct WebexCc {
    http: Http,
    /// integration id → tokens.
    tokens: Mutex<HashMap<String, Tokens>>,
}

fn base(i: &Integration) -> String {
    super::base_url(i, crate::provider::webex_cc::DEFAULT_BASE)
}

fn mode(i: &Integration) -> Result<Mode, Error> {
    Mode::of(&i.settings).ok_or_else(|| {
        config(format!(
            "integration {}: `settings.mode` must be \"callback\" or \"digital\"",
            i.id
        ))
    })
}

/// Whether the integration refreshes its access token.
fn refreshes(i: &Integration) -> bool {
    i.settings.contains_key("refresh_token")
}

impl WebexCc {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        WebexCc {
            http,
            tokens: Mutex::default(),
        }
    }

    /// The access token to send: `settings.access_token`, or a refreshed one.
    async fn token(&self, i: &Integration) -> Result<Secret, Error> {
        if !refreshes(i) {
            return secret(i, "access_token");
        }
        let (cached, rotated) = match self.tokens.lock() {
            Ok(m) => m.get(&i.id).map_or((None, None), |t| {
                (
                    t.access
                        .as_ref()
                        .filter(|(_, until)| Instant::now() < *until)
                        .map(|(s, _)| s.clone()),
                    t.refresh.clone(),
                )
            }),
            Err(_) => (None, None),
        };
        if let Some(t) = cached {
            return Ok(t);
        }
        let refresh = match rotated {
            Some(r) => r,
            None => secret(i, "refresh_token")?,
        };
        let (id, client_secret) = (secret(i, "client_id")?, secret(i, "client_secret")?);
        let url = i
            .settings
            .get("token_url")
            .and_then(Json::as_str)
            .unwrap_or(DEFAULT_TOKEN_URL)
            .to_owned();
        let v = self
            .http
            .send(Request {
                method: Method::POST,
                url,
                headers: vec![],
                body: Body::Form(vec![
                    ("grant_type".into(), "refresh_token".into()),
                    ("client_id".into(), id.expose().into()),
                    ("client_secret".into(), client_secret.expose().into()),
                    ("refresh_token".into(), refresh.expose().into()),
                ]),
                what: "Webex: refresh the access token".into(),
            })
            .await?
            .json("Webex token endpoint")?;
        let token = v
            .get("access_token")
            .and_then(Json::as_str)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| bad_response("Webex token endpoint: no access_token"))?;
        let ttl = v.get("expires_in").and_then(Json::as_u64).unwrap_or(3600);
        let rotated = v
            .get("refresh_token")
            .and_then(Json::as_str)
            .filter(|r| !r.is_empty() && *r != refresh.expose())
            .map(Secret::new);
        if let Ok(mut m) = self.tokens.lock() {
            let t = m.entry(i.id.clone()).or_default();
            // `expires_in` is the provider's number: an absurd one must not overflow the clock.
            let now = Instant::now();
            let until = now
                .checked_add(Duration::from_secs(ttl.saturating_sub(60)))
                .unwrap_or(now);
            t.access = Some((token.clone(), until));
            if rotated.is_some() {
                t.refresh = rotated;
            }
        }
        Ok(token)
    }

    /// Forgets the access token of an integration (Webex answered 401 before its time).
    fn forget(&self, i: &Integration) {
        if let Ok(mut m) = self.tokens.lock() {
            if let Some(t) = m.get_mut(&i.id) {
                t.access = None;
            }
        }
    }

    /// Runs `call` with a token; after a 401, with a fresh token once, when the integration
    /// can refresh it (a fixed `access_token` would only fail again).
    async fn authorised<F, Fut>(&self, i: &Integration, call: F) -> Result<Response, Error>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<Response, Error>>,
    {
        match call(self.token(i).await?).await {
            Err(e) if e.status() == Some(401) && refreshes(i) => {
                self.forget(i);
                call(self.token(i).await?).await
            }
            other => other,
        }
    }

    async fn post(
        &self,
        i: &Integration,
        path: &str,
        body: Body,
        what: &str,
    ) -> Result<Response, Error> {
        let url = format!("{}{path}", base(i));
        self.authorised(i, |token| {
            self.http.send(Request {
                method: Method::POST,
                url: url.clone(),
                headers: vec![("authorization".into(), format!("Bearer {}", token.expose()))],
                body: body.clone(),
                what: what.into(),
            })
        })
        .await
    }
}

impl Driver for WebexCc {
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            let i = &conv.integration;
            if mode(i)? == Mode::Callback {
                if let Some(problem) = callback_problem(&request.body) {
                    return Err(config(problem));
                }
            }
            let what = "Webex: create task";
            let v = self
                .authorised(i, |token| async move {
                    self.http
                        .send_built(
                            request,
                            &[("access_token", token.expose().to_owned())],
                            None,
                            what,
                        )
                        .await
                })
                .await?
                .json(what)?;
            // `CreateTaskResponse`: `{"meta": …, "data": {"id": …}}`.
            let id = v
                .pointer("/data/id")
                .or_else(|| v.get("id"))
                .and_then(Json::as_str)
                .ok_or_else(|| bad_response("Webex: no task id (`data.id`)"))?
                .to_owned();
            Ok(Opened {
                remote_id: id,
                result: v,
            })
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
                .ok_or_else(|| config("Webex: the task is not open yet"))?;
            if mode(i)? == Mode::Callback {
                // A callback is a phone call: there is nowhere to put a message. The text is
                // personal data, so only its size is logged.
                tracing::info!(target: "fluxo::drivers", integration = %i.id, task = %id, chars = text.chars().count(), "Webex callback: the user's message cannot reach the agent and was dropped");
                return Ok(());
            }
            self.post(
                i,
                &format!("/v1/tasks/{id}/messages"),
                Body::Json(json!({ "text": text })),
                "Webex: message",
            )
            .await
            .map(drop)
        })
    }

    fn close<'a>(&'a self, conv: &'a Conversation) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(id) = conv.remote_id.as_deref() else {
                return Ok(());
            };
            // The public End Task takes no request body.
            self.post(
                &conv.integration,
                &format!("/v1/tasks/{id}/end"),
                Body::Empty,
                "Webex: end task",
            )
            .await
            .map(drop)
        })
    }

    fn webhook(
        &self,
        i: &Integration,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Vec<Inbound>, Error> {
        let s = super::webhook_secret(i, "webhook_secret")?;
        verify(
            s.expose(),
            headers,
            body,
            jiff::Timestamp::now().as_millisecond(),
        )?;
        let mode = mode(i)?;
        let v = json_body(body)?;
        let d = v.get("data").cloned().unwrap_or(Json::Null);
        let text = |k: &str| d.get(k).and_then(Json::as_str).filter(|s| !s.is_empty());
        let reason = text("wrapUpReason")
            .or_else(|| text("reason"))
            .map(str::to_owned);
        let event = match (v.get("type").and_then(Json::as_str), mode) {
            (Some("task:connected"), _) | (Some("task:connect"), Mode::Digital) => {
                Event::AgentJoin {
                    name: text("agentName").unwrap_or("agent").to_owned(),
                    avatar: None,
                    representative_type: None,
                }
            }
            (Some("agent:message"), Mode::Digital) => Event::AgentMessage {
                text: text("text").unwrap_or_default().to_owned(),
                content: None,
            },
            (Some("task:ended"), _) => match text("terminatingParty") {
                // Ring-no-answer: the task goes back to the queue; the chat goes on.
                Some("System") if text("reason").is_some_and(|r| r.contains("RONA")) => {
                    return Ok(vec![])
                }
                Some("Agent") => Event::AgentClose { wrap_up: reason },
                Some("Customer") => Event::UserClose {
                    reason: reason.or(Some("Customer".into())),
                },
                _ => Event::ProviderClosed {
                    status: CloseStatus::Timeout,
                    reason,
                },
            },
            (Some("task:failed"), _) => Event::ProviderClosed {
                status: CloseStatus::Error,
                reason,
            },
            // Other subscribed events (agent state, holds, consults) change nothing here.
            _ => return Ok(vec![]),
        };
        let task = text("taskId")
            .ok_or_else(|| bad_request("no `data.taskId`"))?
            .to_owned();
        let dedupe = if matches!(event, Event::AgentJoin { .. }) {
            // A task joins once: digital mode reads both `task:connect` and `task:connected`,
            // and a second join would look like a second agent in the chat.
            format!("webex:{task}:join")
        } else {
            let eid = v
                .get("id")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| super::body_key(body), str::to_owned);
            format!("webex:{eid}")
        };
        Ok(vec![Inbound {
            remote_id: task,
            dedupe,
            event,
        }])
    }
}

/// Checks a Contact Center webhook: `X-WebexCC-Signature` over the raw bytes, then, when the
/// delivery carries a timestamp (subscriptions of version 2), that the header's equals the
/// signed body's and that it is within [`WEBHOOK_TOLERANCE_MS`] of `now_ms`.
fn verify(secret: &str, headers: &Headers, body: &[u8], now_ms: i64) -> Result<(), Error> {
    let sig = super::required_header(headers, "x-webexcc-signature")?
        .trim()
        .to_ascii_lowercase();
    super::verify(
        &sig,
        &super::signature::webex_cc(secret, body),
        "X-WebexCC-Signature",
    )?;
    let millis = |v: &Json| match v {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let in_body = match json_body(body)?.get("comciscotimestamp") {
        None | Some(Json::Null) => None,
        Some(t) => Some(millis(t).ok_or_else(|| {
            super::unauthorized("`comciscotimestamp` is not a time in milliseconds")
        })?),
    };
    let in_header = match super::header(headers, "x-webexcc-timestamp") {
        None => None,
        Some(h) => Some(h.trim().parse::<i64>().map_err(|_| {
            super::unauthorized("X-WebExCC-Timestamp is not a time in milliseconds")
        })?),
    };
    let at = match (in_header, in_body) {
        (Some(h), Some(b)) if h == b => h,
        (Some(_), _) => {
            return Err(super::unauthorized(
                "X-WebExCC-Timestamp does not match the body's `comciscotimestamp`",
            ))
        }
        // The body is signed, so its timestamp is checked even without the header.
        (None, Some(b)) => b,
        // A version 1 subscription: no timestamp to check.
        (None, None) => return Ok(()),
    };
    let skew = now_ms.saturating_sub(at).saturating_abs();
    if skew > WEBHOOK_TOLERANCE_MS {
        return Err(super::unauthorized(format!(
            "the webhook was signed {} s away from now (more than {} s): a replayed or delayed delivery",
            skew / 1000,
            WEBHOOK_TOLERANCE_MS / 1000
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-secret-of-at-least-thirty-two-chars";

    fn signed(body: &str, ts: Option<&str>) -> Headers {
        let mut h = vec![(
            "x-webexcc-signature".to_owned(),
            super::super::signature::webex_cc(SECRET, body.as_bytes()),
        )];
        if let Some(t) = ts {
            h.push(("x-webexcc-timestamp".to_owned(), t.to_owned()));
        }
        h
    }

    #[test]
    fn signatures_and_timestamps() {
        let now = 1_795_453_200_000_i64;
        let v1 = r#"{"id":"e1","type":"task:ended","data":{"taskId":"t"}}"#;
        assert!(verify(SECRET, &signed(v1, None), v1.as_bytes(), now).is_ok());
        let upper: Headers = signed(v1, None)
            .into_iter()
            .map(|(k, v)| (k, v.to_ascii_uppercase()))
            .collect();
        assert!(
            verify(SECRET, &upper, v1.as_bytes(), now).is_ok(),
            "hex in capitals"
        );
        assert!(verify("another-secret", &signed(v1, None), v1.as_bytes(), now).is_err());
        assert!(
            verify(SECRET, &Vec::new(), v1.as_bytes(), now).is_err(),
            "missing"
        );

        let v2 = format!(r#"{{"id":"e2","comciscotimestamp":{now},"data":{{}}}}"#);
        let ts = now.to_string();
        assert!(verify(SECRET, &signed(&v2, Some(&ts)), v2.as_bytes(), now + 1000).is_ok());
        assert!(
            verify(
                SECRET,
                &signed(&v2, Some(&ts)),
                v2.as_bytes(),
                now + 301_000
            )
            .is_err(),
            "a replay six minutes later"
        );
        assert!(
            verify(
                SECRET,
                &signed(&v2, Some(&ts)),
                v2.as_bytes(),
                now - 301_000
            )
            .is_err(),
            "from the future"
        );
        assert!(
            verify(SECRET, &signed(&v2, None), v2.as_bytes(), now + 301_000).is_err(),
            "the signed body's timestamp counts without the header"
        );
        let other = (now + 1).to_string();
        assert!(
            verify(SECRET, &signed(&v2, Some(&other)), v2.as_bytes(), now).is_err(),
            "header and body disagree"
        );
        assert!(verify(SECRET, &signed(&v2, Some("soon")), v2.as_bytes(), now).is_err());
        let text_ts = format!(r#"{{"id":"e3","comciscotimestamp":"{now}"}}"#);
        assert!(
            verify(
                SECRET,
                &signed(&text_ts, Some(&ts)),
                text_ts.as_bytes(),
                now
            )
            .is_ok(),
            "Cisco's examples write the body timestamp as a string"
        );
        assert!(
            verify(SECRET, &signed(&v2, Some(&ts)), b"{not json", now).is_err(),
            "a body that is not what was signed"
        );
    }
}
