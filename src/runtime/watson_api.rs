//! The Watson Assistant v1 routes of `fluxo serve`, answered as Watson answers them so that
//! IBM's SDKs (`ibm-watson` for Python and Node) and the apps built on them talk to fluxo
//! unchanged: `POST /v1/workspaces/{id}/message`, `GET /v1/workspaces`,
//! `GET /v1/workspaces/{id}` (`export=true` for the content); every other call under
//! `/v1/workspaces` (creating, updating, deleting, and the intent, entity and node
//! sub-resources) is `501`.
//!
//! Every refusal has Watson's shape, `{"error": "…", "code": N}` (plus `errors` for an invalid
//! body), so the SDKs' `ApiException` carries a sentence. A request body sent with
//! `Content-Encoding: gzip` (the SDKs' `set_enable_gzip_compression`) is decompressed, within
//! the service's body limit.

use crate::drivers::{signature, Secret};
use crate::watson::v1::{self, Refusal};
use crate::watson::Workspace;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::sync::Arc;

/// What the Watson routes need of the service.
#[derive(Clone)]
pub(super) struct Watson {
    workspaces: Arc<BTreeMap<String, Arc<Workspace>>>,
    token: Option<Secret>,
    body_limit: usize,
}

/// The Watson v1 routes, with their own authentication (`Authorization: Bearer` when `token`
/// is set, refused in Watson's shape) and state.
pub(super) fn routes<S: Clone + Send + Sync + 'static>(
    workspaces: BTreeMap<String, Arc<Workspace>>,
    token: Option<Secret>,
    body_limit: usize,
) -> Router<S> {
    let state = Watson {
        workspaces: Arc::new(workspaces),
        token,
        body_limit,
    };
    Router::new()
        .route(
            "/v1/workspaces",
            get(list).post(write_call).fallback(method_not_allowed),
        )
        .route(
            "/v1/workspaces/{id}",
            get(get_one)
                .post(write_call)
                .put(write_call)
                .patch(write_call)
                .delete(write_call)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/workspaces/{id}/message",
            post(message).fallback(method_not_allowed),
        )
        .route("/v1/workspaces/{id}/{*rest}", any(write_call))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// A Watson-shaped refusal.
fn refuse(r: &Refusal) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(r.body())).into_response()
}

async fn auth(State(w): State<Watson>, req: Request, next: Next) -> Response {
    if let Some(token) = &w.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !signature::same(given.as_bytes(), token.expose().as_bytes()) {
            return refuse(&Refusal::new(401, "Unauthorized"));
        }
    }
    next.run(req).await
}

async fn method_not_allowed() -> Response {
    refuse(&Refusal::new(405, "Method Not Allowed"))
}

fn not_found(id: &str) -> Response {
    refuse(&Refusal::new(
        404,
        format!("Resource not found: no workspace `{id}` is served"),
    ))
}

fn bad_path(r: &PathRejection) -> Response {
    refuse(&Refusal::new(
        400,
        format!("the path does not decode: {}", r.body_text()),
    ))
}

fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "true")
}

/// The request body, decompressed when it was sent with `Content-Encoding: gzip`, at most
/// `limit` bytes either way.
fn decoded(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, Refusal> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            flate2::read::MultiGzDecoder::new(raw.as_ref())
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|e| {
                    Refusal::new(400, format!("the gzip body does not decompress: {e}"))
                })?;
            if out.len() > limit {
                return Err(Refusal::new(
                    413,
                    format!("the decompressed body is larger than {limit} bytes"),
                ));
            }
            Ok(Bytes::from(out))
        }
        other => Err(Refusal::new(
            415,
            format!("Content-Encoding `{other}` is not supported (gzip is)"),
        )),
    }
}

/// One Watson v1 `/message` turn on a served workspace (stateless: the request's context
/// carries the dialog's position, as with Watson).
#[utoipa::path(post, tag = "watson", path = "/v1/workspaces/{bot}/message",
    params(("bot" = String, Path, description = "workspace name (its file stem)"),
        ("nodes_visited_details" = Option<bool>, Query, description = "add `output.nodes_visited_details`"),
        ("version" = Option<String>, Query, description = "Watson's API version date (accepted, not used)")),
    request_body(content = Object, description = "a Watson v1 MessageRequest: {\"input\": {\"text\": …}, \"context\": …, \"intents\"?, \"entities\"?, \"alternate_intents\"?, \"user_id\"?}; may be sent gzip-compressed"),
    responses((status = 200, body = Object, description = "a Watson v1 MessageResponse"),
        (status = 400, body = Object, description = "Watson's error shape"), (status = 401, body = Object),
        (status = 404, body = Object), (status = 413, body = Object), (status = 415, body = Object)),
    security(("bearer" = [])))]
pub(super) async fn message(
    State(w): State<Watson>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let Path(id) = match path {
        Ok(p) => p,
        Err(r) => return bad_path(&r),
    };
    let raw = match raw {
        Ok(b) => b,
        Err(r) => return refuse(&Refusal::new(r.status().as_u16(), r.body_text())),
    };
    let Some(ws) = w.workspaces.get(&id).cloned() else {
        return not_found(&id);
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let body = match decoded(&headers, raw, w.body_limit) {
        Ok(b) => b,
        Err(r) => return refuse(&r),
    };
    let request: Json = if body.iter().all(u8::is_ascii_whitespace) {
        Json::Object(serde_json::Map::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return refuse(&Refusal::invalid(".", format!("the body is not JSON: {e}"))),
        }
    };
    if let Err(r) = v1::check_request(&request) {
        return refuse(&r);
    }
    let now = jiff::Timestamp::now().to_string();
    metrics::counter!("fluxo_watson_messages_total", "bot" => id).increment(1);
    let details = flag(&q, "nodes_visited_details");
    axum::Json(v1::message(&ws, &request, &now, details)).into_response()
}

/// The served workspaces, as Watson's `WorkspaceCollection`.
#[utoipa::path(get, tag = "watson", path = "/v1/workspaces",
    params(("page_limit" = Option<usize>, Query, description = "workspaces per page (at most 100)"),
        ("include_count" = Option<bool>, Query, description = "add `pagination.total`"),
        ("sort" = Option<String>, Query, description = "`name` or `-name`"),
        ("cursor" = Option<String>, Query, description = "`pagination.next_cursor` of the previous page")),
    responses((status = 200, body = Object, description = "a Watson v1 WorkspaceCollection"),
        (status = 400, body = Object), (status = 401, body = Object)),
    security(("bearer" = [])))]
pub(super) async fn list(
    State(w): State<Watson>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page_limit = match q.get("page_limit").map(|v| v.parse::<usize>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return refuse(&Refusal::new(
                400,
                "`page_limit` must be a positive whole number",
            ))
        }
    };
    let opts = v1::ListOptions {
        page_limit,
        include_count: flag(&q, "include_count"),
        sort: q.get("sort").cloned(),
        cursor: q.get("cursor").cloned(),
    };
    let served = w.workspaces.iter().map(|(k, v)| (k.as_str(), v.as_ref()));
    match v1::list_workspaces(served, &opts) {
        Ok(c) => axum::Json(c).into_response(),
        Err(r) => refuse(&r),
    }
}

/// One served workspace, as Watson's `Workspace`; `export=true` adds its content.
#[utoipa::path(get, tag = "watson", path = "/v1/workspaces/{bot}",
    params(("bot" = String, Path, description = "workspace name (its file stem)"),
        ("export" = Option<bool>, Query, description = "include intents, entities and dialog nodes")),
    responses((status = 200, body = Object, description = "a Watson v1 Workspace"),
        (status = 401, body = Object), (status = 404, body = Object)),
    security(("bearer" = [])))]
pub(super) async fn get_one(
    State(w): State<Watson>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let Path(id) = match path {
        Ok(p) => p,
        Err(r) => return bad_path(&r),
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match w.workspaces.get(&id) {
        Some(ws) => axum::Json(v1::workspace_object(ws, &id, flag(&q, "export"))).into_response(),
        None => not_found(&id),
    }
}

/// Creating, updating or deleting workspaces and their intents, entities or nodes: fluxo
/// serves workspace files, which these calls would change behind the files' backs.
async fn write_call() -> Response {
    refuse(&Refusal::new(
        501,
        "Not Implemented: fluxo serves workspace files read-only; change the file and restart `fluxo serve` (message, list and get are answered)",
    ))
}
