//! Performing the outbox's effects: a claimed row's kind is read into [`EffectKind`] and
//! performed by an exhaustive `match` (a kind this build does not know is a dead letter, never
//! taken for another effect); the provider's answer becomes a follow-up turn. Each effect runs
//! in its provider's (or the channel's) pool, with its lease heart-beaten while it runs.
//!
//! Effects started by a request run in that request's span (its `request_id`, `trace_id`), so
//! their log lines name the request that caused them. Each effect's duration goes to the
//! `fluxo_effect_seconds` histogram by kind and outcome, each provider call's to
//! `fluxo_provider_call_seconds` by provider, call and outcome.

use super::turn::Check;
use super::{backoff, ms, store, EffectKind, Key, Runtime};
use crate::domain::{Event, HandoffInputs, Output};
use crate::drivers::{self, Conversation, Driver};
use crate::provider::{self, Handoff};
use serde_json::{json, Value as Json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Done;
use tracing::Instrument as _;

/// The outcome label of a provider call: `ok`, `rate_limited` (HTTP 429), `error`.
fn call_outcome<T>(r: &Result<T, crate::Error>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) if e.status() == Some(429) => "rate_limited",
        Err(_) => "error",
    }
}

/// Records one provider call in `fluxo_provider_call_seconds`.
fn record_call(provider: &str, call: &'static str, outcome: &'static str, started: Instant) {
    metrics::histogram!(
        "fluxo_provider_call_seconds",
        "provider" => provider.to_owned(),
        "call" => call,
        "outcome" => outcome
    )
    .record(started.elapsed().as_secs_f64());
}

/// Records one performed effect in `fluxo_effect_seconds` (outcome `ok`, `error` or
/// `dead_letter`).
fn record_effect(kind: &str, outcome: &'static str, started: Instant) {
    metrics::histogram!(
        "fluxo_effect_seconds",
        "kind" => kind.to_owned(),
        "outcome" => outcome
    )
    .record(started.elapsed().as_secs_f64());
}

impl Runtime {
    /// Performs this conversation's new effects now (the process that committed them);
    /// returns the outputs of the follow-up turns.
    pub(super) async fn drain(&self, key: &Key) -> Vec<Output> {
        let mut all = Vec::new();
        for _ in 0..64 {
            let lease = ms(self.inner.options.lease);
            let claimed = match self
                .inner
                .store
                .claim_effects(self.now(), lease, Some(key), 8)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "claiming effects failed");
                    break;
                }
            };
            if claimed.is_empty() {
                break;
            }
            for effect in claimed {
                // A channel push never delays the provider lane (a hand-over, a relay): with
                // workers it runs beside it, in its own pool.
                if effect.kind == EffectKind::Deliver.as_str() && self.spawns() {
                    let rt = self.clone();
                    tokio::spawn(
                        async move {
                            rt.perform(effect).await;
                        }
                        .in_current_span(),
                    );
                    continue;
                }
                all.extend(self.perform(effect).await);
            }
        }
        all
    }

    /// Whether effects run in background tasks (the workers are on), rather than inline in
    /// [`Runtime::work`].
    pub(super) fn spawns(&self) -> bool {
        self.inner.options.workers
    }

    /// Performs a conversation's new effects: in the background with workers, so the timer and
    /// webhook loops never wait for a provider; inline without.
    pub(super) async fn drain_soon(&self, key: &Key) {
        if self.spawns() {
            let rt = self.clone();
            let key = key.clone();
            tokio::spawn(
                async move {
                    rt.drain(&key).await;
                }
                .in_current_span(),
            );
        } else {
            self.drain(key).await;
        }
    }

    /// Performs one outbox effect; returns the outputs of the follow-up turn, if any. While
    /// it runs, its lease is renewed every third of the lease (a heartbeat), so however long
    /// the provider takes, no other worker or replica claims the effect while this run is
    /// alive; after a crash the heartbeat stops and the lease runs out.
    pub(super) async fn perform(&self, effect: store::Effect) -> Vec<Output> {
        let id = effect.id;
        let Some(_running) = self.inner.pools.start(id) else {
            return Vec::new();
        };
        let lease = ms(self.inner.options.lease);
        let beat = Duration::from_millis(u64::try_from((lease / 3).max(50)).unwrap_or(1000));
        let span = tracing::info_span!("effect", effect = id, kind = %effect.kind);
        let work = self.perform_now(effect).instrument(span);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                () = tokio::time::sleep(beat) => {
                    let until = self.now().saturating_add(lease);
                    if let Err(e) = self.inner.store.extend_effect(id, until).await {
                        tracing::warn!(target: "fluxo::runtime", effect = id, error = %e, "renewing an effect's lease failed");
                    }
                }
            }
        }
    }

    pub(super) async fn perform_now(&self, effect: store::Effect) -> Vec<Output> {
        let key = effect.key.clone();
        let id = effect.id;
        let follow = |event: Event, check: Check| {
            let key = key.clone();
            async move {
                match self.turn(&key, event, Some(Done::Effect(id)), check).await {
                    Ok(Some((_, o, _))) => o,
                    Ok(None) => Vec::new(),
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "applying an effect's result failed; it will be retried");
                        Vec::new()
                    }
                }
            }
        };
        let Some(kind) = EffectKind::parse(&effect.kind) else {
            let message = format!("unknown effect kind `{}`", effect.kind);
            tracing::error!(target: "fluxo::runtime", conversation = %key, effect = id, error = %message, "effect cannot be performed; kept as a dead letter");
            metrics::counter!("fluxo_dead_letters_total", "queue" => "outbox").increment(1);
            let _ = self.inner.store.fail_effect(id, self.now(), &message).await;
            record_effect(&effect.kind, "dead_letter", Instant::now());
            return Vec::new();
        };
        let p = &effect.payload;
        let text = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
        if kind == EffectKind::Deliver {
            let Ok(_worker) = self.inner.pools.lane("channel").acquire_owned().await else {
                return Vec::new();
            };
            let started = Instant::now();
            let outcome = if self.deliver(&effect).await {
                "ok"
            } else {
                "error"
            };
            record_effect(kind.as_str(), outcome, started);
            return Vec::new();
        }
        let iid = text("integration_id").unwrap_or_default();
        let conv = self.conversation(&key, &iid, text("remote_id"), &effect);
        let Some((driver, conv)) = conv else {
            let _ = self.inner.store.finish_effect(id, self.now()).await;
            return Vec::new();
        };
        // One pool per provider: a provider that hangs holds its own workers only.
        let lane = format!("provider:{}", conv.integration.provider.as_str());
        let Ok(_worker) = self.inner.pools.lane(&lane).acquire_owned().await else {
            return Vec::new();
        };
        metrics::counter!("fluxo_effects_total", "kind" => kind.as_str()).increment(1);
        let provider = conv.integration.provider.as_str();
        let started = Instant::now();
        let (outcome, outputs) = match kind {
            EffectKind::Handoff => {
                let request = match p.get("inputs").filter(|v| !v.is_null()) {
                    // Built again from the integration as it is deployed now.
                    Some(inputs) => {
                        serde_json::from_value::<HandoffInputs>(inputs.clone()).map(|i| {
                            provider::handoff_request(&Handoff::from_inputs(&conv.integration, &i))
                                .request
                        })
                    }
                    None => serde_json::from_value(p.get("request").cloned().unwrap_or_default())
                        .map(|r| rebase(r, text("base_url").as_deref(), &conv.integration)),
                };
                let request = match request {
                    Ok(r) => r,
                    Err(e) => {
                        let out = follow(
                            Event::ProviderError {
                                message: format!("unreadable hand-over request: {e}"),
                            },
                            Check::None,
                        )
                        .await;
                        record_effect(kind.as_str(), "error", started);
                        return out;
                    }
                };
                // A rate limit is waited out for as long as the user waits for an agent.
                let patience = conv
                    .integration
                    .wait_timeout_s
                    .map_or(Duration::from_secs(10), Duration::from_secs);
                let call = Instant::now();
                let opened =
                    drivers::http::with_retry_after_limit(patience, driver.open(&conv, &request))
                        .await;
                record_call(provider, "handoff", call_outcome(&opened), call);
                match opened {
                    Ok(opened) => {
                        let check = Check::Opening {
                            integration_id: iid.clone(),
                            remote_id: opened.remote_id.clone(),
                        };
                        let out = follow(
                            Event::ProviderOpened {
                                remote_id: opened.remote_id,
                                result: Some(opened.result),
                            },
                            check,
                        )
                        .await;
                        ("ok", out)
                    }
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "hand-over failed");
                        let out = follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::None,
                        )
                        .await;
                        ("error", out)
                    }
                }
            }
            EffectKind::Relay | EffectKind::File => {
                let call = Instant::now();
                let sent = if kind == EffectKind::Relay {
                    driver.send(&conv, &text("text").unwrap_or_default()).await
                } else {
                    let file = drivers::SharedFile {
                        url: text("url").unwrap_or_default(),
                        name: text("name"),
                        mime_type: text("mime_type"),
                    };
                    driver.send_file(&conv, &file).await
                };
                record_call(provider, kind.as_str(), call_outcome(&sent), call);
                match sent {
                    Ok(()) => {
                        let _ = self.inner.store.finish_effect(id, self.now()).await;
                        ("ok", Vec::new())
                    }
                    // The agent cannot be reached: end the chat rather than leave the user
                    // talking to no one, and close the provider's side so the agent is not
                    // left writing into a conversation nobody reads.
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "relay to the agent failed");
                        let out = follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::RelayFailed,
                        )
                        .await;
                        ("error", out)
                    }
                }
            }
            EffectKind::Typing => {
                let typing = p.get("typing").and_then(Json::as_bool).unwrap_or(false);
                let call = Instant::now();
                let sent = driver.typing(&conv, typing).await;
                let outcome = call_outcome(&sent);
                record_call(provider, "typing", outcome, call);
                if let Err(e) = sent {
                    tracing::debug!(target: "fluxo::runtime", conversation = %key, error = %e, "typing indicator not delivered");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                (outcome, Vec::new())
            }
            EffectKind::Close => {
                let call = Instant::now();
                let closed = driver.close(&conv).await;
                let outcome = call_outcome(&closed);
                record_call(provider, "close", outcome, call);
                if let Err(e) = closed {
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "closing the provider's conversation failed");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                (outcome, Vec::new())
            }
            // Handled above; kept in the match so a new kind must be placed.
            EffectKind::Deliver => ("ok", Vec::new()),
        };
        record_effect(kind.as_str(), outcome, started);
        outputs
    }

    /// Pushes an output to the channel; retried with backoff until accepted. Whether it was
    /// accepted (or there is no channel to push to).
    pub(super) async fn deliver(&self, effect: &store::Effect) -> bool {
        let Some(to) = &self.inner.options.deliver_to else {
            let _ = self.inner.store.finish_effect(effect.id, self.now()).await;
            return true;
        };
        let body = json!({
            "bot": effect.key.bot,
            "conversation": effect.key.conversation,
            "output": effect.payload,
        })
        .to_string();
        let signature = drivers::signature::fluxo(to.secret.expose(), body.as_bytes());
        let req = drivers::http::Request {
            method: reqwest::Method::POST,
            url: to.url.clone(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-fluxo-signature".into(), signature),
                ("idempotency-key".into(), effect.idempotency_key.clone()),
            ],
            body: drivers::http::Body::Json(serde_json::from_str(&body).unwrap_or_default()),
            what: "deliver an output to the channel".into(),
        };
        match self.inner.http.send(req).await {
            Ok(_) => {
                let _ = self.inner.store.finish_effect(effect.id, self.now()).await;
                true
            }
            Err(e) => {
                let wait = backoff(effect.attempts);
                tracing::warn!(target: "fluxo::runtime", conversation = %effect.key, error = %e, retry_in_ms = wait, "delivery to the channel failed");
                let _ = self
                    .inner
                    .store
                    .retry_effect(effect.id, self.now().saturating_add(wait), &e.to_string())
                    .await;
                false
            }
        }
    }

    /// The driver and the provider conversation for integration `iid` (`None` for an unknown
    /// integration, or a provider with no driver, such as the simulator).
    pub(super) fn conversation(
        &self,
        key: &Key,
        iid: &str,
        remote_id: Option<String>,
        effect: &store::Effect,
    ) -> Option<(Arc<dyn Driver>, Conversation)> {
        let bot = self.bot_named(&key.bot)?;
        let integration = bot.integrations().find(iid).cloned()?;
        let driver = self.driver(integration.provider)?;
        Some((
            driver,
            Conversation {
                identifier: key.conversation.clone(),
                remote_id,
                integration,
                idempotency_key: Some(effect.idempotency_key.clone()),
            },
        ))
    }
}

/// A hand-over request as the integration is configured *now*, for an outbox row written
/// before rows kept the request's inputs (those are built again in full): built when the
/// hand-over was asked for, it is sent later (at once, or after a crash, a deploy, a retry),
/// and the provider's address may have changed since. A request whose URL starts with the
/// `base_url` of its time is moved onto the current one.
fn rebase(
    mut request: crate::domain::http::HttpRequest,
    then: Option<&str>,
    integration: &crate::model::Integration,
) -> crate::domain::http::HttpRequest {
    let now = integration
        .settings
        .get("base_url")
        .and_then(Json::as_str)
        .map(|s| s.trim_end_matches('/'));
    if let (Some(then), Some(now)) = (then, now) {
        if then != now {
            if let Some(rest) = request.url.strip_prefix(then) {
                tracing::info!(target: "fluxo::runtime", from = then, to = now, "hand-over request moved to the integration's current base_url");
                request.url = format!("{now}{rest}");
            }
        }
    }
    request
}
