//! Outbound HTTP with per-attempt timeouts and bounded retries: exponential backoff with jitter
//! on 5xx, 429 (honouring `Retry-After`), timeouts and connection failures. Logs say what was
//! called and how it went — never a header value or a body, so never a secret.

use crate::domain::http::{HeaderValue, HttpRequest, Method};
use crate::error::{Error, ErrorKind};
use serde_json::Value as Json;
use std::time::Duration;

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay: Duration,
    /// Longest delay between attempts (also caps `Retry-After`).
    pub max_delay: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

tokio::task_local! {
    /// The longest `Retry-After` honoured by the calls made within [`with_retry_after_limit`].
    static RETRY_AFTER_LIMIT: Duration;
}

/// Runs `call` honouring a provider's `Retry-After` (on 429) up to `limit` instead of the
/// policy's `max_delay`: a hand-over rate-limited for 30 s waits 30 s when the user would wait
/// that long anyway. A `Retry-After` beyond `limit` fails at once, since waiting would outlast
/// the reason to call.
pub async fn with_retry_after_limit<F: std::future::Future>(limit: Duration, call: F) -> F::Output {
    RETRY_AFTER_LIMIT.scope(limit, call).await
}

/// An HTTP client with a retry policy.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    policy: RetryPolicy,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: reqwest::Method,
    /// URL.
    pub url: String,
    /// Headers (values may hold credentials: they are never logged).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// What this call is, for logs and errors ("LivePerson: open conversation").
    pub what: String,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// None.
    Empty,
    /// JSON.
    Json(Json),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self, what: &str) -> Result<Json, Error> {
        serde_json::from_slice(&self.body).map_err(|e| super::bad_response(format!("{what}: {e}")))
    }
}

fn status_error(status: u16, what: &str) -> Error {
    Error::new(ErrorKind::Provider, format!("{what}: HTTP {status}")).with_status(status)
}

fn timeout_error(what: &str) -> Error {
    Error::new(ErrorKind::Provider, format!("{what}: no answer in time"))
}

fn transport_error(what: &str) -> Error {
    Error::new(ErrorKind::Provider, format!("{what}: connection failed"))
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

impl Http {
    /// A client with `policy`.
    pub fn new(policy: RetryPolicy) -> Http {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.timeout)
            .build()
            .unwrap_or_default();
        Http { client, policy }
    }

    /// Sends a request a provider builder made, exactly as built: its credential placeholders
    /// filled from `credentials` (placeholder name → value) and, when `host` is given, the
    /// placeholder host at the start of its URL (`https://{asyncMessagingEnt}`) replaced by the
    /// discovered one. Headers the transport sets itself (`Content-Type` of a JSON body) are
    /// taken from the request too.
    pub async fn send_built(
        &self,
        req: &HttpRequest,
        credentials: &[(&str, String)],
        host: Option<(&str, &str)>,
        what: &str,
    ) -> Result<Response, Error> {
        let mut headers = Vec::with_capacity(req.headers.len());
        for (name, value) in &req.headers {
            let v = match value {
                HeaderValue::Text(t) => t.clone(),
                HeaderValue::Credential { prefix, name } => credentials
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| format!("{prefix}{v}"))
                    .ok_or_else(|| super::config(format!("{what}: no credential for `{name}`")))?,
            };
            // The body is sent as JSON below, which sets its own content type.
            if !name.eq_ignore_ascii_case("content-type") || req.body.is_null() {
                headers.push((name.to_ascii_lowercase(), v));
            }
        }
        let url = match host {
            Some((placeholder, actual)) if req.url.starts_with(placeholder) => {
                format!("{actual}{}", &req.url[placeholder.len()..])
            }
            _ => req.url.clone(),
        };
        if url.contains('{') {
            return Err(super::config(format!(
                "{what}: the URL still has a placeholder; set the integration's settings"
            )));
        }
        self.send(Request {
            method: method(req.method),
            url,
            headers,
            body: if req.body.is_null() {
                Body::Empty
            } else {
                Body::Json(req.body.clone())
            },
            what: what.into(),
        })
        .await
    }

    /// Sends `req`, retrying what is worth retrying.
    pub async fn send(&self, req: Request) -> Result<Response, Error> {
        let mut last = transport_error(&req.what);
        for attempt in 1..=self.policy.attempts.max(1) {
            let mut b = self
                .client
                .request(req.method.clone(), &req.url)
                .timeout(self.policy.timeout);
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            b = match &req.body {
                Body::Empty => b,
                Body::Json(j) => b
                    .header("content-type", "application/json")
                    .body(j.to_string()),
                Body::Form(f) => {
                    let encoded: String = f
                        .iter()
                        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
                        .collect::<Vec<_>>()
                        .join("&");
                    b.header("content-type", "application/x-www-form-urlencoded")
                        .body(encoded)
                }
            };
            let wait = match b.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    tracing::info!(target: "fluxo::http", what = %req.what, method = %req.method, url = %redact_url(&req.url), status, attempt, "provider call");
                    if (200..300).contains(&status) {
                        return Ok(Response { status, body });
                    }
                    last = status_error(status, &req.what);
                    if status == 429 {
                        match (retry_after, RETRY_AFTER_LIMIT.try_with(|l| *l).ok()) {
                            (Some(wait), Some(limit)) if wait > limit => {
                                tracing::warn!(target: "fluxo::http", what = %req.what, retry_after_s = wait.as_secs(), limit_s = limit.as_secs(), "the provider asks to wait longer than the call may take");
                                return Err(last);
                            }
                            (Some(wait), Some(_)) => wait,
                            (wait, _) => wait
                                .unwrap_or_else(|| self.backoff(attempt))
                                .min(self.policy.max_delay),
                        }
                    } else if status >= 500 {
                        self.backoff(attempt)
                    } else {
                        return Err(last);
                    }
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        timeout_error(&req.what)
                    } else {
                        transport_error(&req.what)
                    };
                    tracing::warn!(target: "fluxo::http", what = %req.what, url = %redact_url(&req.url), attempt, error = %last, "provider call failed");
                    self.backoff(attempt)
                }
            };
            if attempt < self.policy.attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(last)
    }

    /// Sends a JSON body with one credential header (the shape of most provider calls).
    pub async fn json(
        &self,
        method: reqwest::Method,
        url: String,
        credential: (&str, String),
        body: Json,
        what: &str,
    ) -> Result<Response, Error> {
        let headers = vec![(credential.0.to_owned(), credential.1)];
        self.send(Request {
            method,
            url,
            headers,
            body: Body::Json(body),
            what: what.into(),
        })
        .await
    }

    /// Exponential backoff with ±50 % jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .policy
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let jitter = 0.5 + fastrand::f64();
        base.mul_f64(jitter).min(self.policy.max_delay)
    }
}

/// The URL without its query string (a query may carry credentials).
pub fn redact_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(a, _)| a)
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
