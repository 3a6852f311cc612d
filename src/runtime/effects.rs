//! Performing the outbox's effects: a claimed row's kind is read into [`EffectKind`] and
//! performed by an exhaustive `match` (a kind this build does not know is a dead letter, never
//! taken for another effect); the provider's answer becomes a follow-up turn. Each effect runs
//! in its provider's (or the channel's) pool, with its lease heart-beaten while it runs.

use super::turn::Check;
use super::{backoff, ms, store, EffectKind, Key, Runtime};
use crate::domain::{Event, Output};
use crate::drivers::{self, Conversation, Driver};
use serde_json::{json, Value as Json};
use std::sync::Arc;
use std::time::Duration;
use store::Done;

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
                    tokio::spawn(async move {
                        rt.perform(effect).await;
                    });
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
            tokio::spawn(async move {
                rt.drain(&key).await;
            });
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
        let work = self.perform_now(effect);
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
            return Vec::new();
        };
        let p = &effect.payload;
        let text = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
        if kind == EffectKind::Deliver {
            let Ok(_worker) = self.inner.pools.lane("channel").acquire_owned().await else {
                return Vec::new();
            };
            self.deliver(&effect).await;
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
        match kind {
            EffectKind::Handoff => {
                let request = serde_json::from_value(p.get("request").cloned().unwrap_or_default());
                let request = match request {
                    Ok(r) => rebase(r, text("base_url").as_deref(), &conv.integration),
                    Err(e) => {
                        return follow(
                            Event::ProviderError {
                                message: format!("unreadable hand-over request: {e}"),
                            },
                            Check::None,
                        )
                        .await
                    }
                };
                // A rate limit is waited out for as long as the user waits for an agent.
                let patience = conv
                    .integration
                    .wait_timeout_s
                    .map_or(Duration::from_secs(10), Duration::from_secs);
                let opened =
                    drivers::http::with_retry_after_limit(patience, driver.open(&conv, &request))
                        .await;
                match opened {
                    Ok(opened) => {
                        let check = Check::Opening {
                            integration_id: iid.clone(),
                            remote_id: opened.remote_id.clone(),
                        };
                        follow(
                            Event::ProviderOpened {
                                remote_id: opened.remote_id,
                                result: Some(opened.result),
                            },
                            check,
                        )
                        .await
                    }
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "hand-over failed");
                        follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::None,
                        )
                        .await
                    }
                }
            }
            EffectKind::Relay | EffectKind::File => {
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
                match sent {
                    Ok(()) => {
                        let _ = self.inner.store.finish_effect(id, self.now()).await;
                        Vec::new()
                    }
                    // The agent cannot be reached: end the chat rather than leave the user
                    // talking to no one, and close the provider's side so the agent is not
                    // left writing into a conversation nobody reads.
                    Err(e) => {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "relay to the agent failed");
                        follow(
                            Event::ProviderError {
                                message: e.to_string(),
                            },
                            Check::RelayFailed,
                        )
                        .await
                    }
                }
            }
            EffectKind::Typing => {
                let typing = p.get("typing").and_then(Json::as_bool).unwrap_or(false);
                if let Err(e) = driver.typing(&conv, typing).await {
                    tracing::debug!(target: "fluxo::runtime", conversation = %key, error = %e, "typing indicator not delivered");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                Vec::new()
            }
            EffectKind::Close => {
                if let Err(e) = driver.close(&conv).await {
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "closing the provider's conversation failed");
                }
                let _ = self.inner.store.finish_effect(id, self.now()).await;
                Vec::new()
            }
            // Handled above; kept in the match so a new kind must be placed.
            EffectKind::Deliver => Vec::new(),
        }
    }

    /// Pushes an output to the channel; retried with backoff until accepted.
    pub(super) async fn deliver(&self, effect: &store::Effect) {
        let Some(to) = &self.inner.options.deliver_to else {
            let _ = self.inner.store.finish_effect(effect.id, self.now()).await;
            return;
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
            }
            Err(e) => {
                let wait = backoff(effect.attempts);
                tracing::warn!(target: "fluxo::runtime", conversation = %effect.key, error = %e, retry_in_ms = wait, "delivery to the channel failed");
                let _ = self
                    .inner
                    .store
                    .retry_effect(effect.id, self.now().saturating_add(wait), &e.to_string())
                    .await;
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

/// A hand-over request as the integration is configured *now*: built when the hand-over was
/// asked for, it is sent later (at once, or after a crash, a deploy, a retry), and the
/// provider's address may have changed since. A request whose URL starts with the `base_url`
/// of its time is moved onto the current one.
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
