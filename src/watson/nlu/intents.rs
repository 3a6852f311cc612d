//! Intents: an exact example first, else the TF-IDF cosine to the nearest examples.

use super::similar;
use super::text::*;
use super::*;

/// What a score keeps when only one of the message and the example says no.
const NEGATION_FACTOR: f64 = 0.6;
/// The lead over the runner-up from which the top score is not lowered.
const CLEAR_MARGIN: f64 = 0.25;

impl Understanding {
    /// The message's scoring words: stemmed, with compounds written apart or together as the
    /// examples write them (`goodbye` for an example's `good bye`, and the other way round).
    fn compounds(&self, norm: &str) -> Vec<String> {
        let words: Vec<&str> = norm.split(' ').map(stem).collect();
        let known = |w: &str| self.vocabulary.contains_key(w);
        let mut out = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            let w = words.get(i).copied().unwrap_or_default();
            if let Some(&next) = words.get(i + 1) {
                let joined = format!("{w}{next}");
                if !(known(w) && known(next)) && known(stem(&joined)) {
                    out.push(stem(&joined).to_owned());
                    i += 2;
                    continue;
                }
            }
            if !known(w) {
                let split = w
                    .char_indices()
                    .skip(2)
                    .map(|(b, _)| b)
                    .filter(|&b| w.len() - b >= 2)
                    .find_map(|b| {
                        let (a, c) = (w.get(..b)?, w.get(b..)?);
                        (known(a) && known(stem(c))).then(|| (a.to_owned(), stem(c).to_owned()))
                    });
                if let Some((a, c)) = split {
                    out.push(a);
                    out.push(c);
                    i += 1;
                    continue;
                }
            }
            out.push(w.to_owned());
            i += 1;
        }
        out
    }

    pub(super) fn classify(&self, text: &str) -> Value {
        let norm = normalise(text);
        if norm.is_empty() || self.counterexamples.contains(&norm) {
            return Value::Array(Vec::new());
        }
        let mut scores: Vec<(u32, f64)> = Vec::new();
        let exact = self.exact.get(&norm);
        for &i in exact.into_iter().flatten() {
            scores.push((i, 1.0));
        }
        // Query weights: unknown words count in the norm with the highest idf, so a message
        // mostly about something else scores low.
        let unknown_idf = ((self.example_intent.len() as f64) + 1.0).ln() + 1.0;
        let mut tf: HashMap<String, f64> = HashMap::new();
        for token in self.compounds(&norm) {
            *tf.entry(token).or_insert(0.0) += 1.0;
        }
        let says_no = negated(&norm);
        let mut weights: HashMap<u32, f64> = HashMap::new();
        let mut query_norm = 0.0;
        let mut trigram_budget = similar::TRIGRAM_BUDGET;
        for (token, count) in tf {
            let idf = |id: u32| self.idf.get(id as usize).copied().unwrap_or(1.0);
            if let Some(&id) = self.vocabulary.get(&token) {
                let w = count * idf(id);
                query_norm += w * w;
                *weights.entry(id).or_insert(0.0) += w;
            } else if let Some((id, alike)) = self.similar(&token, &mut trigram_budget) {
                // A word read as another counts in the norm as that word, and for less in
                // the match when it is only alike.
                let w = count * idf(id);
                query_norm += w * w;
                *weights.entry(id).or_insert(0.0) += w * alike;
            } else {
                query_norm += (count * unknown_idf).powi(2);
            }
        }
        let mut query: Vec<(u32, f64)> = weights.into_iter().collect();
        let query_norm = query_norm.sqrt();
        // Rarest words first: when the budget runs out, the words left are the common ones.
        query.sort_by(|a, b| {
            let ia = self.idf.get(a.0 as usize).copied().unwrap_or(0.0);
            let ib = self.idf.get(b.0 as usize).copied().unwrap_or(0.0);
            ib.total_cmp(&ia).then(a.0.cmp(&b.0))
        });
        // Dense accumulators: a message touches many examples, and a hash map per message
        // costs more than one pass over the examples.
        let mut dot = vec![0.0f64; self.example_intent.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut budget = INTENT_BUDGET;
        'query: for (id, wq) in query {
            for &(example, we) in self.postings.get(id as usize).into_iter().flatten() {
                if budget == 0 {
                    break 'query;
                }
                budget -= 1;
                if let Some(d) = dot.get_mut(example as usize) {
                    if *d == 0.0 {
                        touched.push(example);
                    }
                    *d += wq * we;
                }
            }
        }
        let mut best: HashMap<u32, f64> = HashMap::new();
        for example in touched {
            let (Some(&d), Some(&intent), Some(&norm)) = (
                dot.get(example as usize),
                self.example_intent.get(example as usize),
                self.example_norm.get(example as usize),
            ) else {
                continue;
            };
            if norm <= 0.0 || query_norm <= 0.0 {
                continue;
            }
            let mut score = (d / (norm * query_norm)).clamp(0.0, MAX_APPROXIMATE_CONFIDENCE);
            // "absolutely not" is not "absolutely": a message and an example of which only
            // one says no are farther apart than their words.
            if self.example_negated.get(example as usize).copied() != Some(says_no) {
                score *= NEGATION_FACTOR;
            }
            let entry = best.entry(intent).or_insert(0.0);
            if score > *entry {
                *entry = score;
            }
        }
        for (intent, score) in best {
            if score > 0.0 && !scores.iter().any(|(i, _)| *i == intent) {
                scores.push((intent, score));
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scores.truncate(MAX_INTENTS);
        // A weak decision is a weak confidence: when the runner-up is close, every score is
        // lowered by up to 40 % (order kept), so a coin toss does not pass a
        // `confidence > 0.7` guard. An exact example keeps its 1.0.
        if let Some(&(_, top)) = scores.first() {
            if top < 1.0 {
                let second = scores.get(1).map_or(0.0, |s| s.1);
                let margin = ((top - second) / CLEAR_MARGIN).clamp(0.0, 1.0);
                let factor = 0.6 + 0.4 * margin;
                for s in &mut scores {
                    s.1 *= factor;
                }
            }
        }
        Value::Array(
            scores
                .into_iter()
                .filter_map(|(i, c)| {
                    let name = self.intents.get(i as usize)?;
                    Some(json!({ "intent": name, "confidence": c }))
                })
                .collect(),
        )
    }
}
