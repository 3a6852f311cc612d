//! The offline understanding of a Watson Assistant workspace: the intents and entities of a
//! message when the request does not carry them.
//!
//! Watson's own classifier is a trained model that fluxo cannot reproduce; this module is a
//! documented approximation of it (see `docs/watson-nlu.md`):
//!
//! * **intents** — the nearest training example: an example equal to the message (after
//!   normalisation: lower case, accents and punctuation removed) gives its intent confidence 1.0;
//!   otherwise a TF-IDF cosine between the message and every example, each intent scored by its
//!   best example, at most [`MAX_INTENTS`], best first; a message word no example has is read
//!   as a synonym from a small list per language, or as the known word most alike in
//!   character trigrams (`similar`);
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

mod entities;
mod intents;
mod read;
mod similar;
mod system;
mod text;

pub use self::text::{fuzzy_allowance, normalise};
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
    /// Whether each example says no (see `text::negated`).
    example_negated: Vec<bool>,
    /// A word no example has → the vocabulary word it is a synonym of (see `similar`).
    synonyms: HashMap<String, u32>,
    /// The vocabulary's character trigrams, built the first time a message has a word no
    /// example has (see `similar`): a process that answers one message (`fluxo watson
    /// message`) does not pay for them when every word is known.
    grams: std::sync::OnceLock<similar::Grams>,
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
            example_negated: Vec::new(),
            synonyms: HashMap::new(),
            grams: std::sync::OnceLock::new(),
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
        u.read_similar();
        u
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
        use self::text::prefix_chars;
        let text = prefix_chars(text, MAX_TEXT_CHARS);
        (self.classify(text), self.entities(text, now))
    }
}
