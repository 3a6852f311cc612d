//! Where effects run: one bounded pool per lane (each provider, and the channel), so a provider
//! that hangs holds only its own pool's workers and every other provider's hand-overs, relays
//! and closes go on; and the record of the effects this process is performing, which graceful
//! shutdown waits for (and hands back to the store when they outlast it).
//!
//! The order within one conversation is kept by the store, not here: only the oldest undone
//! effect of a conversation and lane can be claimed, so a pool may run many conversations at
//! once but never two effects of one conversation's lane.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Notify, Semaphore};

/// Effects of one lane performed at once by one process.
pub(crate) const LANE_WORKERS: usize = 16;
/// Effects claimed by the workers and not finished, at most (beyond that they wait in the
/// store, where any replica can take them).
pub(crate) const MAX_IN_FLIGHT: usize = 128;

/// The lanes' pools and the effects in flight.
#[derive(Default)]
pub(crate) struct Pools {
    lanes: Mutex<HashMap<String, Arc<Semaphore>>>,
    in_flight: Mutex<HashSet<i64>>,
    idle: Notify,
}

/// An effect being performed; dropping it records the end.
pub(crate) struct Running<'a> {
    pools: &'a Pools,
    id: i64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.pools
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        self.pools.idle.notify_waiters();
    }
}

impl Pools {
    /// The pool of `lane` (`provider:zendesk`, `channel`). Lanes are a fixed, small set.
    pub(crate) fn lane(&self, lane: &str) -> Arc<Semaphore> {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(lane.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(LANE_WORKERS)))
            .clone()
    }

    /// Records that effect `id` starts; `None` when this process already performs it (a
    /// claim can only repeat after its lease ran out, and the heartbeat prevents that, but a
    /// second run here would be a second provider call).
    pub(crate) fn start(&self, id: i64) -> Option<Running<'_>> {
        let fresh = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
        fresh.then_some(Running { pools: self, id })
    }

    /// How many effects are being performed.
    pub(crate) fn count(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The effects being performed.
    pub(crate) fn running(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// Waits until no effect is being performed, or `deadline`; returns whether none is.
    pub(crate) async fn idle(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let woken = self.idle.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return self.count() == 0;
            }
        }
    }
}
