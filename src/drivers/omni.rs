//! Omni (Digital Contact / Ligo Omni). The public docs stop at the bot's "Humano" block and an
//! `x-api-key` per channel, so the whole exchange is assumed (documented in `docs/providers.md`):
//! open `POST {base}/integration/attendance` → `{"id": …}`; user messages
//! `POST {base}/integration/attendance/{id}/messages`; close `POST …/{id}/close`. Webhooks carry
//! `x-api-key` equal to `settings.webhook_secret` and `{"event", "attendanceId", "agent":
//! {"name"}, "message": {"id", "text"}, "reason"}` with events `agent_joined`, `agent_message`,
//! `transferred`, `finished` (by the agent), `abandoned` (Omni's "Tempo Abandono" →
//! `user_inactivity_timeout`).

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

/// The Omni driver.
pub struct Omni {
    http: Http,
}

fn base(i: &Integration) -> String {
    super::base_url(i, crate::provider::omni::DEFAULT_BASE)
}

impl Omni {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        Omni { http }
    }

    async fn post(
        &self,
        i: &Integration,
        path: &str,
        body: Json,
        what: &str,
    ) -> Result<super::http::Response, Error> {
        let key = secret(i, "api_key")?;
        self.http
            .json(
                Method::POST,
                format!("{}{path}", base(i)),
                ("x-api-key", key.expose().into()),
                body,
                what,
            )
            .await
    }
}

impl Driver for Omni {
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            let key = secret(&conv.integration, "api_key")?;
            let what = "Omni: open attendance";
            let v = self
                .http
                .send_built(request, &[("api_key", key.expose().to_owned())], None, what)
                .await?
                .json(what)?;
            let id = v
                .get("id")
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .ok_or_else(|| bad_response("Omni: no attendance id"))?;
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
                .ok_or_else(|| config("Omni: the attendance is not open yet"))?;
            self.post(
                &conv.integration,
                &format!("/integration/attendance/{id}/messages"),
                json!({ "text": text }),
                "Omni: message",
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
                &format!("/integration/attendance/{id}/close"),
                json!({}),
                "Omni: close",
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
        super::verify(
            super::required_header(headers, "x-api-key")?,
            s.expose(),
            "x-api-key",
        )?;
        let v = json_body(body)?;
        let id = v
            .get("attendanceId")
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .ok_or_else(|| bad_request("no `attendanceId`"))?;
        let agent = v
            .pointer("/agent/name")
            .and_then(Json::as_str)
            .unwrap_or("agent")
            .to_owned();
        let reason = v.get("reason").and_then(Json::as_str).map(str::to_owned);
        let kind = v.get("event").and_then(Json::as_str).unwrap_or_default();
        let (event, dedupe) = match kind {
            "agent_joined" => (
                Event::AgentJoin {
                    name: agent.clone(),
                    avatar: None,
                },
                format!("omni:{id}:join:{agent}"),
            ),
            "agent_message" => {
                let mid = v
                    .pointer("/message/id")
                    .filter(|x| !x.is_null())
                    .map_or_else(|| super::body_key(body), Json::to_string);
                (
                    Event::AgentMessage {
                        text: v
                            .pointer("/message/text")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    },
                    format!("omni:{id}:msg:{mid}"),
                )
            }
            "transferred" => (
                Event::AgentTransfer {
                    to: v
                        .get("to")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                },
                format!("omni:{id}:transfer:{}", super::body_key(body)),
            ),
            "finished" => (
                Event::AgentClose { wrap_up: reason },
                format!("omni:{id}:end"),
            ),
            "abandoned" => (
                Event::ProviderClosed {
                    status: CloseStatus::UserInactivityTimeout,
                    reason: reason.or(Some("abandoned".into())),
                },
                format!("omni:{id}:end"),
            ),
            other => return Err(bad_request(format!("unknown event `{other}`"))),
        };
        Ok(vec![Inbound {
            remote_id: id,
            dedupe,
            event,
        }])
    }
}
