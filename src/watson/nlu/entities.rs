//! Dictionary, fuzzy and pattern entities, and the choice among overlapping matches.

use super::text::*;
use super::*;

impl Understanding {
    pub(super) fn entities(&self, text: &str, now: &str) -> Value {
        let chars: Vec<char> = text.chars().map(lower).collect();
        // Terms are matched without accents on either side (`nao` finds `não`).
        let folded: Vec<char> = chars.iter().copied().map(crate::text::fold).collect();
        let mut found = self.dictionary_matches(&folded);
        found.extend(self.fuzzy_matches(&folded));
        found.extend(self.pattern_matches(text));
        let found = select_per_entity(found);
        let system = self.system_matches(&chars, now);
        let original: Vec<char> = text.chars().collect();
        let literal = |start: usize, end: usize| -> String {
            original
                .get(start..end)
                .map(|s| s.iter().collect())
                .unwrap_or_default()
        };
        let mut out: Vec<(usize, usize, usize, Value)> = Vec::new();
        for (n, f) in found.into_iter().enumerate() {
            let Some(name) = self.entity_names.get(f.entity as usize) else {
                continue;
            };
            let mut o = Map::new();
            o.insert("entity".into(), json!(name));
            o.insert("location".into(), json!([f.start, f.end]));
            o.insert("value".into(), json!(f.value));
            o.insert("confidence".into(), json!(f.confidence));
            o.insert("literal".into(), json!(literal(f.start, f.end)));
            if let Some(m) = f.metadata {
                o.insert("metadata".into(), m);
            }
            if let Some(g) = f.groups {
                o.insert("groups".into(), g);
            }
            out.push((f.start, f.end, n, Value::Object(o)));
        }
        let offset = out.len();
        for (n, s) in system.into_iter().enumerate() {
            let mut o = Map::new();
            o.insert("entity".into(), json!(s.name));
            o.insert("location".into(), json!([s.start, s.end]));
            o.insert("value".into(), json!(s.value));
            o.insert("confidence".into(), json!(1.0));
            o.insert("literal".into(), json!(literal(s.start, s.end)));
            if let Some(m) = s.metadata {
                o.insert("metadata".into(), m);
            }
            out.push((s.start, s.end, offset + n, Value::Object(o)));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        Value::Array(out.into_iter().map(|(_, _, _, v)| v).collect())
    }

    /// Every dictionary term at every word start, the longest per entity at each start.
    pub(super) fn dictionary_matches(&self, chars: &[char]) -> Vec<Found> {
        let mut out = Vec::new();
        for start in 0..chars.len() {
            if !token_start(chars, start) {
                continue;
            }
            // (entity, end, value) of every term from `start`; per entity only the longest
            // are kept (several when one term belongs to several values).
            let mut hits: Vec<(u32, usize, u32)> = Vec::new();
            let mut node = 0u32;
            for (offset, c) in chars.iter().skip(start).enumerate() {
                let Some(&next) = self.dictionary.edges.get(&(node, *c)) else {
                    break;
                };
                node = next;
                let end = start + offset + 1;
                let ends = self.dictionary.ends.get(node as usize);
                if ends.is_some_and(|e| !e.is_empty()) && token_end(chars, end) {
                    for &(entity, value) in ends.into_iter().flatten() {
                        hits.push((entity, end, value));
                    }
                }
            }
            let mut longest: HashMap<u32, usize> = HashMap::new();
            for &(entity, end, _) in &hits {
                let l = longest.entry(entity).or_insert(end);
                *l = (*l).max(end);
            }
            for (entity, end, value) in hits {
                if longest.get(&entity) != Some(&end) {
                    continue;
                }
                if out.len() >= MAX_MATCHES {
                    return out;
                }
                out.push(Found {
                    entity,
                    start,
                    end,
                    value: self.value_name(value),
                    confidence: 1.0,
                    fuzzy: false,
                    metadata: None,
                    groups: None,
                });
            }
        }
        out
    }

    /// Runs of words within [`fuzzy_allowance`] of a term of an entity with `fuzzy_match`.
    pub(super) fn fuzzy_matches(&self, chars: &[char]) -> Vec<Found> {
        let mut out = Vec::new();
        if self.fuzzy.is_empty() {
            return out;
        }
        let spans = word_spans(chars);
        let words = spans.as_slice();
        let mut budget = FUZZY_BUDGET;
        let windows = self.fuzzy_word_counts.iter().flat_map(|&k| {
            (0..words.len().saturating_sub(k.saturating_sub(1)))
                .filter_map(move |first| words.get(first..first + k))
        });
        for window in windows {
            let Some(&(s0, e0)) = window.first() else {
                continue;
            };
            let first_len = e0 - s0;
            let lengths = first_len.saturating_sub(2)..=first_len + 2;
            let candidates = lengths
                .filter_map(|l| self.fuzzy_index.get(&(window.len(), l)))
                .flatten()
                .filter_map(|&t| self.fuzzy.get(t as usize));
            for term in candidates {
                let mut total = 0usize;
                let mut length = 0usize;
                let mut ok = true;
                for (w, t) in window.iter().zip(&term.words) {
                    let word = chars.get(w.0..w.1).unwrap_or_default();
                    let allowed = fuzzy_allowance(t.len());
                    match bounded_distance(word, t, allowed, &mut budget) {
                        Some(d) => {
                            total += d;
                            length += t.len();
                        }
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if budget == 0 {
                    return out;
                }
                if !ok || total == 0 || length == 0 {
                    continue;
                }
                let (Some(s), Some(e)) = (window.first(), window.last()) else {
                    continue;
                };
                if out.len() >= MAX_MATCHES {
                    return out;
                }
                let confidence = (1.0 - total as f64 / length as f64).clamp(0.0, 0.99);
                out.push(Found {
                    entity: term.entity,
                    start: s.0,
                    end: e.1,
                    value: self.value_name(term.value),
                    confidence,
                    fuzzy: true,
                    metadata: None,
                    groups: None,
                });
            }
        }
        out
    }

    pub(super) fn pattern_matches(&self, text: &str) -> Vec<Found> {
        let mut out = Vec::new();
        if self.patterns.is_empty() {
            return out;
        }
        let to_char = CharIndex::new(text);
        for p in &self.patterns {
            let groups = p.regex.captures_len();
            for caps in p.regex.captures_iter(text) {
                let Some(m) = caps.get(0) else {
                    continue;
                };
                if m.is_empty() {
                    continue;
                }
                if out.len() >= MAX_MATCHES {
                    return out;
                }
                let (start, end) = (to_char.of(m.start()), to_char.of(m.end()));
                let groups = (groups > 1).then(|| {
                    Value::Array(
                        (0..groups)
                            .filter_map(|g| {
                                let c = caps.get(g)?;
                                Some(json!({
                                    "group": format!("group_{g}"),
                                    "location": [to_char.of(c.start()), to_char.of(c.end())],
                                }))
                            })
                            .collect(),
                    )
                });
                out.push(Found {
                    entity: p.entity,
                    start,
                    end,
                    value: self.value_name(p.value),
                    confidence: 1.0,
                    fuzzy: false,
                    metadata: None,
                    groups,
                });
            }
        }
        out
    }

    pub(super) fn value_name(&self, value: u32) -> String {
        self.value_names
            .get(value as usize)
            .cloned()
            .unwrap_or_default()
    }
}

/// Per entity, the longest matches first (exact before fuzzy), dropping any that overlaps a
/// match already kept for the same entity. Matches of different entities may overlap, as in
/// Watson.
pub(super) fn select_per_entity(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by(|a, b| {
        a.entity
            .cmp(&b.entity)
            .then(a.fuzzy.cmp(&b.fuzzy))
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Found> = Vec::new();
    for f in found {
        // One term may be a synonym of two values: both are kept, on the same span.
        let clash = kept.iter().any(|k| {
            let same_span = k.start == f.start && k.end == f.end && !k.fuzzy && !f.fuzzy;
            k.entity == f.entity && k.start < f.end && f.start < k.end && !same_span
        });
        if !clash {
            kept.push(f);
        }
    }
    kept
}
