//! `GET /v1/bots/{bot}/conversations/{conversation}/stream`: a conversation's outputs as
//! server-sent events, as they are committed, for a browser widget (`EventSource`).
//!
//! Each output is one event: `id` is its `seq`, `event` is `output`, `data` the output's JSON
//! (with its `seq`). The stream starts after `?after=SEQ`, or after the `Last-Event-ID` header
//! an `EventSource` sends when it reconnects (the header wins). A comment line is sent every
//! 15 s when nothing happens, so proxies keep the connection open.
//!
//! Any replica serves any stream: it reads the store, woken at once by a commit of its own
//! process and every 500 ms otherwise (another replica's commit), as the long-poll does
//! ([`Runtime::outputs`](super::super::Runtime::outputs)). On shutdown the stream ends; the
//! browser reconnects, to another replica, with `Last-Event-ID`.

use super::{from_error, key, refuse, App};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

/// How often a quiet stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `after` of the stream route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamAfter {
    /// Stream the outputs with a greater `seq` (default 0: all). `Last-Event-ID` wins.
    pub after: Option<i64>,
}

/// The outputs of a conversation as server-sent events (`text/event-stream`).
#[utoipa::path(get, path = "/v1/bots/{bot}/conversations/{conversation}/stream",
    params(("bot" = String, Path, description = "bot name"), ("conversation" = String, Path, description = "conversation id"), StreamAfter,
        ("Last-Event-ID" = Option<String>, Header, description = "the last `seq` received: the stream resumes after it")),
    responses((status = 200, content_type = "text/event-stream", description = "events `output`: `id` = seq, `data` = one output (see the Output schema)"),
        (status = 400, body = super::Refusal), (status = 401, body = super::Refusal), (status = 404, body = super::Refusal), (status = 503, body = super::Refusal)),
    security(("bearer" = [])))]
pub(super) async fn stream(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    q: Result<Query<StreamAfter>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Query(q)) = q else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`after` is a whole number",
        );
    };
    let key = match key(path) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let resume = match headers.get("last-event-id").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) if v.trim().is_empty() => None,
        Some(Ok(v)) => match v.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "`Last-Event-ID` is the `seq` of an output",
                )
            }
        },
        Some(Err(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "`Last-Event-ID` is the `seq` of an output",
            )
        }
    };
    let after = resume.or(q.after).unwrap_or(0).max(0);
    // Refuse an unknown bot or an unreachable store before the stream starts.
    if let Err(e) = app.rt.outputs(&key, i64::MAX, Duration::ZERO).await {
        return from_error(&e);
    }
    let rt = app.rt.clone();
    let events = futures_util::stream::unfold(
        (rt, key, after, Vec::<serde_json::Value>::new().into_iter()),
        |(rt, key, mut after, mut queued)| {
            async move {
                loop {
                    if let Some(o) = queued.next() {
                        let seq = o
                            .get("seq")
                            .and_then(serde_json::Value::as_i64)
                            .unwrap_or(after);
                        after = after.max(seq);
                        let ev = Sse::default()
                            .event("output")
                            .id(seq.to_string())
                            .data(o.to_string());
                        return Some((Ok::<_, Infallible>(ev), (rt, key, after, queued)));
                    }
                    if *rt.inner.stop.borrow() {
                        return None;
                    }
                    match rt.outputs(&key, after, KEEP_ALIVE).await {
                        Ok(got) if got.is_empty() => {
                            if *rt.inner.stop.borrow() {
                                return None;
                            }
                        }
                        Ok(got) => queued = got.into_iter(),
                        // The store did not answer: end the stream; the browser reconnects
                        // with `Last-Event-ID` and loses nothing.
                        Err(_) => return None,
                    }
                }
            }
        },
    );
    axum::response::sse::Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
