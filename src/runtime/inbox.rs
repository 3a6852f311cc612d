//! Provider webhooks: verified, stored (the inbox row's key de-duplicates them), then processed
//! from the store into turns. A failure is classified: transient ones are retried with
//! backoff, permanent ones kept as dead letters; nothing acknowledged is marked done unless it
//! was done.

use super::turn::Check;
use super::{
    backoff, ms, store, transient, Key, Runtime, WebhookOutcome, DELIVERY_ATTEMPTS,
    UNROUTED_RETRY_MS,
};
use crate::domain::Event;
use crate::drivers::{Conversation, Headers};
use crate::error::{Error, ErrorKind};
use serde_json::Value as Json;
use std::time::Duration;
use store::{Done, NewDelivery};

impl Runtime {
    /// Handles a provider webhook for integration `integration_id` (raw body, as received):
    /// verifies it, stores its events (dropping repeats), and processes them from the store.
    /// `inline`: process before answering (at most about a second; the workers finish what
    /// is left).
    pub async fn webhook(
        &self,
        integration_id: &str,
        headers: &Headers,
        body: &[u8],
    ) -> WebhookOutcome {
        let reply = |status: u16, m: &str| WebhookOutcome {
            status,
            message: m.to_owned(),
        };
        let found = self
            .inner
            .bots
            .values()
            .find_map(|v| v.current.integrations().find(integration_id).cloned());
        let Some(integration) = found else {
            return reply(404, "unknown integration");
        };
        let provider = integration.provider.as_str();
        let count = |status: &'static str| {
            metrics::counter!("fluxo_webhooks_total", "provider" => provider, "status" => status)
                .increment(1);
        };
        let Some(driver) = self.driver(integration.provider) else {
            count("404");
            return reply(404, "no driver for this provider");
        };
        let inbound = match driver.webhook(&integration, headers, body) {
            Ok(i) => i,
            Err(e) if e.kind() == ErrorKind::Unauthorized => {
                count("401");
                tracing::warn!(target: "fluxo::runtime", integration = integration_id, reason = %e, "webhook refused");
                return reply(401, e.detail());
            }
            Err(e) => {
                count("400");
                return reply(400, e.detail());
            }
        };
        let mut deliveries = Vec::with_capacity(inbound.len());
        for i in inbound {
            let event = match serde_json::to_value(&i.event) {
                Ok(v) => v,
                Err(e) => return reply(400, &e.to_string()),
            };
            deliveries.push(NewDelivery {
                dedupe: format!("{integration_id}:{}", i.dedupe),
                integration_id: integration_id.to_owned(),
                remote_id: i.remote_id,
                event,
            });
        }
        let fresh = match self.inner.store.receive(deliveries, self.now()).await {
            Ok(f) => f,
            Err(e) => {
                count("503");
                tracing::error!(target: "fluxo::runtime", integration = integration_id, error = %e, "webhook not recorded");
                return reply(503, "the delivery could not be recorded; retry");
            }
        };
        count("200");
        if !fresh.is_empty() {
            let rt = self.clone();
            let work = async move { rt.process_deliveries(Some(&fresh)).await };
            if tokio::time::timeout(Duration::from_millis(1500), work)
                .await
                .is_err()
            {
                self.inner.wake_inbox.notify_one();
            }
        }
        reply(200, "ok")
    }

    /// Processes stored webhook deliveries (`ids`, or any due ones); returns how many.
    pub(super) async fn process_deliveries(&self, ids: Option<&[i64]>) -> usize {
        let lease = ms(self.inner.options.lease);
        let claimed = match self
            .inner
            .store
            .claim_deliveries(self.now(), lease, ids, 32)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "claiming webhook deliveries failed");
                return 0;
            }
        };
        let n = claimed.len();
        for d in claimed {
            self.process_delivery(d).await;
        }
        n
    }

    pub(super) async fn process_delivery(&self, d: store::Delivery) {
        let now = self.now();
        let store = &self.inner.store;
        let event: Event = match serde_json::from_value(d.event.clone()) {
            Ok(e) => e,
            Err(e) => {
                let e = Error::new(
                    ErrorKind::BadRequest,
                    format!("stored webhook event unreadable: {e}"),
                );
                self.delivery_failed(&d, None, &e).await;
                return;
            }
        };
        let key = match store.route(&d.integration_id, &d.remote_id).await {
            Ok(Some(k)) => k,
            Ok(None) if now.saturating_sub(d.received_at) < UNROUTED_RETRY_MS => {
                let _ = store.retry_delivery(d.id, now.saturating_add(1000)).await;
                return;
            }
            Ok(None) => {
                tracing::info!(target: "fluxo::runtime", integration = d.integration_id, remote_id = d.remote_id, "webhook for an unknown provider conversation; acknowledged, ignored");
                metrics::counter!("fluxo_webhooks_ignored_total", "reason" => "unknown")
                    .increment(1);
                let _ = store.finish_delivery(d.id, now).await;
                return;
            }
            Err(e) => {
                self.delivery_failed(&d, None, &e).await;
                return;
            }
        };
        let event = match self.prepare(&key, &d, event).await {
            Ok(e) => e,
            Err(e) if now.saturating_sub(d.received_at) < UNROUTED_RETRY_MS => {
                tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "completing a webhook event failed; will retry");
                let _ = store.retry_delivery(d.id, now.saturating_add(1000)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "completing a webhook event failed; delivered as it is");
                fallback(d.event.clone())
            }
        };
        let check = Check::Chat {
            integration_id: d.integration_id.clone(),
            remote_id: d.remote_id.clone(),
        };
        match self
            .turn(&key, event, Some(Done::Delivery(d.id)), check)
            .await
        {
            Ok(Some(_)) => {
                self.drain_soon(&key).await;
            }
            Ok(None) => {
                tracing::info!(target: "fluxo::runtime", conversation = %key, remote_id = d.remote_id, "stale webhook (not the conversation's live chat); acknowledged, ignored");
                metrics::counter!("fluxo_webhooks_ignored_total", "reason" => "stale").increment(1);
                let _ = store.finish_delivery(d.id, now).await;
            }
            Err(e) => self.delivery_failed(&d, Some(&key), &e).await,
        }
    }

    /// A delivery whose processing failed: a transient failure releases it for a retry with
    /// backoff; a permanent one (or too many attempts) makes it a dead letter, kept in the
    /// store, counted and logged. It is never marked done.
    pub(super) async fn delivery_failed(&self, d: &store::Delivery, key: Option<&Key>, e: &Error) {
        let now = self.now();
        let store = &self.inner.store;
        let conversation = key.map(ToString::to_string).unwrap_or_default();
        if transient(e) && d.attempts < DELIVERY_ATTEMPTS {
            let wait = backoff(d.attempts);
            tracing::warn!(target: "fluxo::runtime", conversation, delivery = d.id, attempts = d.attempts, retry_in_ms = wait, error = %e, "webhook event failed; it will be retried");
            if let Err(e) = store.retry_delivery(d.id, now.saturating_add(wait)).await {
                // The lease runs out and a worker claims it again.
                tracing::warn!(target: "fluxo::runtime", delivery = d.id, error = %e, "releasing a webhook event failed; it is retried when its lease ends");
            }
            return;
        }
        tracing::error!(target: "fluxo::runtime", conversation, delivery = d.id, attempts = d.attempts, error = %e, "webhook event failed for good; kept as a dead letter");
        metrics::counter!("fluxo_dead_letters_total", "queue" => "inbox").increment(1);
        if let Err(e) = store.fail_delivery(d.id, now, &e.to_string()).await {
            tracing::warn!(target: "fluxo::runtime", delivery = d.id, error = %e, "recording a dead letter failed; it is retried when its lease ends");
        }
    }

    /// The driver's completion of a webhook event ([`Driver::prepare`]).
    pub(super) async fn prepare(
        &self,
        key: &Key,
        d: &store::Delivery,
        event: Event,
    ) -> Result<Event, Error> {
        let integration = self
            .bot_named(&key.bot)
            .and_then(|b| b.integrations().find(&d.integration_id).cloned());
        let Some(integration) = integration else {
            return Ok(event);
        };
        let Some(driver) = self.driver(integration.provider) else {
            return Ok(event);
        };
        let conv = Conversation {
            identifier: key.conversation.clone(),
            remote_id: Some(d.remote_id.clone()),
            integration,
            idempotency_key: None,
        };
        driver.prepare(&conv, event).await
    }
}

/// What the user sees of an event its driver could not complete: a file whose address could
/// not be had becomes the agent's message naming it, so the agent's turn is not lost.
fn fallback(stored: Json) -> Event {
    match serde_json::from_value::<Event>(stored) {
        Ok(Event::AgentFile { name, .. }) => Event::AgentMessage {
            text: format!("[{}]", name.as_deref().unwrap_or("file")),
            content: None,
        },
        Ok(other) => other,
        Err(e) => Event::ProviderError {
            message: format!("unreadable webhook event: {e}"),
        },
    }
}
