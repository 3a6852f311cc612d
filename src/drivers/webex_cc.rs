//! Webex Contact Center through the "Bring Your Own Custom Messaging Channel" middleware. The
//! digital Create Task API is in beta and unpublished, so the shapes are assumed (documented in
//! `docs/providers.md`): open `POST {base}/v1/tasks` → `{"id": taskId}`; user messages
//! `POST {base}/v1/tasks/{id}/messages`; close `POST {base}/v1/tasks/{id}/end`; bearer token from
//! `settings.access_token`. Webhooks are signed `X-Spark-Signature: hex(HMAC-SHA1(secret, body))`
//! (Webex's webhook convention). Events: `task:connect` (agent joined), `agent:message`,
//! `task:ended` — `terminatingParty` Agent → `agent_closed`, Customer → `user_closed`, System →
//! `timeout`; a `RONA Timer Expired` end re-queues the task and does **not** end the chat. The
//! wrap-up reason is kept as the close reason.

use super::http::Http;
use super::{
    bad_request, bad_response, config, json_body, secret, BoxFuture, Conversation, Driver, Error,
    Headers, Inbound, Opened,
};
use crate::domain::http::HttpRequest;
use crate::domain::{CloseStatus, Event};
use crate::model::Integration;
use reqwest::Method;
use serde_json::{json, Value as Json};

/// The Webex Contact Center driver.
pub struct WebexCc {
    http: Http,
}

fn base(i: &Integration) -> String {
    super::base_url(i, crate::provider::webex_cc::DEFAULT_BASE)
}

impl WebexCc {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        WebexCc { http }
    }

    async fn post(
        &self,
        i: &Integration,
        path: &str,
        body: Json,
        what: &str,
    ) -> Result<super::http::Response, Error> {
        let token = secret(i, "access_token")?;
        self.http
            .json(
                Method::POST,
                format!("{}{path}", base(i)),
                ("authorization", format!("Bearer {}", token.expose())),
                body,
                what,
            )
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
            let token = secret(&conv.integration, "access_token")?;
            let what = "Webex: create task";
            let v = self
                .http
                .send_built(
                    request,
                    &[("access_token", token.expose().to_owned())],
                    None,
                    what,
                )
                .await?
                .json(what)?;
            // The public `POST /v1/tasks` answers `{"meta": …, "data": {"id": …}}`.
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
            let id = conv
                .remote_id
                .as_deref()
                .ok_or_else(|| config("Webex: the task is not open yet"))?;
            self.post(
                &conv.integration,
                &format!("/v1/tasks/{id}/messages"),
                json!({ "text": text }),
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
            self.post(
                &conv.integration,
                &format!("/v1/tasks/{id}/end"),
                json!({}),
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
        let sig = super::required_header(headers, "x-spark-signature")?.to_ascii_lowercase();
        super::verify(
            &sig,
            &super::signature::webex(s.expose(), body),
            "X-Spark-Signature",
        )?;
        let v = json_body(body)?;
        let eid = v
            .get("id")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| super::body_key(body), str::to_owned);
        let d = v.get("data").cloned().unwrap_or(Json::Null);
        let task = d
            .get("taskId")
            .and_then(Json::as_str)
            .ok_or_else(|| bad_request("no `data.taskId`"))?
            .to_owned();
        let reason = d
            .get("wrapUpReason")
            .or_else(|| d.get("reason"))
            .and_then(Json::as_str)
            .map(str::to_owned);
        let event = match v.get("type").and_then(Json::as_str) {
            Some("task:connect") => Event::AgentJoin {
                name: d
                    .get("agentName")
                    .or_else(|| v.get("person"))
                    .and_then(Json::as_str)
                    .unwrap_or("agent")
                    .to_owned(),
                avatar: None,
                representative_type: None,
            },
            Some("agent:message") => Event::AgentMessage {
                text: d
                    .get("text")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                content: None,
            },
            Some("task:ended") => {
                let raw = d.get("reason").and_then(Json::as_str).unwrap_or_default();
                match d.get("terminatingParty").and_then(Json::as_str) {
                    // Ring-no-answer: the task goes back to the queue; the chat goes on.
                    Some("System") if raw.contains("RONA") => return Ok(vec![]),
                    Some("Agent") => Event::AgentClose { wrap_up: reason },
                    Some("Customer") => Event::UserClose {
                        reason: reason.or(Some("Customer".into())),
                    },
                    _ => Event::ProviderClosed {
                        status: CloseStatus::Timeout,
                        reason,
                    },
                }
            }
            _ => return Ok(vec![]),
        };
        Ok(vec![Inbound {
            remote_id: task,
            dedupe: format!("webex:{eid}"),
            event,
        }])
    }
}
