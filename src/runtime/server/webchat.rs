//! The reference web chat of `fluxo serve --webchat`: one page (`GET /webchat`), its script
//! and the list of bots, embedded in the binary and served only when asked for. The page uses
//! the public channel API alone — `POST …/events` for the user's events, an `EventSource` on
//! `…/stream` for every output — and draws inputs from `awaiting_input`, so it shows the
//! whole contract working end to end. It is a reference, not a product: it holds no
//! `Authorization` token (an `EventSource` cannot send one), so the service refuses
//! `--webchat` together with `FLUXO_API_TOKEN`.

use super::App;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const PAGE: &str = include_str!("webchat.html");
const SCRIPT: &str = include_str!("webchat.js");

/// What the page may load: its own script and style, and requests to its own origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The web chat's routes.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/webchat", get(page))
        .route("/webchat.js", get(script))
        .route("/webchat/bots", get(bots))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The bots served, by name, sorted: the page talks to the first unless `?bot=` says.
async fn bots(State(app): State<App>) -> Response {
    let mut names: Vec<&str> = app.rt.bots().collect();
    names.sort_unstable();
    axum::Json(names).into_response()
}
