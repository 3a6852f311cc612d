//! Text primitives of the matcher: character offsets, lower case one for one, the normal form
//! examples are compared in, tokens and words, and the bounded edit distance of fuzzy matching.

use super::*;
use crate::text::fold;

/// Byte offsets of a string to character offsets.
pub(super) struct CharIndex(Vec<usize>);

impl CharIndex {
    pub(super) fn new(text: &str) -> CharIndex {
        CharIndex(text.char_indices().map(|(b, _)| b).collect())
    }

    pub(super) fn of(&self, byte: usize) -> usize {
        match self.0.binary_search(&byte) {
            Ok(i) | Err(i) => i,
        }
    }
}

/// The first `n` characters of `text`.
pub(super) fn prefix_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((b, _)) => text.get(..b).unwrap_or(text),
        None => text,
    }
}

/// Lower case, one character for one (a character whose lower case is longer stays as is),
/// so character offsets stay those of the original text.
pub(super) fn lower(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
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

pub(super) fn normalise_words(text: &str) -> String {
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
/// (`pizzas` → `pizza`; not `ss`, `us`, `is`), the same in English and Portuguese; then an
/// English `-ing` or `-ed` from words that keep at least four letters (`booking` → `book`,
/// `opened` → `open`).
pub(super) fn stem(word: &str) -> &str {
    let plural = word.chars().count() > 3
        && word.ends_with('s')
        && !["ss", "us", "is"].iter().any(|e| word.ends_with(e));
    let word = if plural {
        word.get(..word.len() - 1).unwrap_or(word)
    } else {
        word
    };
    for suffix in ["ing", "ed"] {
        if let Some(base) = word.strip_suffix(suffix) {
            if base.chars().count() >= 4 {
                return base;
            }
        }
    }
    word
}

/// Words that negate what a message says (after normalisation: `don't` is `don t`).
pub(super) const NEGATIONS: [&str; 17] = [
    "not", "no", "never", "nope", "nah", "t", "dont", "cant", "cannot", "wont", "isnt", "arent",
    "didnt", "doesnt", "nao", "nunca", "nem",
];

/// Whether a normalised text says no.
pub(super) fn negated(norm: &str) -> bool {
    norm.split(' ').any(|w| NEGATIONS.contains(&w))
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
pub(super) fn token_start(chars: &[char], i: usize) -> bool {
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
pub(super) fn token_end(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).and_then(|p| chars.get(p));
    match (before, chars.get(i)) {
        (Some(b), Some(a)) => !(b.is_alphanumeric() && a.is_alphanumeric()),
        _ => true,
    }
}

/// The runs of letters and digits of a term.
pub(super) fn words_of(chars: &[char]) -> Vec<Vec<char>> {
    word_spans(chars)
        .into_iter()
        .filter_map(|(s, e)| chars.get(s..e).map(<[char]>::to_vec))
        .collect()
}

/// (start, end) of every run of letters and digits.
pub(super) fn word_spans(chars: &[char]) -> Vec<(usize, usize)> {
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
pub(super) fn bounded_distance(
    a: &[char],
    b: &[char],
    max: usize,
    budget: &mut usize,
) -> Option<usize> {
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
    crate::text::distance(a, b, max, false)
}
