//! `fluxo serve` (the durable service of SPEC §6) and `fluxo deploy-check`.

use clap::Args;
use fluxo::drivers::http::{Http, RetryPolicy};
use fluxo::drivers::Secret;
use fluxo::engine::Bot;
use fluxo::runtime::server::{self, Limits, Settings};
use fluxo::runtime::{store, DeliverTo, NamedBot, Options, Runtime, TokioClock};
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `fluxo serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Flow files or directories of flows; each flow is a bot named by its file stem.
    #[arg(long, required = true, num_args = 1..)]
    pub flows: Vec<PathBuf>,
    /// The integrations file (default: `integrations.json` beside the first flow).
    #[arg(long)]
    pub integrations: Option<PathBuf>,
    /// Where state lives: `sqlite://FILE`, `postgres://…` (several replicas on one database)
    /// or `memory:` (tests only).
    #[arg(long, default_value = "sqlite://fluxo.db")]
    pub store: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also push every output to this URL (signed with `FLUXO_DELIVER_SECRET`).
    #[arg(long)]
    pub deliver_to: Option<String>,
    /// Most connections served at once.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's headers.
    #[arg(long, default_value_t = 5)]
    pub header_timeout: u64,
    /// Seconds a claimed effect or webhook delivery stays reserved for the process that claimed
    /// it; after a crash, another process (or the restarted one) retries it after this long.
    #[arg(long, default_value_t = 30)]
    pub lease: u64,
    /// Seconds a shutdown (SIGTERM) waits for provider calls in flight to finish; those still
    /// running are then handed back to the store for another replica.
    #[arg(long, default_value_t = 20)]
    pub shutdown_grace: u64,
    /// Serve flows that `fluxo lint` reports errors in (each finding is logged as a warning);
    /// without it such flows are refused at start.
    #[arg(long)]
    pub allow_lint_errors: bool,
    /// How long a conversation that ended keeps its outputs and session before they are
    /// archived (`90s`, `30m`, `12h`, `7d`; `off` keeps everything).
    #[arg(long, default_value = store::DEFAULT_RETENTION)]
    pub retention: String,
    /// Also serve the reference web chat at `/webchat`: a page that talks to the bots through
    /// the channel API and its stream (for trying a flow; not with `FLUXO_API_TOKEN`).
    #[arg(long)]
    pub webchat: bool,
    /// How log lines are written to stderr: `text` (one readable line each) or `json` (one
    /// JSON object per line, with the request's span fields). `RUST_LOG` chooses what is logged
    /// (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The shape of `fluxo serve`'s log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the logger: `RUST_LOG` filters (a directive such as `warn` or
/// `fluxo::http=debug,info`; `info` when unset or unreadable, with a warning for the latter),
/// lines go to stderr in `format`.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (
                EnvFilter::new("info"),
                Some(format!("RUST_LOG={v:?} ignored: {e}")),
            ),
        },
        _ => (EnvFilter::new("info"), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    if let Some(bad) = bad {
        tracing::warn!(target: "fluxo::serve", "{bad}; logging at info");
    }
}

/// `fluxo deploy-check`.
#[derive(Debug, Args)]
pub(crate) struct DeployCheckArgs {
    /// The store the service runs on.
    #[arg(long)]
    pub store: String,
    /// The new flows (files or directories), as `fluxo serve --flows` takes them.
    #[arg(long, required = true, num_args = 1..)]
    pub flows: Vec<PathBuf>,
    /// The integrations file (default: `integrations.json` beside the first flow).
    #[arg(long)]
    pub integrations: Option<PathBuf>,
    /// Accept flows that `fluxo lint` reports errors in (listed, but not a refusal).
    #[arg(long)]
    pub allow_lint_errors: bool,
}

/// The lint errors of the flows being served, one line each: `file:line:column: rule: message`.
type LintErrors = Vec<String>;

/// The findings of severity error `fluxo lint` reports for flow file `f`, checked against
/// `integrations` as `fluxo lint --integrations` does.
fn lint_errors(f: &Path, bytes: &[u8], integrations: Option<&Path>) -> LintErrors {
    let opts = fluxo::lint::LintOptions {
        integrations: integrations
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<fluxo::IntegrationsFile>(&b).ok()),
        ..fluxo::lint::LintOptions::default()
    };
    fluxo::lint::lint_bytes(&f.display().to_string(), bytes, &opts)
        .findings
        .into_iter()
        .filter(|d| d.severity >= fluxo::lint::Severity::Error)
        .map(|d| {
            format!(
                "{}:{}:{}: {}: {}",
                d.file, d.line, d.column, d.code, d.message
            )
        })
        .collect()
}

/// Refuses flows with lint errors (`Err`: the message naming them), or, when `allow`, returns
/// them to be logged.
fn lint_gate(errors: LintErrors, allow: bool) -> Result<LintErrors, String> {
    if errors.is_empty() || allow {
        return Ok(errors);
    }
    Err(format!(
        "the flows have {} lint error(s) (`fluxo lint` shows them; --allow-lint-errors serves them anyway):\n  {}",
        errors.len(),
        errors.join("\n  ")
    ))
}

/// The flow files under `paths`: files as given, directories' `*.json` except integrations
/// files and conversation tests.
fn flow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    f.is_file()
                        && name.ends_with(".json")
                        && !name.ends_with(".test.json")
                        && name != "integrations.json"
                        && name != "fluxo.json"
                })
                .collect();
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    if out.is_empty() {
        return Err("no flow files found".into());
    }
    Ok(out)
}

/// Watson workspaces served beside the flows, by file stem.
type Workspaces = std::collections::BTreeMap<String, Arc<fluxo::watson::Workspace>>;

/// Loads every bot and every Watson workspace among the files under `paths` (each file read
/// once to tell which it is); names are file stems and must be unique.
fn load_bots(
    paths: &[PathBuf],
    integrations: Option<&Path>,
) -> Result<(Vec<NamedBot>, Workspaces, LintErrors), String> {
    let mut lint = LintErrors::new();
    let mut workspaces = Workspaces::new();
    let mut files = Vec::new();
    for f in flow_files(paths)? {
        match fluxo::watson::Workspace::load(&f) {
            Some(ws) => {
                let name = f
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("")
                    .to_owned();
                workspaces.insert(name, Arc::new(ws?));
            }
            None => files.push(f),
        }
    }
    let integrations = integrations.map(Path::to_path_buf).or_else(|| {
        let dir = files.first()?.parent()?;
        let beside = dir.join("integrations.json");
        beside.exists().then_some(beside)
    });
    let mut bots: Vec<NamedBot> = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned();
        if bots.iter().any(|b| b.name == name) {
            return Err(format!(
                "two flows are named `{name}`; bot names come from file stems and must be unique"
            ));
        }
        let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        lint.extend(lint_errors(&f, &bytes, integrations.as_deref()));
        let bot = Bot::from_files(&f, integrations.as_deref()).map_err(|e| {
            let mut m = format!("{}: {e}", f.display());
            for d in e.findings() {
                m.push_str(&format!("\n  {}:{}: {}", d.line, d.column, d.message));
            }
            m
        })?;
        bots.push(NamedBot {
            name,
            bot,
            source: Some((f.display().to_string(), bytes)),
        });
    }
    Ok((bots, workspaces, lint))
}

/// Every `{ "env": NAME }` of an integration a served flow can hand over to must name a set,
/// non-empty variable: an empty webhook secret would turn signature checking off.
fn check_secrets(bots: &[NamedBot]) -> Result<(), String> {
    let mut missing = Vec::new();
    for b in bots {
        for i in &b.bot.integrations().integrations {
            if !b.bot.may_use(&i.id) {
                continue;
            }
            for (setting, v) in &i.settings {
                let Some(var) = v.get("env").and_then(Json::as_str) else {
                    continue;
                };
                let set = std::env::var(var).is_ok_and(|x| !x.is_empty());
                if !set && !missing.iter().any(|(_, _, m)| m == var) {
                    missing.push((i.id.clone(), setting.clone(), var.to_owned()));
                }
            }
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(_) => Err(missing
            .iter()
            .map(|(id, setting, var)| {
                format!("integration {id}: `settings.{setting}` needs the environment variable {var}, which is missing or empty")
            })
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

fn secret_env(name: &str) -> Result<Option<Secret>, String> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Err(format!(
            "{name} is set but empty; unset it or give it a value"
        )),
        Ok(v) => Ok(Some(Secret::new(v))),
        Err(_) => Ok(None),
    }
}

/// `fluxo serve`.
pub(crate) fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let (bots, workspaces, lint) = match load_bots(&args.flows, args.integrations.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    match lint_gate(lint, args.allow_lint_errors) {
        Ok(allowed) => {
            for finding in allowed {
                tracing::warn!(target: "fluxo::serve", finding = %finding, "serving a flow with a lint error (--allow-lint-errors)");
            }
        }
        Err(e) => return fail(e),
    }
    if let Err(e) = check_secrets(&bots) {
        return fail(e);
    }
    let api_token = match secret_env("FLUXO_API_TOKEN") {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if args.webchat && api_token.is_some() {
        return fail(
            "--webchat serves a page without credentials (an EventSource cannot send a bearer token); leave FLUXO_API_TOKEN unset to use it".into(),
        );
    }
    let retention_ms = match store::parse_retention(&args.retention) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let deliver_to = match &args.deliver_to {
        None => None,
        Some(url) => match secret_env("FLUXO_DELIVER_SECRET") {
            Ok(Some(secret)) => Some(DeliverTo {
                url: url.clone(),
                secret,
            }),
            Ok(None) => {
                return fail(
                    "--deliver-to needs FLUXO_DELIVER_SECRET (the key that signs each push)".into(),
                )
            }
            Err(e) => return fail(e),
        },
    };
    let max_connections = connection_limit(args.max_connections);
    let Ok(tokio) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return fail("cannot start the async runtime".into());
    };
    // Histograms (with `_bucket` lines), not summaries: they aggregate across replicas.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(fluxo::runtime::observe::BUCKETS)
        .unwrap_or_else(|_| metrics_exporter_prometheus::PrometheusBuilder::new())
        .build_recorder();
    let handle = recorder.handle();
    let _ = metrics::set_global_recorder(recorder);
    tokio.block_on(async move {
        let store = match store::open(&args.store).await {
            Ok(s) => s,
            Err(e) => return fail(e.to_string()),
        };
        let mut names: Vec<String> = bots.iter().map(|b| b.name.clone()).collect();
        names.extend(workspaces.keys().map(|w| format!("{w} (Watson)")));
        let (rt, _rx) = Runtime::with_bots(
            bots,
            store,
            Http::new(RetryPolicy::default()),
            Arc::new(TokioClock::now()),
            Options {
                deliver_to,
                lease: Duration::from_secs(args.lease.max(1)),
                grace: Duration::from_secs(args.lease.clamp(1, 5)),
                retention_ms,
                ..Options::default()
            },
        );
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("--listen {}: {e}", args.listen)),
        };
        let app = server::app(
            rt.clone(),
            Settings {
                api_token,
                metrics: Some(Arc::new(move || {
                    fd_gauges();
                    handle.render()
                })),
                workspaces,
                webchat: args.webchat,
                ..Settings::default()
            },
        );
        let bound = listener.local_addr().map_or(args.listen, |a| a);
        eprintln!(
            "fluxo serve: {} on http://{bound} (store {})",
            names.join(", "),
            store::redact(&args.store)
        );
        if args.webchat {
            eprintln!("fluxo serve: the web chat is at http://{bound}/webchat");
        }
        let limits = Limits {
            max_connections,
            header_read_timeout: Duration::from_secs(args.header_timeout.max(1)),
            ..Limits::default()
        };
        let stopping = rt.clone();
        let shutdown = async move {
            shutdown_signal().await;
            // Open long-polls answer now; the workers claim nothing more.
            stopping.stop();
        };
        server::serve(listener, app, limits, shutdown).await;
        let in_flight = rt.effects_in_flight();
        if in_flight > 0 {
            eprintln!(
                "fluxo serve: waiting up to {}s for {in_flight} provider call(s) in flight",
                args.shutdown_grace
            );
        }
        let handed_back = rt.finish(Duration::from_secs(args.shutdown_grace)).await;
        if handed_back > 0 {
            eprintln!(
                "fluxo serve: {handed_back} effect(s) handed back to the store for another replica"
            );
        }
        eprintln!("fluxo serve: stopped");
        ExitCode::SUCCESS
    })
}

/// File descriptors kept for what is not a client connection: the store's pool, SQLite's
/// files, outbound provider calls, the listener.
const FD_RESERVE: u64 = 256;

/// The connection limit the process's open-file limit allows: `wanted`, or fewer (with a log
/// line saying so) when `ulimit -n` is too low for it, so clients wait in the listen queue
/// instead of connections failing for want of descriptors.
fn connection_limit(wanted: usize) -> usize {
    let Some(soft) = open_file_limit() else {
        return wanted;
    };
    let allowed = usize::try_from(soft.saturating_sub(FD_RESERVE).max(16)).unwrap_or(wanted);
    if allowed < wanted {
        eprintln!(
            "fluxo serve: the open-file limit is {soft} (ulimit -n); serving at most {allowed} connections instead of {wanted}. Raise the limit to at least {} for {wanted}",
            u64::try_from(wanted).unwrap_or(u64::MAX).saturating_add(FD_RESERVE)
        );
        return allowed;
    }
    wanted
}

/// The soft limit on open files, where the system says (Linux's `/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Sets the file-descriptor gauges at scrape time: `fluxo_open_fds` (entries of
/// `/proc/self/fd`) and `fluxo_max_fds` (the soft open-file limit). Where the system does not
/// say (not Linux), neither is set.
fn fd_gauges() {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle being read is one of the entries; it is not counted.
        let open = dir.count().saturating_sub(1);
        metrics::gauge!("fluxo_open_fds").set(open as f64);
    }
    if let Some(limit) = open_file_limit() {
        metrics::gauge!("fluxo_max_fds").set(limit as f64);
    }
}

/// SIGTERM (a deploy, `docker stop`) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("fluxo serve: shutting down (finishing requests in flight)");
}

/// `fluxo deploy-check`: which sessions in the store the new flows would strand.
pub(crate) fn deploy_check(args: DeployCheckArgs) -> ExitCode {
    let (bots, _, lint) = match load_bots(&args.flows, args.integrations.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match lint_gate(lint, args.allow_lint_errors) {
        Ok(allowed) => {
            for finding in allowed {
                outln!("lint error (allowed): {finding}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let Ok(tokio) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(2);
    };
    tokio.block_on(async move {
        let store = match store::open(&args.store).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut stranded = 0usize;
        let mut moving = 0usize;
        for b in &bots {
            let sessions = match store.sessions_not_on(&b.name, b.bot.version()).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            for (conversation, saved) in sessions {
                match b.bot.adopt(&saved.session) {
                    Ok(_) => moving += 1,
                    Err(e) => {
                        stranded += 1;
                        outln!(
                            "{}/{conversation}: stays on version {} until it ends: {}",
                            b.name,
                            saved.version,
                            e.detail()
                        );
                    }
                }
            }
        }
        let in_store = match store.bots_in_store().await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut removed = 0usize;
        for fluxo::runtime::store::BotSessions {
            bot,
            sessions,
            timers,
        } in in_store
        {
            if bots.iter().any(|b| b.name == bot) {
                continue;
            }
            removed += 1;
            outln!(
                "bot `{bot}`: {sessions} session(s) in the store, but the new flows do not serve it; its {timers} pending timer(s) stay parked (never fired) and its conversations get `unknown_bot` until a replica serves it again"
            );
        }
        outln!(
            "{moving} session(s) move to the new version at their next event; {stranded} stay on their version"
        );
        if stranded == 0 && removed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    })
}
