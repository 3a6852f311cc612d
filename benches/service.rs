//! The service under load, over loopback HTTP, for each store in one run (SPEC §6.2 promise 9):
//! events per second with 32 clients in a closed loop (the maximum), then p50/p99 latency at
//! half that rate (an open loop), beside each durable store's own raw single-row update rate
//! measured in the same run (a loop of committed `UPDATE`s for SQLite; `pgbench` with a
//! one-row update script for PostgreSQL).
//!
//! `cargo bench --bench service`. PostgreSQL runs when `FLUXO_TEST_POSTGRES` names a server
//! (a database is created and dropped); `pgbench` must be on the `PATH` for its raw rate. Each
//! store is measured in a process of its own (the benchmark starts itself once per store).

use fluxo::drivers::http::{Http, RetryPolicy};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use fluxo::engine::Bot;
use fluxo::runtime::server::{self, Limits, Settings};
use fluxo::runtime::{store, NamedBot, Options, Runtime, TokioClock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLOW: &str = r#"{ "nodes": [
  { "id": "inicio", "condition": "start", "context": { "n": 0 }, "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "conta" } ] },
  { "id": "conta", "context": { "n": "<? $n + 1 ?>" }, "output": [ { "default": { "type": "text", "text": "<? $n ?>" } } ], "next": [ { "goto": "espera" } ] },
  { "id": "espera", "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "conta" } ] }
] }"#;

const CLIENTS: usize = 32;
/// The argument with which the benchmark runs itself to measure the stores it names.
const ALONE: &str = "--alone";
const SECONDS: u64 = 5;

struct Figures {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// The service on `url`'s store, or why not (a store that refuses connections is reported,
/// never a panic).
async fn start(url: &str) -> Result<(String, Runtime), String> {
    let store = store::open(url).await.map_err(|e| e.to_string())?;
    let bot = Bot::from_json(FLOW, None).map_err(|e| e.to_string())?;
    let (rt, _rx) = Runtime::with_bots(
        vec![NamedBot {
            name: "contador".into(),
            bot,
            source: Some(("contador.json".into(), FLOW.as_bytes().to_vec())),
        }],
        store,
        Http::new(RetryPolicy::default()),
        Arc::new(TokioClock::now()),
        Options::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = server::app(rt.clone(), Settings::default());
    tokio::spawn(server::serve(
        listener,
        app,
        Limits::default(),
        std::future::pending(),
    ));
    Ok((format!("http://{addr}"), rt))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One keep-alive HTTP/1.1 connection (hyper's own client: the load generator must cost the
/// two cores as little as possible).
struct Conn {
    tx: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
}

impl Conn {
    async fn open(addr: &str) -> Option<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(conn);
        Some(Conn { tx })
    }

    async fn post(&mut self, path: &str, body: &'static str) -> bool {
        use http_body_util::BodyExt;
        let req = hyper::Request::post(path)
            .header("host", "bench")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                body.as_bytes(),
            )));
        let Ok(req) = req else { return false };
        match self.tx.send_request(req).await {
            Ok(r) => r.status().is_success() && r.into_body().collect().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// `clients` clients, each on its own conversation, each sending the next event when the last
/// is answered (`pace`: at most one every `pace`).
async fn load(
    base: &str,
    tag: &str,
    clients: usize,
    secs: u64,
    pace: Option<Duration>,
) -> (f64, Vec<f64>) {
    let addr = base.trim_start_matches("http://").to_owned();
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let addr = addr.clone();
        let done = done.clone();
        let path = format!("/v1/bots/contador/conversations/{tag}-{c}/events");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let Some(mut conn) = Conn::open(&addr).await else {
                return lat;
            };
            conn.post(&path, r#"{"type":"start"}"#).await;
            let mut next = Instant::now();
            while Instant::now() < until {
                if let Some(p) = pace {
                    tokio::time::sleep_until(next.into()).await;
                    next += p;
                }
                let t = Instant::now();
                if conn.post(&path, r#"{"type":"user","text":"+1"}"#).await {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64().max(1e-9);
    all.sort_by(f64::total_cmp);
    (rate, all)
}

async fn measure(url: &str, tag: &str) -> Result<(Figures, Figures), String> {
    let (base, _rt) = start(url).await?;
    let (max, lat) = load(&base, &format!("{tag}-max"), CLIENTS, SECONDS, None).await;
    let at_max = Figures {
        rate: max,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    };
    #[allow(clippy::cast_precision_loss)]
    let per_client = Duration::from_secs_f64(CLIENTS as f64 / (max / 2.0).max(1.0));
    let (half, lat) = load(
        &base,
        &format!("{tag}-half"),
        CLIENTS,
        SECONDS,
        Some(per_client),
    )
    .await;
    let at_half = Figures {
        rate: half,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    };
    Ok((at_max, at_half))
}

/// Committed single-row updates per second on SQLite with the service's settings.
fn sqlite_raw(path: &std::path::Path) -> f64 {
    let c = rusqlite::Connection::open(path).expect("sqlite");
    c.pragma_update(None, "journal_mode", "WAL").expect("wal");
    c.pragma_update(None, "synchronous", "FULL").expect("sync");
    c.execute_batch("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, n INTEGER); INSERT OR REPLACE INTO t VALUES (1, 0);")
        .expect("table");
    let until = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let mut n = 0u64;
    while Instant::now() < until {
        c.execute("UPDATE t SET n = n + 1 WHERE id = 1", [])
            .expect("update");
        n += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let r = n as f64 / started.elapsed().as_secs_f64();
    r
}

/// `pgbench` with one single-row update per transaction, 32 clients.
fn pgbench_raw(url: &str) -> Option<f64> {
    let script = std::env::temp_dir().join("fluxo-pgbench.sql");
    std::fs::write(
        &script,
        "UPDATE fluxo_bench SET n = n + 1 WHERE id = (random() * 31)::int;\n",
    )
    .ok()?;
    let setup = std::process::Command::new("psql")
        .args([url, "-q", "-c", "DROP TABLE IF EXISTS fluxo_bench; CREATE TABLE fluxo_bench (id int primary key, n bigint); INSERT INTO fluxo_bench SELECT g, 0 FROM generate_series(0, 31) g;"])
        .output()
        .ok()?;
    if !setup.status.success() {
        return None;
    }
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-c",
            "32",
            "-j",
            "2",
            "-T",
            &SECONDS.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

fn row(store: &str, raw: Option<f64>, f: &Result<(Figures, Figures), String>) {
    let (max, half) = match f {
        Ok(f) => f,
        Err(e) => {
            println!("| {store} | error: {e} |");
            return;
        }
    };
    let ratio = raw.map_or("—".to_owned(), |r| {
        format!("{:.0} %", 100.0 * max.rate / r)
    });
    println!(
        "| {store} | {} | {:.0} | {ratio} | {:.1} / {:.1} | {:.0} | {:.1} / {:.1} |",
        raw.map_or("—".to_owned(), |r| format!("{r:.0}")),
        max.rate,
        max.p50_ms,
        max.p99_ms,
        half.rate,
        half.p50_ms,
        half.p99_ms
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("service: bench");
        return;
    }
    // `cargo bench --bench service -- memory postgres`: only those stores.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |store: &str| only.is_empty() || only.iter().any(|o| o == store);
    if !std::env::args().any(|a| a == ALONE) {
        println!("| store | raw single-row updates/s | events/s (32 clients) | events/s ÷ raw | p50 / p99 ms at max | events/s at half | p50 / p99 ms at half |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        // Each store in a process of its own: measured after another in one process, a store
        // ran beside the heap the one before left (the `memory:` store's phase ends holding
        // every output of its conversations, over a GiB), and its figures depended on the
        // order (docs/benchmarks.md).
        let me = std::env::current_exe().expect("the benchmark's own path");
        for store in ["memory", "sqlite", "postgres"]
            .into_iter()
            .filter(|s| runs(s))
        {
            match std::process::Command::new(&me)
                .args(["--bench", store, ALONE])
                .status()
            {
                Ok(s) if s.success() => {}
                Ok(s) => println!("{store}: the measuring process ended with {s}"),
                Err(e) => println!("{store}: the measuring process did not start: {e}"),
            }
        }
        return;
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let dir = std::env::temp_dir().join(format!("fluxo-bench-service-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    if runs("memory") {
        let mem = tokio.block_on(measure("memory:", "mem"));
        row("`memory:`", None, &mem);
    }
    if runs("sqlite") {
        let raw = sqlite_raw(&dir.join("raw.db"));
        let sq = tokio.block_on(measure(
            &format!("sqlite://{}", dir.join("fluxo.db").display()),
            "sqlite",
        ));
        row("`sqlite://`", Some(raw), &sq);
    }
    match std::env::var("FLUXO_TEST_POSTGRES") {
        Ok(_) if !runs("postgres") => {}
        Ok(admin) => {
            let name = format!("fluxo_bench_{}", std::process::id());
            let _ = std::process::Command::new("psql")
                .args([&admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
                .status();
            let url = match admin.rfind('/') {
                Some(i) if i > admin.find("://").map_or(0, |p| p + 2) => {
                    format!("{}/{name}", &admin[..i])
                }
                _ => format!("{admin}/{name}"),
            };
            // pgbench right before and right after: the machine's load moves between
            // seconds, so the anchor is their mean and both are shown.
            let before = pgbench_raw(&url);
            let pg = tokio.block_on(measure(&url, "pg"));
            let after = pgbench_raw(&url);
            let raw = match (before, after) {
                (Some(b), Some(a)) => {
                    println!("pgbench before / after: {b:.0} / {a:.0} tps");
                    Some(f64::midpoint(a, b))
                }
                (b, a) => b.or(a),
            };
            row("`postgres://`", raw, &pg);
            let _ = std::process::Command::new("psql")
                .args([
                    &admin,
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .status();
        }
        Err(_) if runs("postgres") => println!("SKIPPED: postgres (set FLUXO_TEST_POSTGRES)"),
        Err(_) => {}
    }
    let _ = std::fs::remove_dir_all(&dir);
}
