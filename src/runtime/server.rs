//! The HTTP face of the runtime (SPEC §6.1): the channel API, provider webhooks and the
//! operations routes, as an axum [`Router`]; and [`serve`], which runs a router with the
//! protections a public endpoint needs (header-read and request timeouts, a connection limit,
//! a body limit, graceful shutdown).
//!
//! Every refusal is a 4xx with `{"error": {"code", "message"}}` (codes from
//! [`crate::ErrorKind`], plus `not_found`, `payload_too_large`, `timeout`), and changes nothing.

use super::{Key, Runtime};
use crate::domain::Event;
use crate::drivers::{signature, Secret};
use crate::error::{Error, ErrorKind};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::sync::Arc;
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};

mod openapi;
mod stream;
mod webchat;

/// Settings of the HTTP face.
#[derive(Clone, Default)]
pub struct Settings {
    /// When set, the `/v1` routes require `Authorization: Bearer <token>`.
    pub api_token: Option<Secret>,
    /// Renders `/metrics` (a Prometheus recorder installed by the host).
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    /// Largest request body, in bytes (default 1 MiB).
    pub body_limit: Option<usize>,
    /// Longest time a request may take, long-polls included (default 30 s).
    pub request_timeout: Option<Duration>,
    /// Longest time a request's body may take to arrive (default 10 s): a client that sends
    /// it a byte at a time gets `408 timeout` instead of holding a connection.
    pub body_timeout: Option<Duration>,
    /// Watson workspaces answered at `POST /v1/workspaces/{bot}/message`, by name.
    pub workspaces: std::collections::BTreeMap<String, Arc<crate::watson::Workspace>>,
    /// Serves the reference web chat at `GET /webchat` (see `docs/service.md`).
    pub webchat: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api_token", &self.api_token)
            .field("metrics", &self.metrics.is_some())
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("workspaces", &self.workspaces.keys().collect::<Vec<_>>())
            .field("webchat", &self.webchat)
            .finish()
    }
}

#[derive(Clone)]
struct App {
    rt: Runtime,
    settings: Arc<Settings>,
}

/// Default body limit.
pub const BODY_LIMIT: usize = 1 << 20;
/// The longest long-poll (`wait`), in seconds.
pub const MAX_WAIT_S: u64 = 25;

/// The webhook route and the rest of SPEC §6.1, with default settings.
pub fn router(rt: Runtime) -> Router {
    app(rt, Settings::default())
}

/// Every route of SPEC §6.1.
pub fn app(rt: Runtime, settings: Settings) -> Router {
    let limit = settings.body_limit.unwrap_or(BODY_LIMIT);
    let timeout = settings.request_timeout.unwrap_or(Duration::from_secs(30));
    let body_timeout = settings.body_timeout.unwrap_or(Duration::from_secs(10));
    let state = App {
        rt,
        settings: Arc::new(settings),
    };
    let v1 = Router::new()
        .route(
            "/v1/bots/{bot}/conversations/{conversation}/events",
            post(events),
        )
        .route(
            "/v1/bots/{bot}/conversations/{conversation}/outputs",
            get(outputs),
        )
        .route(
            "/v1/bots/{bot}/conversations/{conversation}/stream",
            get(stream::stream),
        )
        .route("/v1/bots/{bot}/conversations/{conversation}", get(summary))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    let watson = super::watson_api::routes(
        state.settings.workspaces.clone(),
        state.settings.api_token.clone(),
        limit,
    );
    let webchat = if state.settings.webchat {
        webchat::routes()
    } else {
        Router::new()
    };
    Router::new()
        .merge(v1)
        .merge(watson)
        .merge(webchat)
        .route("/webhooks/{integration_id}", post(webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| body_in_time(req, next, limit, body_timeout),
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| time_limit(req, next, timeout),
        ))
        .layer(axum::middleware::from_fn(super::observe::observe))
        .with_state(state)
}

/// `{"error": {"code", "message"}}` with a status.
fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

fn from_error(e: &Error) -> Response {
    let status = match e.kind() {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::UnknownBot => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::FlowChanged | ErrorKind::SessionVersion => {
            StatusCode::CONFLICT
        }
        ErrorKind::Store => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::InvalidSession => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    refuse(status, e.kind().code(), e.detail())
}

async fn time_limit(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        ),
    }
}

/// Reads the request's body within `within` (and at most `limit` bytes) before the handler
/// runs, so a slow sender is refused with `408` rather than holding a connection for the
/// whole request timeout.
async fn body_in_time(req: Request, next: Next, limit: usize, within: Duration) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared == Some(0) || (declared.is_none() && req.method() == axum::http::Method::GET) {
        return next.run(req).await;
    }
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        );
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await {
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body did not arrive within {} s",
                within.as_secs()
            ),
        ),
        Ok(Err(e)) if e.to_string().contains("length limit") => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        ),
        Ok(Err(e)) => refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body could not be read: {e}"),
        ),
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
    }
}

async fn auth(State(app): State<App>, req: Request, next: Next) -> Response {
    if let Some(token) = &app.settings.api_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !signature::same(given.as_bytes(), token.expose().as_bytes()) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong `Authorization: Bearer` token",
            );
        }
    }
    next.run(req).await
}

async fn not_found() -> Response {
    refuse(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> Response {
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// A path the router matched but whose segments do not decode (`%FF`): a JSON refusal, as
/// every other.
fn bad_path(r: &PathRejection) -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("the path does not decode: {}", r.body_text()),
    )
}

/// The conversation a route's path names (`/v1/bots/{bot}/conversations/{conversation}/…`), or
/// the refusal of a path that does not decode or a bad id. Conversation ids are the channel's:
/// any text of 1 to 256 bytes without control characters.
fn key(path: Result<Path<(String, String)>, PathRejection>) -> Result<Key, Box<Response>> {
    let Path((bot, conversation)) = path.map_err(|r| Box::new(bad_path(&r)))?;
    if conversation.is_empty()
        || conversation.len() > 256
        || conversation.chars().any(char::is_control)
    {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a conversation id is 1 to 256 bytes without control characters",
        )));
    }
    Ok(Key::new(bot, conversation))
}

fn body(
    b: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, Box<Response>> {
    b.map_err(|r| {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        };
        Box::new(refuse(status, code, r.body_text()))
    })
}

/// The outputs of a turn, or of a long-poll.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Outputs {
    /// Outputs (see `docs/events.md`), each with its `seq`, oldest first.
    #[schema(value_type = Vec<crate::Output>)]
    pub outputs: Vec<Json>,
}

/// A refusal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Refusal {
    /// The error.
    pub error: RefusalBody,
}

/// What went wrong.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefusalBody {
    /// Stable code: `bad_request`, `unauthorized`, `forbidden`, `unknown_bot`, `not_found`,
    /// `method_not_allowed`, `payload_too_large`, `timeout`, `conflict`, `flow_changed`,
    /// `store`, or another code of the engine's `error` output.
    pub code: String,
    /// In words.
    pub message: String,
}

/// A conversation's summary.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// The bot.
    pub bot: String,
    /// The conversation.
    pub conversation: String,
    /// The flow version the session runs on.
    pub flow_version: String,
    /// Whether that is the bot's current version.
    pub current_version: bool,
    /// The node waiting for the user.
    pub focus: Option<String>,
    /// The live chat's phase (`requested`, `queued`, `active`), if one is open.
    pub live_chat_phase: Option<String>,
    /// The live chat's provider.
    pub live_chat_provider: Option<String>,
    /// The next deadline (RFC 3339).
    pub next_deadline: Option<String>,
    /// The last output's `seq`.
    pub last_seq: i64,
}

/// `after` and `wait` of the outputs route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct After {
    /// Outputs with a greater `seq` (default 0: all).
    pub after: Option<i64>,
    /// Seconds to wait for the first new output (at most 25).
    pub wait: Option<u64>,
}

/// Runs one event (SPEC §4.1) and answers the turn's outputs once they are durably recorded.
#[utoipa::path(post, path = "/v1/bots/{bot}/conversations/{conversation}/events",
    params(("bot" = String, Path, description = "bot name"), ("conversation" = String, Path, description = "conversation id")),
    request_body(content = crate::Event, description = "one channel event (`ChannelEvent`, see docs/events.md), e.g. {\"type\": \"user\", \"text\": \"oi\"}"),
    responses((status = 200, body = Outputs), (status = 400, body = Refusal), (status = 401, body = Refusal),
        (status = 403, body = Refusal), (status = 404, body = Refusal), (status = 409, body = Refusal), (status = 413, body = Refusal), (status = 503, body = Refusal)),
    security(("bearer" = [])))]
async fn events(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let raw = match body(raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let key = match key(path) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if app.rt.bot_named(&key.bot).is_none() {
        return refuse(
            StatusCode::NOT_FOUND,
            "unknown_bot",
            format!("no bot named `{}`", key.bot),
        );
    }
    let event: Event = match serde_json::from_slice(&raw) {
        Ok(e) => e,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body is not an event: {e}"),
            )
        }
    };
    if matches!(event, Event::Advance { .. }) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`advance` moves a virtual clock; the service runs on real time",
        );
    }
    // The channel speaks for the user only: an agent's message, a close "as the agent" or a
    // provider's answer (which would point the conversation at another one's provider id)
    // come through verified webhooks and the drivers, never through this route.
    if !event.is_channel() {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "`{}` is a provider's event; the channel API takes start, user, user_close, user_typing, user_file and action_result",
                raw_type(&raw)
            ),
        );
    }
    let idem = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Some(k.to_owned())
        }
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "an Idempotency-Key is 1 to 255 visible ASCII characters",
            )
        }
    };
    let kind = event_kind(&event);
    metrics::counter!("fluxo_events_total", "bot" => key.bot.clone(), "type" => kind).increment(1);
    let sent = match &idem {
        Some(k) => app.rt.send_once(&key, event, k).await,
        None => app.rt.send(&key, event).await,
    };
    match sent {
        Ok(t) => axum::Json(Outputs { outputs: t.outputs }).into_response(),
        Err(e) => from_error(&e),
    }
}

/// The `type` of a JSON event body, for messages.
fn raw_type(raw: &[u8]) -> String {
    serde_json::from_slice::<Json>(raw)
        .ok()
        .and_then(|v| v.get("type").and_then(Json::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn event_kind(e: &Event) -> &'static str {
    match e {
        Event::Start { .. } => "start",
        Event::User { .. } => "user",
        Event::UserClose { .. } => "user_close",
        Event::UserTyping { .. } => "user_typing",
        Event::UserFile { .. } => "user_file",
        Event::ActionResult { .. } => "action_result",
        _ => "other",
    }
}

/// Outputs with `seq > after`, oldest first; with `wait`, long-polls for the first new one.
#[utoipa::path(get, path = "/v1/bots/{bot}/conversations/{conversation}/outputs",
    params(("bot" = String, Path, description = "bot name"), ("conversation" = String, Path, description = "conversation id"), After),
    responses((status = 200, body = Outputs), (status = 400, body = Refusal), (status = 401, body = Refusal), (status = 404, body = Refusal), (status = 503, body = Refusal)),
    security(("bearer" = [])))]
async fn outputs(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<After>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`after` is a whole number and `wait` a number of seconds",
        );
    };
    let key = match key(path) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_S));
    match app
        .rt
        .outputs(&key, q.after.unwrap_or(0).max(0), wait)
        .await
    {
        Ok(outputs) => axum::Json(Outputs { outputs }).into_response(),
        Err(e) => from_error(&e),
    }
}

/// The session's summary.
#[utoipa::path(get, path = "/v1/bots/{bot}/conversations/{conversation}",
    params(("bot" = String, Path, description = "bot name"), ("conversation" = String, Path, description = "conversation id")),
    responses((status = 200, body = Summary), (status = 400, body = Refusal), (status = 401, body = Refusal), (status = 404, body = Refusal), (status = 503, body = Refusal)),
    security(("bearer" = [])))]
async fn summary(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let key = match key(path) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Some(current) = app.rt.bot_named(&key.bot) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "unknown_bot",
            format!("no bot named `{}`", key.bot),
        );
    };
    match app.rt.session_of(&key).await {
        Ok(Some((s, saved))) => {
            let chat = s.live_chat();
            axum::Json(Summary {
                bot: key.bot.clone(),
                conversation: key.conversation.clone(),
                current_version: saved.version == current.version(),
                flow_version: saved.version,
                focus: s.focus().map(str::to_owned),
                live_chat_phase: chat.map(|c| {
                    serde_json::to_value(c.phase())
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                }),
                live_chat_provider: chat.map(|c| c.provider().as_str().to_owned()),
                next_deadline: saved.deadline.and_then(|d| {
                    jiff::Timestamp::from_millisecond(d)
                        .ok()
                        .map(|t| t.to_string())
                }),
                last_seq: saved.last_seq,
            })
            .into_response()
        }
        Ok(None) => refuse(StatusCode::NOT_FOUND, "not_found", "no such conversation"),
        Err(e) => from_error(&e),
    }
}

/// A provider webhook: verified, recorded, acknowledged, processed from the store.
#[utoipa::path(post, path = "/webhooks/{integration_id}",
    params(("integration_id" = String, Path, description = "the integration's id")),
    request_body(content = Object, description = "the provider's payload, signed as the provider signs it"),
    responses((status = 200, body = Object), (status = 400, body = Refusal), (status = 401, body = Refusal), (status = 404, body = Refusal), (status = 413, body = Refusal), (status = 503, body = Refusal)))]
async fn webhook(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Path(integration_id) = match path {
        Ok(p) => p,
        Err(r) => return bad_path(&r),
    };
    let raw = match body(raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let outcome = app.rt.webhook(&integration_id, &headers, &raw).await;
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::BAD_REQUEST);
    if status.is_success() {
        return (status, axum::Json(json!({ "status": outcome.message }))).into_response();
    }
    let code = match outcome.status {
        401 => "unauthorized",
        404 => "not_found",
        503 => "store",
        _ => "bad_request",
    };
    refuse(status, code, outcome.message)
}

/// Alive.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Object)))]
async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// Ready: the store answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Object), (status = 503, body = Refusal)))]
async fn readyz(State(app): State<App>) -> Response {
    match app.rt.store().ping().await {
        Ok(()) => axum::Json(json!({ "status": "ready" })).into_response(),
        Err(e) => from_error(&e),
    }
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics_text(State(app): State<App>) -> Response {
    let text = app
        .settings
        .metrics
        .as_ref()
        .map(|f| f())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, body = Object)))]
async fn openapi() -> Response {
    axum::Json(api()).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "fluxo serve", description = "The durable runtime of builder flows: the channel API, provider webhooks and the operations routes. Events and outputs are described in docs/events.md."),
    paths(events, outputs, stream::stream, summary, super::watson_api::message, super::watson_api::list, super::watson_api::get_one, webhook, healthz, readyz, metrics_text, openapi),
    components(schemas(Outputs, Refusal, RefusalBody, Summary, crate::Event, crate::Output)),
    modifiers(&Bearer)
)]
struct Api;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of these routes, generated from the handlers.
/// Events and outputs are named schemas discriminated by `type` (see `openapi.rs`), as JSON.
pub fn api() -> Json {
    let mut doc = Api::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut json = serde_json::to_value(&doc).unwrap_or_default();
    openapi::typed(&mut json);
    json
}

/// Protections of [`serve`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// A connection that has not sent a request's headers within this time is closed.
    pub header_read_timeout: Duration,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits (up
/// to `limits.shutdown_grace`) for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let service = hyper_util::service::TowerToHyperService::new(app);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(target: "fluxo::serve", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        // hyper's own refusals (a request it cannot parse) get the JSON body of the others.
        let stream = super::wire::JsonRefusals::new(stream);
        let conn = builder.serve_connection(TokioIo::new(stream), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "fluxo::serve", "requests still in flight at the end of the shutdown grace");
    }
}
