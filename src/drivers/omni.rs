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
    /// (base, login) → the bearer token `/Login/loginApi` gave, and until when it is used.
    tokens: std::sync::Mutex<
        std::collections::HashMap<(String, String), (super::Secret, std::time::Instant)>,
    >,
}

/// How long a login token is reused. Omni's docs do not give its lifetime (assumed); a 401
/// logs in again at once.
const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

fn base(i: &Integration) -> String {
    super::base_url(i, crate::provider::omni::DEFAULT_BASE)
}

impl Omni {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        Omni {
            http,
            tokens: std::sync::Mutex::default(),
        }
    }

    /// `Authorization: Bearer` from `POST {base}/Login/loginApi` (`settings.login` and
    /// `settings.password`), which Omni's integration APIs need besides `x-api-key`. `None`
    /// when the integration has no `login` (older configurations: `x-api-key` alone).
    async fn bearer(&self, i: &Integration, fresh: bool) -> Result<Option<super::Secret>, Error> {
        let Some(login) = i.settings.get("login").and_then(Json::as_str) else {
            return Ok(None);
        };
        let key = (base(i), login.to_owned());
        if !fresh {
            if let Some((t, until)) = self.tokens.lock().ok().and_then(|m| m.get(&key).cloned()) {
                if std::time::Instant::now() < until {
                    return Ok(Some(t));
                }
            }
        }
        let password = secret(i, "password")?;
        let what = "Omni: login";
        let v = self
            .http
            .json(
                Method::POST,
                format!("{}/Login/loginApi", base(i)),
                ("x-api-key", secret(i, "api_key")?.expose().into()),
                json!({ "login": login, "password": password.expose() }),
                what,
            )
            .await?
            .json(what)?;
        // The answer's shape is not documented beyond "a token" (assumed field names).
        let token = ["token", "access_token", "accessToken"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Json::as_str))
            .ok_or_else(|| bad_response("Omni: the login answer has no token"))?;
        let token = super::Secret::new(token);
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(key, (token.clone(), std::time::Instant::now() + TOKEN_TTL));
        }
        Ok(Some(token))
    }

    async fn post(
        &self,
        i: &Integration,
        path: &str,
        body: Json,
        what: &str,
    ) -> Result<super::http::Response, Error> {
        let key = secret(i, "api_key")?;
        let mut fresh = false;
        loop {
            let mut headers = vec![("x-api-key".to_owned(), key.expose().to_owned())];
            if let Some(t) = self.bearer(i, fresh).await? {
                headers.push(("authorization".into(), format!("Bearer {}", t.expose())));
            }
            let r = self
                .http
                .send(super::http::Request {
                    method: Method::POST,
                    url: format!("{}{path}", base(i)),
                    headers,
                    body: super::http::Body::Json(body.clone()),
                    what: what.into(),
                })
                .await;
            match r {
                // An expired token: log in again, once.
                Err(e) if !fresh && e.status() == Some(401) && i.settings.contains_key("login") => {
                    fresh = true;
                }
                other => return other,
            }
        }
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
            let mut fresh = false;
            let v = loop {
                let mut request = request.clone();
                if let Some(t) = self.bearer(&conv.integration, fresh).await? {
                    request.headers.push((
                        "Authorization".into(),
                        crate::domain::http::HeaderValue::Text(format!("Bearer {}", t.expose())),
                    ));
                }
                let r = self
                    .http
                    .send_built(
                        &request,
                        &[("api_key", key.expose().to_owned())],
                        None,
                        what,
                    )
                    .await;
                match r {
                    // An expired token: log in again, once (as messages and closes do).
                    Err(e)
                        if !fresh
                            && e.status() == Some(401)
                            && conv.integration.settings.contains_key("login") =>
                    {
                        fresh = true;
                    }
                    other => break other?.json(what)?,
                }
            };
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
                    representative_type: None,
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
                        content: None,
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
