//! `fluxo studio`: the playground in the browser — the conversation, the agent desk, the
//! clock, the variables, the problems and the flow graph, live.
//!
//! A thin front end over [`crate::playground`], shaped like `mdbook serve`: one page whose
//! assets are embedded in the binary, server-sent events (`GET /api/events`) for every change,
//! plain POSTs for commands. It binds loopback by default; a random token, given once in the
//! URL and then kept in a cookie, guards every route; the `Host` header must name the server
//! (DNS rebinding) and a foreign `Origin` is refused; nothing is read or written outside the
//! paths it serves.

mod graph;
pub mod report;
mod session;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxJson, Router};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use session::Studio;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

use crate::playground::Command;
use crate::testing::parse_duration;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = concat!(
    include_str!("assets/app.css"),
    include_str!("assets/graph.css"),
    include_str!("assets/diff.css")
);

/// The cookie that carries the token after the first visit.
const COOKIE: &str = "fluxo_studio";

/// How the studio starts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Files or directories to serve (a file opens first; its directory is served).
    pub paths: Vec<PathBuf>,
    /// The integrations file for every flow (default: `integrations.json` beside each flow).
    pub integrations: Option<PathBuf>,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Allow an address that is not loopback.
    pub allow_remote: bool,
    /// The virtual clock's start, in milliseconds since the epoch.
    pub clock: i64,
}

impl Config {
    /// Serve `paths` on `127.0.0.1` at a free port, the clock at `clock`.
    pub fn new(paths: Vec<PathBuf>, clock: i64) -> Config {
        Config {
            paths,
            integrations: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            clock,
        }
    }
}

/// A studio ready to serve: its router and the URL (token included) to open.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("url", &self.url).finish()
    }
}

struct Shared {
    studio: Mutex<Studio>,
    token: String,
    hosts: Vec<String>,
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Studio> {
        // A panic while holding the lock leaves the model as it was between two commands.
        self.studio.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}

/// A random token of 32 hex digits from the operating system's generator.
fn token() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no random numbers for the token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Server {
    /// Binds the address and prepares the studio. A non-loopback address needs
    /// [`Config::allow_remote`]; every path must exist.
    pub async fn bind(config: Config) -> Result<Server, String> {
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(format!(
                "{} is not a loopback address: anyone who can reach it could drive the studio; pass --allow-remote to mean it",
                config.listen
            ));
        }
        let mut roots = Vec::new();
        let mut first = None;
        let paths = if config.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            config.paths.clone()
        };
        for p in &paths {
            let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if meta.is_file() {
                first.get_or_insert_with(|| p.clone());
                roots.push(
                    p.parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .map_or_else(|| PathBuf::from("."), PathBuf::from),
                );
            } else {
                roots.push(p.clone());
            }
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        hosts.push(addr.to_string());
        let mut studio = Studio::new(roots, config.integrations.clone(), config.clock);
        let first = first.or_else(|| {
            studio
                .state()
                .get("files")
                .and_then(Json::as_array)
                .and_then(|fs| {
                    fs.iter()
                        .find(|f| f["kind"] == "flow" || f["kind"] == "workspace")
                })
                .and_then(|f| f["path"].as_str())
                .map(PathBuf::from)
        });
        if let Some(f) = first {
            // A file that does not load is listed with its problems; the page says why.
            if let Err(e) = studio.open(&f.display().to_string()) {
                studio.fail(e);
            }
        }
        let token = token()?;
        let host = if addr.ip().is_loopback() {
            format!("127.0.0.1:{port}")
        } else {
            addr.to_string()
        };
        let url = format!("http://{host}/?token={token}");
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            studio: Mutex::new(studio),
            token,
            hosts,
            changed,
        });
        Ok(Server {
            listener,
            router: router(shared.clone()),
            url,
            shared,
        })
    }

    /// The URL to open, token included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` resolves; files on disk are watched twice a second.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        let shared = self.shared.clone();
        let watcher = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let s = shared.clone();
                let changed = tokio::task::spawn_blocking(move || s.lock().reload())
                    .await
                    .unwrap_or(false);
                if changed {
                    shared.bump();
                }
            }
        });
        let _ = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        watcher.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/node", get(node))
        .route("/api/open", post(open))
        .route("/api/command", post(command))
        .route("/api/say", post(say))
        .route("/api/advance", post(advance))
        .route("/api/save", post(save))
        .route("/api/rewind", post(rewind))
        .route("/api/restart", post(restart))
        .route("/api/start", post(start_at))
        .route("/api/tests/run", post(run_tests))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// The headers every answer carries: nothing loads from elsewhere, nothing frames the page.
fn harden(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn refuse(status: StatusCode, why: &str) -> Response {
    let mut r = (status, AxJson(json!({ "error": why }))).into_response();
    harden(&mut r);
    r
}

/// Equal without telling by its timing where the first difference is.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Host, Origin and token, before any route.
async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !shared.hosts.contains(&host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the Host header does not name this studio",
        );
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(&format!("http://{host}")));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "requests from other origins are refused",
            );
        }
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(t) = query.get("token") {
        if !same(t, &shared.token) {
            return refuse(StatusCode::UNAUTHORIZED, "wrong token");
        }
        // Into a cookie, and off the address bar.
        let mut r = Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, req.uri().path())
            .header(
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                    shared.token
                ),
            )
            .body(Body::empty())
            .unwrap_or_default();
        harden(&mut r);
        return r;
    }
    match cookie_token(req.headers()) {
        Some(t) if same(&t, &shared.token) => {}
        _ => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "open the URL fluxo studio printed (it carries the token)",
            )
        }
    }
    let mut r = next.run(req).await;
    harden(&mut r);
    r
}

async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8").await
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    AxJson(shared.lock().state()).into_response()
}

async fn events(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let rx = shared.changed.subscribe();
    let stream =
        futures_util::stream::unfold((rx, shared, true), |(mut rx, shared, first)| async move {
            if first {
                rx.mark_unchanged();
            } else if rx.changed().await.is_err() {
                return None;
            }
            let data = shared.lock().state().to_string();
            let ev = SseEvent::default().event("state").data(data);
            Some((Ok::<_, Infallible>(ev), (rx, shared, false)))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct NodeQuery {
    id: String,
}

async fn node(State(shared): State<Arc<Shared>>, Query(q): Query<NodeQuery>) -> Response {
    match shared.lock().node_source(&q.id) {
        Some(v) => AxJson(v).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "no such node in the open file"),
    }
}

/// The answer to a command: the new state, or why nothing changed.
fn done(shared: &Shared, r: Result<(), String>) -> Response {
    match r {
        Ok(()) => {
            shared.bump();
            AxJson(json!({ "ok": true })).into_response()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, &e),
    }
}

#[derive(Deserialize)]
struct OpenBody {
    path: String,
}

async fn open(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<OpenBody>) -> Response {
    let r = shared.lock().open(&b.path);
    done(&shared, r)
}

async fn command(State(shared): State<Arc<Shared>>, AxJson(c): AxJson<Command>) -> Response {
    // Saving goes through /api/save, which keeps the file beside the flow.
    let r = match c {
        Command::Save { .. } => Err("save with POST /api/save {\"name\": …}".to_owned()),
        Command::Reset => shared.lock().restart(),
        c => shared.lock().command(c),
    };
    done(&shared, r)
}

#[derive(Deserialize)]
struct SayBody {
    text: String,
}

async fn say(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<SayBody>) -> Response {
    let r = match Command::parse(&b.text) {
        Ok(c @ (Command::Say { .. } | Command::Intent { .. })) => shared.lock().command(c),
        Ok(_) => Err(
            "the Message box sends what the customer writes; the other panels play the rest".into(),
        ),
        Err(e) => Err(e.detail().to_owned()),
    };
    done(&shared, r)
}

/// `{"by": "10m"}`, or `{"to": "next_deadline"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

async fn advance(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<AdvanceBody>) -> Response {
    let r = match (b.by, b.to.as_deref()) {
        (Some(by), None) => parse_duration(&Json::String(by.trim().to_owned()))
            .map_err(|e| format!("advance by: {e} (e.g. 30s, 10m, 2h)"))
            .and_then(|seconds| shared.lock().command(Command::Advance { seconds })),
        (None, Some("next_deadline")) => shared.lock().advance_to_next_deadline(),
        _ => Err("advance takes {\"by\": \"10m\"} or {\"to\": \"next_deadline\"}".to_owned()),
    };
    done(&shared, r)
}

#[derive(Deserialize)]
struct StartBody {
    node: String,
}

async fn start_at(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<StartBody>) -> Response {
    let r = shared.lock().start_at(&b.node);
    done(&shared, r)
}

#[derive(Deserialize)]
struct SaveBody {
    name: String,
}

async fn save(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<SaveBody>) -> Response {
    let s = shared.clone();
    let r = tokio::task::spawn_blocking(move || s.lock().save(&b.name))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    done(&shared, r)
}

#[derive(Deserialize)]
struct RewindBody {
    turn: usize,
}

async fn rewind(State(shared): State<Arc<Shared>>, AxJson(b): AxJson<RewindBody>) -> Response {
    let r = shared.lock().rewind(b.turn);
    done(&shared, r)
}

async fn restart(State(shared): State<Arc<Shared>>) -> Response {
    let r = shared.lock().restart();
    done(&shared, r)
}

async fn run_tests(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.clone();
    let r = tokio::task::spawn_blocking(move || s.lock().run_tests())
        .await
        .map_err(|e| e.to_string());
    done(&shared, r)
}
