//! Intents: an exact example first, else the TF-IDF cosine to the nearest examples.

use super::text::*;
use super::*;

impl Understanding {
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
        let mut tf: HashMap<&str, f64> = HashMap::new();
        for token in norm.split(' ').map(stem) {
            *tf.entry(token).or_insert(0.0) += 1.0;
        }
        let mut query: Vec<(u32, f64)> = Vec::new();
        let mut query_norm = 0.0;
        for (token, count) in tf {
            match self.vocabulary.get(token) {
                Some(&id) => {
                    let w = count * self.idf.get(id as usize).copied().unwrap_or(1.0);
                    query_norm += w * w;
                    query.push((id, w));
                }
                None => query_norm += (count * unknown_idf).powi(2),
            }
        }
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
            let score = (d / (norm * query_norm)).clamp(0.0, MAX_APPROXIMATE_CONFIDENCE);
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
