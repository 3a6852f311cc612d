//! ALTU Connector (Agent Connector API), e.g. Tech4Humans.
//!
//! Every request to the live chat's webhook (`settings.webhook_url`) is
//! `{action, conversationID, identifier, parameters, timestamp}` with a fresh
//! `Authorization: Bearer <JWT>`: HS256 over `{access_token, iat, exp = iat + 60}`, signed with
//! the integration's `access_key`. Inbound events (live chat → fluxo) are verified the same way:
//! the token must be signed with `access_key`, unexpired, and carry the integration's
//! `access_token`.
//!
//! Assumed where the docs stop (the list of actions the live chat sends was not retrievable):
//! the live chat answers `OPEN_CONVERSATION` with `{"conversationID": …}`; inbound actions are
//! `AGENT_JOINED` (`parameters.agent.name`), `SEND_MESSAGE` (`parameters.message.text`, optional
//! `parameters.message.id`), `TRANSFER_CONVERSATION` (`parameters.to`) and
//! `CLOSE_CONVERSATION` (`parameters.closedBy`: `agent` or `user`, `parameters.reason`).

use super::http::Http;
use super::{
    bad_request, config, credential_name, header, json_body, secret, setting, unauthorized,
    BoxFuture, Conversation, Driver, Error, Headers, Inbound, Opened,
};
use crate::domain::http::HttpRequest;
use crate::domain::Event;
use crate::model::Integration;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// Lifetime of the per-request token (seconds).
pub const TOKEN_TTL: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    access_token: String,
    iat: u64,
    exp: u64,
}

/// A fresh token for one request.
pub fn token(access_token: &str, access_key: &[u8], now_s: u64) -> Result<String, Error> {
    let claims = Claims {
        access_token: access_token.to_owned(),
        iat: now_s,
        exp: now_s + TOKEN_TTL,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(access_key),
    )
    .map_err(|e| config(format!("ALTU Connector: cannot sign the token: {e}")))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The ALTU Connector driver.
pub struct AltuConnector {
    http: Http,
}

impl AltuConnector {
    /// A driver sending with `http`.
    pub fn new(http: Http) -> Self {
        AltuConnector { http }
    }

    fn jwt(&self, i: &Integration) -> Result<String, Error> {
        let (key, access) = (secret(i, "access_key")?, secret(i, "access_token")?);
        token(access.expose(), key.expose().as_bytes(), now_s())
    }

    async fn post(&self, i: &Integration, body: Json, what: &str) -> Result<Json, Error> {
        let url = setting(i, "webhook_url")?.to_owned();
        let jwt = self.jwt(i)?;
        let resp = self
            .http
            .json(
                Method::POST,
                url,
                ("authorization", format!("Bearer {jwt}")),
                body,
                what,
            )
            .await?;
        if resp.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        resp.json(what)
    }

    fn envelope(conv: &Conversation, action: &str, parameters: Json) -> Json {
        json!({ "action": action, "conversationID": conv.remote_id, "identifier": conv.identifier, "parameters": parameters, "timestamp": now_s() })
    }
}

impl Driver for AltuConnector {
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>> {
        Box::pin(async move {
            let what = "ALTU Connector: OPEN_CONVERSATION";
            let jwt = self.jwt(&conv.integration)?;
            let resp = self
                .http
                .send_built(request, &[(credential_name(request), jwt)], None, what)
                .await?;
            let answer = if resp.body.iter().all(u8::is_ascii_whitespace) {
                Json::Null
            } else {
                resp.json(what)?
            };
            // Without an id of its own, the live chat's events name the conversation by our identifier.
            let remote = answer
                .get("conversationID")
                .and_then(Json::as_str)
                .unwrap_or(&conv.identifier)
                .to_owned();
            Ok(Opened {
                remote_id: remote,
                result: answer,
            })
        })
    }

    fn send<'a>(
        &'a self,
        conv: &'a Conversation,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let body = Self::envelope(
                conv,
                "SEND_MESSAGE",
                json!({ "message": { "type": "text", "text": text } }),
            );
            self.post(&conv.integration, body, "ALTU Connector: SEND_MESSAGE")
                .await
                .map(drop)
        })
    }

    fn close<'a>(&'a self, conv: &'a Conversation) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let body = Self::envelope(conv, "CLOSE_CONVERSATION", json!({}));
            self.post(
                &conv.integration,
                body,
                "ALTU Connector: CLOSE_CONVERSATION",
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
        let unauthorized = |m: &str| unauthorized(m.to_owned());
        let (key, access) = (
            super::webhook_secret(i, "access_key")?,
            super::webhook_secret(i, "access_token")?,
        );
        let auth = header(headers, "authorization")
            .ok_or_else(|| unauthorized("no Authorization header"))?;
        let jwt = auth
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthorized("Authorization is not a Bearer token"))?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Claims>(
            jwt,
            &jsonwebtoken::DecodingKey::from_secret(key.expose().as_bytes()),
            &validation,
        )
        .map_err(|_| unauthorized("the token is invalid or expired"))?
        .claims;
        if claims.exp.saturating_sub(claims.iat) > TOKEN_TTL
            || !super::signature::same(claims.access_token.as_bytes(), access.expose().as_bytes())
        {
            return Err(unauthorized(
                "the token's access_token or lifetime is wrong",
            ));
        }
        let v = json_body(body)?;
        let action = v
            .get("action")
            .and_then(Json::as_str)
            .ok_or_else(|| bad_request("no `action`"))?;
        let remote = v
            .get("conversationID")
            .and_then(Json::as_str)
            .or_else(|| v.get("identifier").and_then(Json::as_str))
            .ok_or_else(|| bad_request("no `conversationID` nor `identifier`"))?
            .to_owned();
        let p = v.get("parameters").cloned().unwrap_or(Json::Null);
        let text = |path: &str| p.pointer(path).and_then(Json::as_str).map(str::to_owned);
        let event = match action {
            "AGENT_JOINED" => Event::AgentJoin {
                name: text("/agent/name").unwrap_or_else(|| "agent".into()),
                avatar: text("/agent/avatar"),
                representative_type: None,
            },
            "SEND_MESSAGE" => Event::AgentMessage {
                text: text("/message/text").unwrap_or_default(),
                content: None,
            },
            "TRANSFER_CONVERSATION" => Event::AgentTransfer {
                to: text("/to").unwrap_or_default(),
            },
            "CLOSE_CONVERSATION" => match text("/closedBy").as_deref() {
                Some("user") => Event::UserClose {
                    reason: text("/reason").or(Some("user".into())),
                },
                _ => Event::AgentClose {
                    wrap_up: text("/reason"),
                },
            },
            other => return Err(bad_request(format!("unknown action `{other}`"))),
        };
        // A message id when the connector gives one; otherwise the delivery itself (a seconds
        // timestamp would drop the second of two messages sent in the same second).
        let id = text("/message/id").unwrap_or_else(|| super::body_key(body));
        Ok(vec![Inbound {
            dedupe: format!("altu:{remote}:{action}:{id}"),
            remote_id: remote,
            event,
        }])
    }
}
