//! The offline understanding of a Watson Assistant workspace: the intents and entities of a
//! message when the request does not carry them.
//!
//! Watson's own classifier is a trained model that fluxo cannot reproduce; this module is a
//! documented approximation of it (see `docs/watson-nlu.md`):
//!
//! * **intents** — the nearest training example: an example equal to the message (after
//!   normalisation: lower case, accents and punctuation removed) gives its intent confidence 1.0;
//!   otherwise a TF-IDF cosine between the message and every example, each intent scored by its
//!   best example, at most [`MAX_INTENTS`], best first;
//! * **dictionary entities** — every value and synonym, case-insensitive, on word boundaries,
//!   longest match first, no two matches of one entity overlapping; with `"fuzzy_match": true`
//!   also words within a small edit distance ([`fuzzy_allowance`]);
//! * **pattern entities** — the value's `patterns` as regular expressions (`regex` crate syntax,
//!   which covers what the corpus uses; a pattern that does not compile is skipped);
//! * **system entities** the workspace enables (`sys-number`, `sys-percentage`,
//!   `sys-currency`, `sys-date`, `sys-time`), in English and Portuguese basics.
//!
//! Locations count Unicode scalar values (Rust `char`s), the unit fluxo's expression
//! language uses for `substring` and `length`, so `input.text.substring(@e.location[0],
//! @e.location[1])` gives the literal back. Watson, written in Java, counts UTF-16 code units:
//! the two differ only after a character outside the Basic Multilingual Plane (an emoji).
//!
//! Work is bounded whatever the input: only the first [`MAX_TEXT_CHARS`] characters of a
//! message are read (Watson rejects longer `input.text`), fuzzy matching and the intent
//! scoring have fixed budgets, and patterns are compiled with size limits.

use jiff::civil::{Date, Weekday};
use jiff::ToSpan as _;
use regex::{Regex, RegexBuilder};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// Characters of a message the matcher reads: Watson's limit on `input.text`.
pub const MAX_TEXT_CHARS: usize = 2048;
/// Intents returned at most, as Watson's `alternate_intents` list.
pub const MAX_INTENTS: usize = 10;
/// Patterns compiled at most per workspace; the rest are skipped.
pub const MAX_PATTERNS: usize = 1000;
/// Longest pattern compiled, in bytes (Watson's API documents 128 characters; this leaves room).
pub const MAX_PATTERN_LEN: usize = 512;
/// The confidence a non-exact intent match cannot exceed: 1.0 means the exact example.
pub const MAX_APPROXIMATE_CONFIDENCE: f64 = 0.99;
/// Edit-distance cells computed at most per message for fuzzy entities.
const FUZZY_BUDGET: usize = 2_000_000;
/// Index postings visited at most per message when scoring intents.
const INTENT_BUDGET: usize = 4_000_000;
/// Matches of each kind (dictionary, fuzzy, pattern) kept at most per message.
pub const MAX_MATCHES: usize = 2048;
/// Longest word, in characters, that fuzzy matching compares.
const MAX_FUZZY_WORD: usize = 64;
/// Compiled size limit of one pattern.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// What the matcher knows of a workspace: built once, used for every message.
#[derive(Debug, Clone)]
pub struct Understanding {
    language: Language,
    entity_names: Vec<String>,
    value_names: Vec<String>,
    dictionary: Trie,
    fuzzy: Vec<FuzzyTerm>,
    /// Fuzzy terms by (words, characters of the first word), so a window of the message is
    /// compared only with terms of a length it can be within reach of.
    fuzzy_index: HashMap<(usize, usize), Vec<u32>>,
    /// The distinct word counts of fuzzy terms.
    fuzzy_word_counts: Vec<usize>,
    patterns: Vec<Pattern>,
    system: SystemEntities,
    intents: Vec<String>,
    exact: HashMap<String, Vec<u32>>,
    counterexamples: HashSet<String>,
    vocabulary: HashMap<String, u32>,
    idf: Vec<f64>,
    postings: Vec<Vec<(u32, f64)>>,
    example_intent: Vec<u32>,
    example_norm: Vec<f64>,
}

/// The language conventions the matcher follows, from the workspace's `language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    /// English: `1,000.5`, `mm/dd/yyyy`.
    English,
    /// Portuguese: `1.000,5`, `dd/mm/yyyy`.
    Portuguese,
    /// Another language with a decimal comma (de, es, fr, it, nl): digits as Portuguese,
    /// no number or date words.
    OtherComma,
}

#[derive(Debug, Clone, Copy, Default)]
struct SystemEntities {
    number: bool,
    percentage: bool,
    currency: bool,
    date: bool,
    time: bool,
}

/// Dictionary terms (values and synonyms) in a character trie, lower case.
#[derive(Debug, Clone, Default)]
struct Trie {
    edges: HashMap<(u32, char), u32>,
    /// Per node, the (entity, value) pairs whose term ends there.
    ends: Vec<Vec<(u32, u32)>>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            edges: HashMap::new(),
            ends: vec![Vec::new()],
        }
    }

    fn insert(&mut self, term: &[char], entity: u32, value: u32) {
        let mut node = 0u32;
        for &c in term {
            node = match self.edges.get(&(node, c)) {
                Some(&n) => n,
                None => {
                    let Ok(n) = u32::try_from(self.ends.len()) else {
                        return;
                    };
                    self.ends.push(Vec::new());
                    self.edges.insert((node, c), n);
                    n
                }
            };
        }
        if let Some(ends) = self.ends.get_mut(node as usize) {
            if !ends.contains(&(entity, value)) {
                ends.push((entity, value));
            }
        }
    }
}

#[derive(Debug, Clone)]
struct FuzzyTerm {
    entity: u32,
    value: u32,
    words: Vec<Vec<char>>,
}

#[derive(Debug, Clone)]
struct Pattern {
    entity: u32,
    value: u32,
    regex: Regex,
}

/// One entity found in a message, before it becomes JSON.
#[derive(Debug, Clone)]
struct Found {
    entity: u32,
    start: usize,
    end: usize,
    value: String,
    confidence: f64,
    fuzzy: bool,
    metadata: Option<Value>,
    groups: Option<Value>,
}

/// The same entity name for a system entity, kept apart from workspace entities.
#[derive(Debug, Clone)]
struct SystemFound {
    name: &'static str,
    start: usize,
    end: usize,
    value: String,
    metadata: Option<Value>,
}

impl Understanding {
    /// Builds the matcher from a workspace JSON (top-level `intents`, `entities`,
    /// `system_settings`, `language`; the caller unwraps `{"workspace": …}` exports).
    ///
    /// Malformed parts (a value that is not a string, a pattern that does not compile) are
    /// skipped; building never fails.
    pub fn from_workspace(ws: &Value) -> Understanding {
        let lang = ws
            .get("language")
            .and_then(Value::as_str)
            .unwrap_or("en")
            .to_ascii_lowercase();
        let language = if lang.starts_with("pt") {
            Language::Portuguese
        } else if ["de", "es", "fr", "it", "nl"]
            .iter()
            .any(|l| lang.starts_with(l))
        {
            Language::OtherComma
        } else {
            Language::English
        };
        let mut u = Understanding {
            language,
            entity_names: Vec::new(),
            value_names: Vec::new(),
            dictionary: Trie::new(),
            fuzzy: Vec::new(),
            fuzzy_index: HashMap::new(),
            fuzzy_word_counts: Vec::new(),
            patterns: Vec::new(),
            system: SystemEntities::default(),
            intents: Vec::new(),
            exact: HashMap::new(),
            counterexamples: HashSet::new(),
            vocabulary: HashMap::new(),
            idf: Vec::new(),
            postings: Vec::new(),
            example_intent: Vec::new(),
            example_norm: Vec::new(),
        };
        u.read_entities(ws);
        for (n, term) in u.fuzzy.iter().enumerate() {
            let (Ok(n), Some(first)) = (u32::try_from(n), term.words.first()) else {
                continue;
            };
            let k = term.words.len();
            u.fuzzy_index.entry((k, first.len())).or_default().push(n);
            if !u.fuzzy_word_counts.contains(&k) {
                u.fuzzy_word_counts.push(k);
            }
        }
        u.read_intents(ws);
        u
    }

    fn read_entities(&mut self, ws: &Value) {
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
                    let chars: Vec<char> = term.trim().chars().map(lower).collect();
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

    fn read_intents(&mut self, ws: &Value) {
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

    /// Watson v1 `intents` (`[{"intent","confidence"}]`, best first, at most [`MAX_INTENTS`])
    /// and `entities` (`[{"entity","location":[start,end],"value","confidence","literal"}]`,
    /// in text order, with `metadata` for system entities and `groups` for patterns with
    /// capture groups) for `text`.
    ///
    /// `location` counts characters (Unicode scalar values; see the module documentation).
    /// `now` (RFC 3339, the session clock) anchors relative dates for `sys-date`; when it does
    /// not start with a `YYYY-MM-DD` date, relative dates (`today`, weekdays) are not found.
    pub fn understand(&self, text: &str, now: &str) -> (Value, Value) {
        let text = prefix_chars(text, MAX_TEXT_CHARS);
        (self.classify(text), self.entities(text, now))
    }

    fn classify(&self, text: &str) -> Value {
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

    fn entities(&self, text: &str, now: &str) -> Value {
        let chars: Vec<char> = text.chars().map(lower).collect();
        let mut found = self.dictionary_matches(&chars);
        found.extend(self.fuzzy_matches(&chars));
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
    fn dictionary_matches(&self, chars: &[char]) -> Vec<Found> {
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
    fn fuzzy_matches(&self, chars: &[char]) -> Vec<Found> {
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

    fn pattern_matches(&self, text: &str) -> Vec<Found> {
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

    fn value_name(&self, value: u32) -> String {
        self.value_names
            .get(value as usize)
            .cloned()
            .unwrap_or_default()
    }

    fn system_matches(&self, chars: &[char], now: &str) -> Vec<SystemFound> {
        let s = self.system;
        if !(s.number || s.percentage || s.currency || s.date || s.time) {
            return Vec::new();
        }
        let folded: Vec<char> = chars.iter().copied().map(fold).collect();
        let today = now.get(..10).and_then(|d| d.parse::<Date>().ok());
        let mut out = Vec::new();
        let dates = if s.date {
            find_dates(&folded, self.language, today)
        } else {
            Vec::new()
        };
        let times = if s.time {
            find_times(&folded)
        } else {
            Vec::new()
        };
        let numbers = find_numbers(&folded, self.language);
        let inside = |n: &Num, spans: &[SystemFound]| {
            spans.iter().any(|d| n.start >= d.start && n.end <= d.end)
        };
        for n in &numbers {
            if inside(n, &dates) || inside(n, &times) {
                continue;
            }
            let meta = || Some(json!({ "numeric_value": n.numeric }));
            if s.number {
                out.push(SystemFound {
                    name: "sys-number",
                    start: n.start,
                    end: n.end,
                    value: n.value.clone(),
                    metadata: meta(),
                });
            }
            if s.percentage {
                if let Some(end) = percent_suffix(&folded, n.end) {
                    out.push(SystemFound {
                        name: "sys-percentage",
                        start: n.start,
                        end,
                        value: n.value.clone(),
                        metadata: meta(),
                    });
                }
            }
            if s.currency {
                if let Some((start, end, unit)) = currency_around(&folded, n) {
                    out.push(SystemFound {
                        name: "sys-currency",
                        start,
                        end,
                        value: n.value.clone(),
                        metadata: Some(json!({ "numeric_value": n.numeric, "unit": unit })),
                    });
                }
            }
        }
        out.extend(dates);
        out.extend(times);
        out
    }
}

/// Per entity, the longest matches first (exact before fuzzy), dropping any that overlaps a
/// match already kept for the same entity. Matches of different entities may overlap, as in
/// Watson.
fn select_per_entity(mut found: Vec<Found>) -> Vec<Found> {
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

/// Byte offsets of a string to character offsets.
struct CharIndex(Vec<usize>);

impl CharIndex {
    fn new(text: &str) -> CharIndex {
        CharIndex(text.char_indices().map(|(b, _)| b).collect())
    }

    fn of(&self, byte: usize) -> usize {
        match self.0.binary_search(&byte) {
            Ok(i) | Err(i) => i,
        }
    }
}

/// The first `n` characters of `text`.
fn prefix_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((b, _)) => text.get(..b).unwrap_or(text),
        None => text,
    }
}

/// Lower case, one character for one (a character whose lower case is longer stays as is),
/// so character offsets stay those of the original text.
fn lower(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// The accent-free letter of a lower-case Latin letter (Latin-1 and the Portuguese,
/// Spanish, French, German and Italian letters of Latin Extended-A); others unchanged.
pub fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// The form training examples and messages are compared in: lower case, accents removed,
/// every run of characters that are not letters or digits one space, trimmed. A text of
/// punctuation only keeps it, without spaces (`?` is an example of IBM's banking samples).
pub fn normalise(text: &str) -> String {
    let words = normalise_words(text);
    if words.is_empty() {
        return text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(lower)
            .collect();
    }
    words
}

fn normalise_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().map(lower).map(fold) {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    out
}

/// The word intents are scored on: a plural `s` removed from words of more than three letters
/// (`pizzas` → `pizza`; not `ss`, `us`, `is`), the same in English and Portuguese.
fn stem(word: &str) -> &str {
    let plural = word.chars().count() > 3
        && word.ends_with('s')
        && !["ss", "us", "is"].iter().any(|e| word.ends_with(e));
    if plural {
        word.get(..word.len() - 1).unwrap_or(word)
    } else {
        word
    }
}

/// Edits allowed to a fuzzy word of `len` characters: none below 4, one for 4 to 8, two above.
pub fn fuzzy_allowance(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=8 => 1,
        _ => 2,
    }
}

/// Whether a token (a run of letters and digits, or any other single non-space character)
/// starts at `i`.
fn token_start(chars: &[char], i: usize) -> bool {
    let Some(c) = chars.get(i) else {
        return false;
    };
    if c.is_whitespace() {
        return false;
    }
    if !c.is_alphanumeric() {
        return true;
    }
    match i.checked_sub(1).and_then(|p| chars.get(p)) {
        Some(p) => !p.is_alphanumeric(),
        None => true,
    }
}

/// Whether a match may end before `i`: not inside a run of letters and digits.
fn token_end(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).and_then(|p| chars.get(p));
    match (before, chars.get(i)) {
        (Some(b), Some(a)) => !(b.is_alphanumeric() && a.is_alphanumeric()),
        _ => true,
    }
}

/// The runs of letters and digits of a term.
fn words_of(chars: &[char]) -> Vec<Vec<char>> {
    word_spans(chars)
        .into_iter()
        .filter_map(|(s, e)| chars.get(s..e).map(<[char]>::to_vec))
        .collect()
}

/// (start, end) of every run of letters and digits.
fn word_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, chars.len()));
    }
    out
}

/// Levenshtein distance of `a` and `b` when at most `max`, charging the cells computed to
/// `budget`; `None` when farther, too long, or out of budget.
fn bounded_distance(a: &[char], b: &[char], max: usize, budget: &mut usize) -> Option<usize> {
    // Every comparison costs at least one unit, so the number of them is bounded too.
    *budget = budget.checked_sub(1)?;
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if max == 0 {
        return (a == b).then_some(0);
    }
    if a.len() > MAX_FUZZY_WORD || b.len() > MAX_FUZZY_WORD {
        return None;
    }
    let cells = (a.len() + 1) * (b.len() + 1);
    if *budget < cells {
        *budget = 0;
        return None;
    }
    *budget -= cells;
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        let mut row_min = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let ins = row.get(j).copied().unwrap_or(usize::MAX - 1) + 1;
            let sub = prev.get(j).copied().unwrap_or(usize::MAX - 1) + cost;
            let v = del.min(ins).min(sub);
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = v;
            }
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev.last().copied().filter(|&d| d <= max)
}

/// A number found in a message.
#[derive(Debug, Clone)]
struct Num {
    start: usize,
    end: usize,
    /// The canonical text: digits, `-` and `.` as the decimal point, no grouping.
    value: String,
    numeric: Value,
}

fn number_value(canonical: String, start: usize, end: usize) -> Option<Num> {
    let f: f64 = canonical.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let numeric = if canonical.contains('.') {
        json!(f)
    } else {
        match canonical.parse::<i64>() {
            Ok(i) => json!(i),
            Err(_) => json!(f),
        }
    };
    Some(Num {
        start,
        end,
        value: canonical,
        numeric,
    })
}

const EN_NUMBERS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];
const PT_NUMBERS: [(&str, u8); 15] = [
    ("zero", 0),
    ("um", 1),
    ("uma", 1),
    ("dois", 2),
    ("duas", 2),
    ("tres", 3),
    ("quatro", 4),
    ("cinco", 5),
    ("seis", 6),
    ("sete", 7),
    ("oito", 8),
    ("nove", 9),
    ("dez", 10),
    ("onze", 11),
    ("doze", 12),
];

/// Numbers in digits (grouping and decimal separators by language) and number words.
fn find_numbers(chars: &[char], language: Language) -> Vec<Num> {
    let (group, decimal) = match language {
        Language::English => (',', '.'),
        Language::Portuguese | Language::OtherComma => ('.', ','),
    };
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p));
        if !digit(i) || prev.is_some_and(|p| p.is_alphanumeric()) {
            i += 1;
            continue;
        }
        let negative = prev == Some(&'-')
            && !i
                .checked_sub(2)
                .and_then(|p| chars.get(p))
                .is_some_and(|p| p.is_alphanumeric());
        let start = if negative { i - 1 } else { i };
        let mut canonical = String::new();
        if negative {
            canonical.push('-');
        }
        let mut j = i;
        let mut run = 0;
        while digit(j) {
            canonical.extend(chars.get(j));
            j += 1;
            run += 1;
        }
        // Thousands groups: the separator then exactly three digits.
        if run <= 3 {
            while chars.get(j) == Some(&group)
                && digit(j + 1)
                && digit(j + 2)
                && digit(j + 3)
                && !digit(j + 4)
            {
                canonical.extend(chars.get(j + 1..j + 4).into_iter().flatten());
                j += 4;
            }
        }
        if chars.get(j) == Some(&decimal) && digit(j + 1) {
            canonical.push('.');
            j += 1;
            while digit(j) {
                canonical.extend(chars.get(j));
                j += 1;
            }
            while canonical.ends_with('0') {
                canonical.pop();
            }
            if canonical.ends_with('.') {
                canonical.pop();
            }
        }
        if let Some(n) = number_value(canonical, start, j) {
            out.push(n);
        }
        i = j.max(i + 1);
    }
    let words: Vec<(&str, u8)> = match language {
        Language::English => EN_NUMBERS.iter().zip(0u8..).map(|(w, n)| (*w, n)).collect(),
        Language::Portuguese => PT_NUMBERS.to_vec(),
        Language::OtherComma => Vec::new(),
    };
    for (s, e) in word_spans(chars) {
        let Some(word) = chars.get(s..e) else {
            continue;
        };
        let word: String = word.iter().collect();
        if let Some((_, n)) = words.iter().find(|(w, _)| *w == word) {
            if let Some(num) = number_value(n.to_string(), s, e) {
                out.push(num);
            }
        }
    }
    out.sort_by_key(|n| n.start);
    out
}

/// `true` when `phrase` (lower case, accent-free) is at `i` on word boundaries; its end.
fn phrase_at(chars: &[char], i: usize, phrase: &str) -> Option<usize> {
    let mut j = i;
    for p in phrase.chars() {
        if chars.get(j) != Some(&p) {
            return None;
        }
        j += 1;
    }
    (token_start(chars, i) && token_end(chars, j)).then_some(j)
}

/// The end of `%`, ` %`, `percent` or `por cento` right after a number ending at `end`.
fn percent_suffix(chars: &[char], end: usize) -> Option<usize> {
    let at = if chars.get(end) == Some(&' ') {
        end + 1
    } else {
        end
    };
    if chars.get(at) == Some(&'%') {
        return Some(at + 1);
    }
    let at = if chars.get(end) == Some(&' ') {
        end + 1
    } else {
        return None;
    };
    ["percent", "per cent", "por cento", "porcento"]
        .iter()
        .find_map(|p| phrase_at(chars, at, p))
}

const CURRENCY_PREFIXES: [(&str, &str); 8] = [
    ("us$", "USD"),
    ("r$", "BRL"),
    ("usd", "USD"),
    ("brl", "BRL"),
    ("eur", "EUR"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
];
const CURRENCY_SUFFIXES: [(&str, &str); 10] = [
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("bucks", "USD"),
    ("dolares", "USD"),
    ("reais", "BRL"),
    ("real", "BRL"),
    ("euros", "EUR"),
    ("euro", "EUR"),
    ("pounds", "GBP"),
    ("usd", "USD"),
];

/// A currency symbol or code before the number, or a currency word after it.
fn currency_around(chars: &[char], n: &Num) -> Option<(usize, usize, &'static str)> {
    let before = if n.start > 0 && chars.get(n.start - 1) == Some(&' ') {
        n.start - 1
    } else {
        n.start
    };
    for (symbol, unit) in CURRENCY_PREFIXES {
        let len = symbol.chars().count();
        let Some(s) = before.checked_sub(len) else {
            continue;
        };
        let here: String = chars.get(s..before).into_iter().flatten().collect();
        let alnum_start = symbol.starts_with(|c: char| c.is_alphanumeric());
        if here == symbol && (!alnum_start || token_start(chars, s)) {
            return Some((s, n.end, unit));
        }
    }
    if chars.get(n.end) == Some(&' ') {
        for (word, unit) in CURRENCY_SUFFIXES {
            if let Some(end) = phrase_at(chars, n.end + 1, word) {
                return Some((n.start, end, unit));
            }
        }
    }
    None
}

const EN_WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];
const PT_WEEKDAYS: [(&str, Weekday); 7] = [
    ("segunda", Weekday::Monday),
    ("terca", Weekday::Tuesday),
    ("quarta", Weekday::Wednesday),
    ("quinta", Weekday::Thursday),
    ("sexta", Weekday::Friday),
    ("sabado", Weekday::Saturday),
    ("domingo", Weekday::Sunday),
];

/// ISO dates, `dd/mm/yyyy` (`mm/dd/yyyy` in English), and, relative to `today`, today,
/// tomorrow, yesterday and weekday names (the next such day, today included).
fn find_dates(chars: &[char], language: Language, today: Option<Date>) -> Vec<SystemFound> {
    let mut out: Vec<SystemFound> = Vec::new();
    let number = |i: usize, max: usize| -> Option<(i32, usize)> {
        let mut j = i;
        let mut v: i32 = 0;
        while let Some(d) = chars.get(j).and_then(|c| c.to_digit(10)) {
            if j - i >= max {
                return None;
            }
            v = v * 10 + i32::try_from(d).ok()?;
            j += 1;
        }
        (j > i).then_some((v, j))
    };
    let push = |out: &mut Vec<SystemFound>, start: usize, end: usize, date: Date| {
        out.push(SystemFound {
            name: "sys-date",
            start,
            end,
            value: date.to_string(),
            metadata: None,
        });
    };
    let make = |y: i32, m: i32, d: i32| -> Option<Date> {
        Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        )
        .ok()
    };
    let mut i = 0;
    while i < chars.len() {
        let boundary = token_start(chars, i) && chars.get(i).is_some_and(char::is_ascii_digit);
        if !boundary {
            i += 1;
            continue;
        }
        let mut next = i + 1;
        if let Some((a, j)) = number(i, 4) {
            let sep = chars.get(j).copied();
            if j - i == 4 && sep == Some('-') {
                // yyyy-mm-dd
                if let Some((m, k)) = number(j + 1, 2) {
                    if chars.get(k) == Some(&'-') {
                        if let Some((d, l)) = number(k + 1, 2) {
                            if let (Some(date), true) = (make(a, m, d), token_end(chars, l)) {
                                push(&mut out, i, l, date);
                                next = l;
                            }
                        }
                    }
                }
            } else if j - i <= 2 && sep == Some('/') {
                if let Some((b, k)) = number(j + 1, 2) {
                    let (day, month) = match language {
                        Language::English => (b, a),
                        _ => (a, b),
                    };
                    let mut end = k;
                    let mut year = today.map(|t| i32::from(t.year()));
                    if chars.get(k) == Some(&'/') {
                        if let Some((y, l)) = number(k + 1, 4) {
                            end = l;
                            year = Some(if l - (k + 1) == 2 { 2000 + y } else { y });
                        }
                    }
                    if let Some(date) = year.and_then(|y| make(y, month, day)) {
                        if token_end(chars, end) {
                            push(&mut out, i, end, date);
                            next = end;
                        }
                    }
                }
            }
        }
        i = next;
    }
    let Some(today) = today else {
        return out;
    };
    let relative: Vec<(&str, i64)> = match language {
        Language::English => vec![
            ("day after tomorrow", 2),
            ("today", 0),
            ("tomorrow", 1),
            ("yesterday", -1),
        ],
        Language::Portuguese => vec![
            ("depois de amanha", 2),
            ("hoje", 0),
            ("amanha", 1),
            ("ontem", -1),
        ],
        Language::OtherComma => Vec::new(),
    };
    let weekdays: &[(&str, Weekday)] = match language {
        Language::English => &EN_WEEKDAYS,
        Language::Portuguese => &PT_WEEKDAYS,
        Language::OtherComma => &[],
    };
    let covered = |out: &[SystemFound], s: usize| out.iter().any(|f| f.start <= s && s < f.end);
    for (s, _) in word_spans(chars) {
        if covered(&out, s) {
            continue;
        }
        let mut hit: Option<(usize, Date)> = None;
        for (phrase, days) in &relative {
            if let Some(e) = phrase_at(chars, s, phrase) {
                if let Ok(d) = today.checked_add((*days).days()) {
                    hit = Some((e, d));
                    break;
                }
            }
        }
        if hit.is_none() {
            for (name, weekday) in weekdays {
                let end = phrase_at(chars, s, name).map(|e| {
                    // "segunda-feira", "segunda feira"
                    ["-feira", " feira"]
                        .iter()
                        .find_map(|suffix| {
                            let ok = suffix
                                .chars()
                                .enumerate()
                                .all(|(k, c)| chars.get(e + k) == Some(&c));
                            let stop = e + suffix.chars().count();
                            (ok && language == Language::Portuguese && token_end(chars, stop))
                                .then_some(stop)
                        })
                        .unwrap_or(e)
                });
                if let Some(e) = end {
                    let ahead = (weekday.to_monday_zero_offset()
                        - today.weekday().to_monday_zero_offset())
                    .rem_euclid(7);
                    if let Ok(d) = today.checked_add(i64::from(ahead).days()) {
                        hit = Some((e, d));
                    }
                    break;
                }
            }
        }
        if let Some((e, d)) = hit {
            push(&mut out, s, e, d);
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

/// `15:30`, `3:30 pm`, `3pm`, `3 p.m.`, `15h`, `15h30`: value `HH:MM:SS`.
fn find_times(chars: &[char]) -> Vec<SystemFound> {
    let mut out = Vec::new();
    let digits = |i: usize| -> Option<(u32, usize)> {
        let mut j = i;
        let mut v = 0u32;
        while let Some(d) = chars.get(j).and_then(|c| c.to_digit(10)) {
            if j - i >= 2 {
                return None;
            }
            v = v * 10 + d;
            j += 1;
        }
        (j > i).then_some((v, j))
    };
    let mut i = 0;
    while i < chars.len() {
        if !(token_start(chars, i) && chars.get(i).is_some_and(char::is_ascii_digit)) {
            i += 1;
            continue;
        }
        let Some((mut hour, j)) = digits(i) else {
            // Skip the whole run of digits.
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            continue;
        };
        let mut minute = 0;
        let mut end = j;
        let mut explicit = false;
        if chars.get(j) == Some(&':') {
            if let Some((m, k)) = digits(j + 1) {
                if k - (j + 1) == 2 {
                    minute = m;
                    end = k;
                    explicit = true;
                }
            }
        } else if chars.get(j) == Some(&'h') {
            end = j + 1;
            explicit = true;
            if let Some((m, k)) = digits(j + 1) {
                if k - (j + 1) == 2 {
                    minute = m;
                    end = k;
                }
            }
            if !token_end(chars, end) {
                explicit = false;
            }
        }
        // am / pm, with or without a space or dots.
        let gap = usize::from(chars.get(end) == Some(&' '));
        let meridiem = ["a.m.", "p.m.", "am", "pm"].iter().find_map(|m| {
            let ok = m
                .chars()
                .enumerate()
                .all(|(k, c)| chars.get(end + gap + k) == Some(&c));
            let stop = end + gap + m.chars().count();
            let boundary = m.ends_with('.') || token_end(chars, stop);
            (ok && boundary).then_some((m.starts_with('p'), stop))
        });
        if let Some((pm, stop)) = meridiem {
            if (1..=12).contains(&hour) {
                hour = match (pm, hour) {
                    (true, 12) => 12,
                    (true, h) => h + 12,
                    (false, 12) => 0,
                    (false, h) => h,
                };
                end = stop;
                explicit = true;
            }
        }
        if explicit && hour < 24 && minute < 60 && token_end(chars, end) {
            out.push(SystemFound {
                name: "sys-time",
                start: i,
                end,
                value: format!("{hour:02}:{minute:02}:00"),
                metadata: None,
            });
            i = end.max(i + 1);
        } else {
            i = j.max(i + 1);
        }
    }
    out
}
