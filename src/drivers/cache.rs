//! A small map whose entries expire and whose size is bounded, for tokens a driver reuses
//! (LivePerson's ConsumerJWS per conversation). A process that serves many conversations must
//! not keep one token per conversation for ever: an entry is dropped once it expires, and a
//! full map first forgets what expired, then everything (the next call asks the provider again;
//! tokens are a cache, never the truth).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A bounded map of expiring entries.
#[derive(Debug)]
pub struct Expiring<K, V> {
    entries: HashMap<K, (V, Instant)>,
    capacity: usize,
    ttl: Duration,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    /// At most `capacity` entries, each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Expiring<K, V> {
        Expiring {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// The entry for `key`, unless it expired (then it is dropped).
    pub fn get(&mut self, key: &K, now: Instant) -> Option<V> {
        match self.entries.get(key) {
            Some((v, until)) if *until > now => Some(v.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `key` until `now + ttl`.
    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, now + self.ttl));
    }

    /// Forgets `key` (a token the provider refused).
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Expiring;
    use std::time::{Duration, Instant};

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let t0 = Instant::now();
        let mut m = Expiring::new(100, Duration::from_secs(60));
        for i in 0..10_000 {
            m.insert(i, format!("token-{i}"), t0);
            assert!(m.len() <= 100, "bounded");
        }
        m.insert(-1, "late".to_owned(), t0);
        assert_eq!(
            m.get(&-1, t0 + Duration::from_secs(59)),
            Some("late".into())
        );
        assert_eq!(m.get(&-1, t0 + Duration::from_secs(61)), None, "expired");
        assert_eq!(m.get(&-1, t0), None, "and dropped");
        // A full map whose entries expired makes room by dropping them only.
        let mut m = Expiring::new(2, Duration::from_secs(1));
        m.insert("a", 1, t0);
        m.insert("b", 2, t0 + Duration::from_secs(5));
        m.insert("c", 3, t0 + Duration::from_secs(5));
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(5)), None);
        assert_eq!(m.get(&"b", t0 + Duration::from_secs(5)), Some(2));
        assert_eq!(m.get(&"c", t0 + Duration::from_secs(5)), Some(3));
    }
}
