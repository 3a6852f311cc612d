//! The webhook router a backend mounts: `POST /webhooks/{integration_id}`.

use super::Runtime;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// The router; mount it wherever the providers' webhooks point.
pub fn router(rt: Runtime) -> Router {
    Router::new()
        .route("/webhooks/{integration_id}", post(webhook))
        .with_state(rt)
}

async fn webhook(
    State(rt): State<Runtime>,
    Path(integration_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let outcome = rt.webhook(&integration_id, &headers, &body).await;
    (
        StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        outcome.message,
    )
}
