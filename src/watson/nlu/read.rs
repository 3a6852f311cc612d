//! Reading the workspace: entity values, synonyms and patterns, the system entities it
//! enables, and the intents' examples into the TF-IDF index.

use super::text::*;
use super::*;
use crate::text::fold;

impl Understanding {
    pub(super) fn read_entities(&mut self, ws: &Value) {
        let entities = ws.get("entities").and_then(Value::as_array);
        for e in entities.into_iter().flatten() {
            let Some(name) = e.get("entity").and_then(Value::as_str) else {
                continue;
            };
            match name {
                "sys-number" => self.system.number = true,
                "sys-percentage" => self.system.percentage = true,
                "sys-currency" => self.system.currency = true,
                "sys-date" => self.system.date = true,
                "sys-time" => self.system.time = true,
                _ => {}
            }
            if name.starts_with("sys-") {
                continue;
            }
            let Ok(entity) = u32::try_from(self.entity_names.len()) else {
                return;
            };
            self.entity_names.push(name.to_owned());
            let fuzzy = e.get("fuzzy_match").and_then(Value::as_bool) == Some(true);
            let values = e.get("values").and_then(Value::as_array);
            for v in values.into_iter().flatten() {
                let Some(value_name) = v.get("value").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(value) = u32::try_from(self.value_names.len()) else {
                    return;
                };
                self.value_names.push(value_name.to_owned());
                if v.get("type").and_then(Value::as_str) == Some("patterns") {
                    let patterns = v.get("patterns").and_then(Value::as_array);
                    for p in patterns.into_iter().flatten().filter_map(Value::as_str) {
                        if self.patterns.len() >= MAX_PATTERNS || p.len() > MAX_PATTERN_LEN {
                            continue;
                        }
                        if let Ok(regex) = RegexBuilder::new(p)
                            .size_limit(PATTERN_SIZE_LIMIT)
                            .dfa_size_limit(PATTERN_SIZE_LIMIT)
                            .build()
                        {
                            self.patterns.push(Pattern {
                                entity,
                                value,
                                regex,
                            });
                        }
                    }
                    continue;
                }
                let synonyms = v.get("synonyms").and_then(Value::as_array);
                let terms = std::iter::once(value_name)
                    .chain(synonyms.into_iter().flatten().filter_map(Value::as_str));
                for term in terms {
                    let chars: Vec<char> = term.trim().chars().map(lower).map(fold).collect();
                    if chars.is_empty() {
                        continue;
                    }
                    self.dictionary.insert(&chars, entity, value);
                    if fuzzy {
                        let words = words_of(&chars);
                        if !words.is_empty() {
                            self.fuzzy.push(FuzzyTerm {
                                entity,
                                value,
                                words,
                            });
                        }
                    }
                }
            }
        }
    }

    pub(super) fn read_intents(&mut self, ws: &Value) {
        let mut examples: Vec<(u32, HashMap<u32, f64>)> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let intents = ws.get("intents").and_then(Value::as_array);
        for i in intents.into_iter().flatten() {
            let Some(name) = i.get("intent").and_then(Value::as_str) else {
                continue;
            };
            let Ok(intent) = u32::try_from(self.intents.len()) else {
                break;
            };
            self.intents.push(name.to_owned());
            let list = i.get("examples").and_then(Value::as_array);
            for ex in list.into_iter().flatten() {
                let Some(text) = ex.get("text").and_then(Value::as_str) else {
                    continue;
                };
                let norm = normalise(text);
                if norm.is_empty() {
                    continue;
                }
                self.example_negated.push(negated(&norm));
                let holders = self.exact.entry(norm.clone()).or_default();
                if !holders.contains(&intent) {
                    holders.push(intent);
                }
                let mut tf: HashMap<u32, f64> = HashMap::new();
                for token in norm.split(' ').map(stem) {
                    let next = u32::try_from(self.vocabulary.len()).unwrap_or(u32::MAX);
                    let id = *self.vocabulary.entry(token.to_owned()).or_insert(next);
                    if id as usize == df.len() {
                        df.push(0);
                    }
                    let count = tf.entry(id).or_insert(0.0);
                    if *count == 0.0 {
                        if let Some(d) = df.get_mut(id as usize) {
                            *d += 1;
                        }
                    }
                    *count += 1.0;
                }
                examples.push((intent, tf));
            }
        }
        let counter = ws.get("counterexamples").and_then(Value::as_array);
        for c in counter.into_iter().flatten() {
            if let Some(text) = c.get("text").and_then(Value::as_str) {
                self.counterexamples.insert(normalise(text));
            }
        }
        let n = examples.len() as f64;
        self.idf = df
            .iter()
            .map(|&d| ((n + 1.0) / (f64::from(d) + 1.0)).ln() + 1.0)
            .collect();
        // Saying no weighs as much as a rare word, however many examples say it: "absolutely
        // not" is nearer "certainly not" than "absolutely".
        let floor = 0.75 * (n + 1.0).ln() + 1.0;
        for w in NEGATIONS {
            if let Some(&id) = self.vocabulary.get(w) {
                if let Some(idf) = self.idf.get_mut(id as usize) {
                    *idf = idf.max(floor);
                }
            }
        }
        self.postings = vec![Vec::new(); self.idf.len()];
        for (index, (intent, tf)) in examples.into_iter().enumerate() {
            let Ok(index) = u32::try_from(index) else {
                break;
            };
            let mut norm = 0.0;
            for (&token, &count) in &tf {
                let weight = count * self.idf.get(token as usize).copied().unwrap_or(1.0);
                norm += weight * weight;
                if let Some(p) = self.postings.get_mut(token as usize) {
                    p.push((index, weight));
                }
            }
            self.example_intent.push(intent);
            self.example_norm.push(norm.sqrt());
        }
    }
}
