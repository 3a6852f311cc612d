//! `--live`: the same flow against real providers, through the async runtime and the drivers.
//! Credentials come from `{ "env": … }` references and are never printed or logged.

use fluxo::drivers::http::{Http, RetryPolicy};
use fluxo::engine::{Bot, Event, Output};
use fluxo::runtime::{MemoryStore, Runtime, TokioClock};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What the output printer has seen.
#[derive(Default)]
pub(crate) struct Printed {
    /// Outputs printed so far.
    pub count: AtomicUsize,
    /// An `error` output was printed.
    pub error: AtomicBool,
}

/// Starts the runtime (and the webhook server on `listen`); `print` shows every output.
pub(crate) async fn start(
    bot: Bot,
    listen: Option<SocketAddr>,
    print: impl Fn(&Output) + Send + 'static,
) -> Result<(Runtime, Arc<Printed>), String> {
    let now = jiff::Timestamp::now().as_millisecond();
    let (rt, mut rx) = Runtime::new(
        bot,
        Arc::new(MemoryStore::default()),
        Http::new(RetryPolicy::default()),
        Arc::new(TokioClock::starting_at(now)),
    );
    if let Some(addr) = listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--listen {addr}: {e}"))?;
        let app = fluxo::runtime::server::router(rt.clone());
        eprintln!("listening for provider webhooks on http://{addr}/webhooks/{{integration_id}}");
        tokio::spawn(fluxo::runtime::server::serve(
            listener,
            app,
            fluxo::runtime::server::Limits::default(),
            std::future::pending(),
        ));
    }
    let printed = Arc::new(Printed::default());
    let seen = printed.clone();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(d) => {
                    if matches!(d.output, Output::Error { .. }) {
                        seen.error.store(true, Ordering::SeqCst);
                    }
                    print(&d.output);
                    seen.count.fetch_add(1, Ordering::SeqCst);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} outputs were produced faster than they could be shown");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    Ok((rt, printed))
}

/// `fluxo run --live`: feeds the events, then (with `--listen`) waits for the live chat to end.
pub(crate) fn run(
    bot: Bot,
    events: Vec<Event>,
    session: &str,
    listen: Option<SocketAddr>,
) -> Result<bool, String> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    tokio.block_on(async {
        let (rt, printed) = start(bot, listen, |o| {
            outln!("{}", serde_json::to_string(o).unwrap_or_default());
        })
        .await?;
        for e in events {
            if matches!(e, Event::Advance { .. }) {
                eprintln!("note: `advance` is ignored with --live: the clock is real");
                continue;
            }
            rt.event(session, e).await;
        }
        if listen.is_some() {
            // Wait for the agent's side to finish the chat (webhooks), or Ctrl-C.
            loop {
                if !chat_open(&rt, session).await {
                    break;
                }
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {
                        close_on_exit(&rt, session).await;
                        break;
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
                }
            }
        }
        // Every output was queued before `event` returned; let the printer catch up.
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let now = printed.count.load(Ordering::SeqCst);
            if now == last {
                break;
            }
            last = now;
        }
        drop(rt);
        Ok(printed.error.load(Ordering::SeqCst))
    })
}

async fn chat_open(rt: &Runtime, session: &str) -> bool {
    rt.session(session)
        .await
        .is_some_and(|s| s.live_chat().is_some())
}

/// Leaving while a live chat is open ends it as the user would (`user_close`), so the
/// provider's conversation is closed rather than left waiting for an agent.
pub(crate) async fn close_on_exit(rt: &Runtime, session: &str) {
    if chat_open(rt, session).await {
        eprintln!("note: closing the open live chat before leaving");
        rt.event(session, Event::UserClose { reason: None }).await;
    }
}
