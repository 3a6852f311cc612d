//! What the service says about each request: a request id (`x-request-id`, taken from the
//! client when it sends a usable one, else generated) echoed in the response and carried by a
//! tracing span into every log line written while the request is handled; and the request's
//! duration in the `fluxo_http_request_seconds` histogram, by route, method and status. A W3C
//! `traceparent` header's trace id is carried in the same span (`trace_id`); a malformed one is
//! ignored, never a reason to refuse the request.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// A client's request id is kept when it is 1 to 128 visible ASCII characters.
fn usable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The route template a path answers to (a bounded label: ids never become label values).
fn route(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["v1", "bots", _, "conversations", _, "events"] => {
            "/v1/bots/{bot}/conversations/{conversation}/events"
        }
        ["v1", "bots", _, "conversations", _, "outputs"] => {
            "/v1/bots/{bot}/conversations/{conversation}/outputs"
        }
        ["v1", "bots", _, "conversations", _] => "/v1/bots/{bot}/conversations/{conversation}",
        ["v1", "workspaces", _, "message"] => "/v1/workspaces/{bot}/message",
        ["webhooks", _] => "/webhooks/{integration_id}",
        ["healthz"] => "/healthz",
        ["readyz"] => "/readyz",
        ["metrics"] => "/metrics",
        ["openapi.json"] => "/openapi.json",
        _ => "other",
    }
}

/// The W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";

/// The trace id of a W3C `traceparent` value (`version-traceid-parentid-flags`, lower-case
/// hex): `None` for anything malformed, the forbidden version `ff`, or an all-zero id. A
/// version after `00` may append fields; its first four are read as version `00`'s.
fn trace_id(header: &str) -> Option<&str> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let ok = hex(version, 2)
        && version != "ff"
        && (version != "00" || rest.is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    ok.then_some(trace)
}

/// A new request id: 16 hex digits.
fn generate() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The middleware: request id, span, histogram.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable(v))
        .map_or_else(generate, str::to_owned);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let route = route(req.uri().path()).to_owned();
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route, trace_id = tracing::field::Empty);
    if let Some(trace) = req
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(trace_id)
    {
        span.record("trace_id", trace);
    }
    let started = std::time::Instant::now();
    let mut response = next.run(req).instrument(span).await;
    metrics::histogram!(
        "fluxo_http_request_seconds",
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// The buckets of every histogram the service exports, in seconds: from 1 ms (a turn on a
/// local store) to 60 s (a provider call waiting out a rate limit).
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[cfg(test)]
mod tests {
    use super::{generate, route, trace_id, usable};

    #[test]
    fn traceparent_gives_its_trace_id_and_bad_ones_give_none() {
        let t = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id(&format!("00-{t}-00f067aa0ba902b7-01")), Some(t));
        assert_eq!(
            trace_id(&format!("01-{t}-00f067aa0ba902b7-01-extra")),
            Some(t)
        );
        for bad in [
            String::new(),
            "garbage".into(),
            format!("ff-{t}-00f067aa0ba902b7-01"),
            format!("00-{t}-00f067aa0ba902b7-01-extra"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{t}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", t.to_uppercase()),
            format!("00-{}-00f067aa0ba902b7-01", &t[1..]),
            format!("00-{t}-00f067aa0ba902b7"),
            format!("0-{t}-00f067aa0ba902b7-01"),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
    }

    #[test]
    fn client_ids_are_kept_when_usable_and_generated_ids_are_too() {
        assert!(usable("abc-123"));
        assert!(!usable(""));
        assert!(!usable("has space"));
        assert!(!usable(&"x".repeat(129)));
        let g = generate();
        assert!(usable(&g) && g.len() == 16, "{g}");
        assert_eq!(route("/webhooks/7"), "/webhooks/{integration_id}");
        assert_eq!(
            route("/v1/bots/a/conversations/b"),
            "/v1/bots/{bot}/conversations/{conversation}"
        );
        assert_eq!(route("/nope/x"), "other");
    }
}
