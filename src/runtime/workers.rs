//! The background workers: the timer worker fires due deadlines, the queue worker claims due
//! effects (run in their pools) and webhook deliveries, and maintenance purges old rows and
//! publishes the backlog figures. A host without workers calls [`Runtime::work`] instead.

use super::turn::Check;
use super::{ms, ms_to_secs, pool, store, transient, Inner, Runtime};
use crate::domain::Event;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

impl Runtime {
    /// Fires the timers due now.
    pub(super) async fn fire_due(&self) -> bool {
        let now = self.now();
        let due = match self.inner.store.due(now, 64, &self.inner.served).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "reading due timers failed");
                return false;
            }
        };
        let did = !due.is_empty();
        for (key, at) in due {
            metrics::histogram!("fluxo_timer_lag_seconds")
                .record(ms_to_secs(now.saturating_sub(at)));
            match self
                .turn(&key, Event::Advance { seconds: 0 }, None, Check::None)
                .await
            {
                Ok(_) => {
                    self.drain_soon(&key).await;
                }
                Err(e) => {
                    // Retried later, never at once: a timer that keeps failing must neither
                    // flood the log nor hold back the timers behind it.
                    let retry = now.saturating_add(if transient(&e) { 1000 } else { 60_000 });
                    tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, retry_in_ms = retry - now, "timer failed");
                    metrics::counter!("fluxo_timer_failures_total").increment(1);
                    if let Err(e) = self.inner.store.postpone_timer(&key, at, retry).await {
                        tracing::warn!(target: "fluxo::runtime", conversation = %key, error = %e, "postponing a failed timer failed");
                    }
                }
            }
        }
        did
    }

    /// Performs due effects and processes due webhook deliveries.
    pub(super) async fn run_queues(&self) -> bool {
        let lease = ms(self.inner.options.lease);
        let mut did = false;
        // With workers, claimed effects run in their lanes' pools, as many at once as there is
        // room; the rest stay in the store for any replica.
        let room = if self.spawns() {
            pool::MAX_IN_FLIGHT.saturating_sub(self.inner.pools.count())
        } else {
            16
        };
        let claimed = if room == 0 {
            Ok(Vec::new())
        } else {
            self.inner
                .store
                .claim_effects(
                    self.now(),
                    lease,
                    None,
                    i64::try_from(room.min(16)).unwrap_or(16),
                )
                .await
        };
        match claimed {
            Ok(effects) => {
                for e in effects {
                    did = true;
                    if self.spawns() {
                        let rt = self.clone();
                        tokio::spawn(async move {
                            rt.perform(e).await;
                            rt.inner.wake_outbox.notify_one();
                        });
                    } else {
                        self.perform(e).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(target: "fluxo::runtime", error = %e, "claiming effects failed")
            }
        }
        if self.process_deliveries(None).await > 0 {
            did = true;
        }
        did
    }

    pub(super) fn spawn_workers(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(timer_worker(weak.clone()));
        tokio::spawn(queue_worker(weak.clone()));
        tokio::spawn(maintenance(weak));
    }
}

/// Fires due timers: sleeps until the earliest deadline in the store (at most a second, since
/// another replica may have set an earlier one), or until a local turn wakes it.
async fn timer_worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let rt = Runtime { inner };
        if rt.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        rt.fire_due().await;
        let next = rt
            .inner
            .store
            .next_deadline(&rt.inner.served)
            .await
            .ok()
            .flatten();
        let now = rt.now();
        let wait = next.map_or(1000, |n| n.saturating_sub(now).clamp(0, 1000));
        // Never spin on a deadline that stays due (a session that cannot be restored).
        let wait = u64::try_from(wait.max(20)).unwrap_or(1000);
        let inner = rt.inner.clone();
        drop(rt);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = inner.wake_timers.notified() => {}
        }
    }
}

/// Performs due effects and processes due webhook deliveries.
async fn queue_worker(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let rt = Runtime { inner };
        if rt.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let did = rt.run_queues().await;
        if did {
            continue;
        }
        let inner = rt.inner.clone();
        drop(rt);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = inner.wake_outbox.notified() => {}
            () = inner.wake_inbox.notified() => {}
        }
    }
}

/// Forgets processed deliveries and effects after [`store::DEDUPE_RETENTION_MS`]; publishes
/// the backlog figures.
async fn maintenance(weak: Weak<Inner>) {
    let mut last_purge = i64::MIN;
    let mut warned_parked = false;
    loop {
        {
            let Some(inner) = weak.upgrade() else { return };
            let rt = Runtime { inner };
            if rt.inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            let now = rt.now();
            if now.saturating_sub(last_purge) > 600_000 {
                last_purge = now;
                if let Err(e) = rt
                    .inner
                    .store
                    .purge(now.saturating_sub(store::DEDUPE_RETENTION_MS))
                    .await
                {
                    tracing::warn!(target: "fluxo::runtime", error = %e, "purge failed");
                }
                if let Some(retention) = rt.inner.options.retention_ms {
                    match store::apply_retention(&*rt.inner.store, now, retention).await {
                        Ok(p) if p.conversations + p.forgotten > 0 => {
                            tracing::info!(target: "fluxo::runtime", archived = p.conversations, outputs = p.outputs, forgotten = p.forgotten, "retention applied");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(target: "fluxo::runtime", error = %e, "retention failed");
                        }
                    }
                }
            }
            if let Ok(b) = rt.inner.store.backlog(now).await {
                #[allow(clippy::cast_precision_loss)]
                {
                    metrics::gauge!("fluxo_outbox_depth").set(b.outbox as f64);
                    metrics::gauge!("fluxo_inbox_depth").set(b.inbox as f64);
                    metrics::gauge!("fluxo_dead_letters", "queue" => "inbox")
                        .set(b.dead_deliveries as f64);
                    metrics::gauge!("fluxo_dead_letters", "queue" => "outbox")
                        .set(b.dead_effects as f64);
                }
                metrics::gauge!("fluxo_outbox_oldest_age_seconds").set(ms_to_secs(b.oldest_ms));
            }
            match rt.parked_timers().await {
                Ok(parked) => {
                    let total: i64 = parked.iter().map(|(_, n)| n).sum();
                    if total > 0 && !warned_parked {
                        warned_parked = true;
                        for (bot, n) in &parked {
                            tracing::warn!(target: "fluxo::runtime", bot = %bot, timers = n, "timers of a bot this service does not serve are parked until a replica serves it");
                        }
                    }
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!("fluxo_timers_parked").set(total as f64);
                }
                Err(e) => {
                    tracing::warn!(target: "fluxo::runtime", error = %e, "counting parked timers failed");
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
