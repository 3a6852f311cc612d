//! Provider drivers: what actually talks to LivePerson, Zendesk, ALTU Connector, Omni and Webex
//! Contact Center, and turns their webhooks back into engine events.
//!
//! The engine says *what* to send (`handoff_requested.request`, `relay_to_agent`,
//! `close_provider_conversation`); a [`Driver`] sends it with the provider's authentication and
//! parses the provider's inbound webhooks (verifying their signatures over the raw bytes). A
//! backend can register its own driver for a provider fluxo does not ship
//! ([`crate::runtime::Runtime::register_driver`]).
//!
//! Credentials come from `{ "env": "NAME" }` references in the integration's settings and are
//! held in [`Secret`]s, which never print.

pub mod altu_connector;
pub mod cache;
pub mod http;
pub mod liveperson;
pub mod omni;
pub mod signature;
pub mod webex_cc;
pub mod zendesk;

use crate::domain::http::HttpRequest;
use crate::domain::{Event, Provider};
use crate::error::{Error, ErrorKind};
use crate::model::Integration;
use serde_json::Value as Json;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so drivers can be stored as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A secret value: prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(v: impl Into<String>) -> Secret {
        Secret(v.into())
    }
    /// The value, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A setting is missing or malformed (never names a secret's value).
pub(crate) fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message.into())
}

/// The provider answered something fluxo cannot read.
pub(crate) fn bad_response(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Provider, format!("unreadable answer: {message}"))
}

/// A webhook's signature or credentials are wrong (HTTP 401).
pub(crate) fn unauthorized(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unauthorized, message.into())
}

/// A webhook body fluxo cannot read (HTTP 400).
pub(crate) fn bad_request(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::BadRequest, message.into())
}

/// A provider conversation as a driver knows it.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The session (the end user's id on the provider's side).
    pub identifier: String,
    /// The provider's id for the conversation, once known.
    pub remote_id: Option<String>,
    /// The integration.
    pub integration: Integration,
    /// The effect's idempotency key: the same on every retry of the same effect. Sent to
    /// providers that accept one (Zendesk's `Idempotency-Key`).
    pub idempotency_key: Option<String>,
}

/// A successful hand-over.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The provider's conversation id.
    pub remote_id: String,
    /// The provider's answer (what the flow's result variable is built from).
    pub result: Json,
}

/// An event a webhook carried, for the conversation `remote_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The provider's conversation id.
    pub remote_id: String,
    /// A key unique to this delivery's content (event id, sequence): repeats are dropped.
    pub dedupe: String,
    /// The engine event.
    pub event: Event,
}

/// A file shared in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// Where it is.
    pub url: String,
    /// Its name.
    pub name: Option<String>,
    /// Its media type.
    pub mime_type: Option<String>,
}

impl SharedFile {
    /// The file as a message, for providers that take only text: `name: url`, or the URL.
    pub fn as_text(&self) -> String {
        match &self.name {
            Some(n) => format!("{n}: {}", self.url),
            None => self.url.clone(),
        }
    }
}

/// A header list as received (names lower-case).
pub type Headers = Vec<(String, String)>;

/// The value of header `name` (case-insensitive).
pub fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A live-chat provider.
pub trait Driver: Send + Sync {
    /// Sends the hand-over: the engine's `handoff_requested.request`, as built, with its
    /// credentials filled in.
    fn open<'a>(
        &'a self,
        conv: &'a Conversation,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<Opened, Error>>;
    /// Sends a user message to the agent.
    fn send<'a>(
        &'a self,
        conv: &'a Conversation,
        text: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Ends the provider's conversation from the bot's side.
    fn close<'a>(&'a self, conv: &'a Conversation) -> BoxFuture<'a, Result<(), Error>>;
    /// Sends a file the user shared. By default, a message with its name and URL (for
    /// providers whose file upload fluxo does not speak).
    fn send_file<'a>(
        &'a self,
        conv: &'a Conversation,
        file: &'a SharedFile,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.send(conv, &file.as_text()).await })
    }
    /// Tells the agent the user started or stopped typing. Providers with no typing
    /// indicator ignore it (the default).
    fn typing<'a>(
        &'a self,
        conv: &'a Conversation,
        typing: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = (conv, typing);
        Box::pin(std::future::ready(Ok(())))
    }
    /// Completes an event a webhook carried before the conversation sees it, with calls the
    /// webhook's parse could not make (LivePerson signs a hosted file's download URL). By
    /// default, the event as it is. An error retries the delivery; see the runtime.
    fn prepare<'a>(
        &'a self,
        conv: &'a Conversation,
        event: Event,
    ) -> BoxFuture<'a, Result<Event, Error>> {
        let _ = conv;
        Box::pin(std::future::ready(Ok(event)))
    }
    /// Verifies and reads a webhook (raw body bytes, as received).
    fn webhook(
        &self,
        integration: &Integration,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Vec<Inbound>, Error>;
}

/// The name of the credential a built request's `Authorization` header asks for.
pub(crate) fn credential_name(request: &HttpRequest) -> &str {
    match request.header_value("authorization") {
        Some(crate::domain::http::HeaderValue::Credential { name, .. }) => name,
        _ => "",
    }
}

/// A setting that must be a plain string.
pub fn setting<'a>(i: &'a Integration, name: &str) -> Result<&'a str, Error> {
    i.settings
        .get(name)
        .and_then(Json::as_str)
        .ok_or_else(|| config(format!("integration {} has no `settings.{name}`", i.id)))
}

/// A secret setting: `{ "env": "NAME" }`, read from the environment. Inline strings are refused
/// (`fluxo lint` reports them as `inline-secret`).
pub fn secret(i: &Integration, name: &str) -> Result<Secret, Error> {
    match i.settings.get(name) {
        Some(Json::Object(o)) => {
            let var = o.get("env").and_then(Json::as_str).ok_or_else(|| {
                config(format!("integration {}: `settings.{name}` must be {{ \"env\": \"NAME\" }}", i.id))
            })?;
            // An empty value is no secret: accepting it would turn signature checks off.
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(config(format!(
                    "integration {}: the environment variable {var} (for `settings.{name}`) is missing or empty",
                    i.id
                ))),
            }
        }
        Some(_) => Err(config(format!(
            "integration {}: `settings.{name}` must be {{ \"env\": \"NAME\" }}; secrets are never written in files",
            i.id
        ))),
        None => Err(config(format!("integration {} has no `settings.{name}`", i.id))),
    }
}

/// The driver fluxo ships for a provider (`None` for the simulator, which needs none).
pub fn builtin(provider: Provider, http: http::Http) -> Option<std::sync::Arc<dyn Driver>> {
    Some(match provider {
        Provider::Liveperson => std::sync::Arc::new(liveperson::LivePerson::new(http)),
        Provider::Zendesk => std::sync::Arc::new(zendesk::Zendesk::new(http)),
        Provider::AltuConnector => std::sync::Arc::new(altu_connector::AltuConnector::new(http)),
        Provider::Omni => std::sync::Arc::new(omni::Omni::new(http)),
        Provider::WebexCc => std::sync::Arc::new(webex_cc::WebexCc::new(http)),
        Provider::Simulator => return None,
    })
}

/// The integration's `settings.base_url`, or `default`, without a trailing slash.
pub fn base_url(i: &Integration, default: &str) -> String {
    i.settings
        .get("base_url")
        .and_then(Json::as_str)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned()
}

/// A webhook's secret setting; a missing one refuses the webhook.
pub fn webhook_secret(i: &Integration, name: &str) -> Result<Secret, Error> {
    secret(i, name).map_err(|e| unauthorized(e.to_string()))
}

/// A header the webhook must carry.
pub fn required_header<'a>(h: &'a Headers, name: &str) -> Result<&'a str, Error> {
    header(h, name).ok_or_else(|| unauthorized(format!("no {name} header")))
}

/// Refuses the webhook unless `got` equals `expected` (constant time).
pub fn verify(got: &str, expected: &str, name: &str) -> Result<(), Error> {
    if signature::same(got.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(unauthorized(format!("{name} does not match")))
    }
}

/// A de-duplication key for a delivery that carries no id of its own: a hash of its bytes, so
/// two different messages in the same second are both kept and a retried delivery is dropped.
pub fn body_key(body: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(body);
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Reads a JSON body, or says why not.
pub fn json_body(body: &[u8]) -> Result<Json, Error> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("the body is not JSON: {e}")))
}
