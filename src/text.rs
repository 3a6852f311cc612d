//! Small text helpers shared by every stage, each fact in one place: accent folding (the same
//! for a button's options and the NLU's examples), edit distance, the names of JSON kinds in
//! messages, and "did you mean" suggestions.

use serde_json::Value as Json;

/// The accent-free letter of a lower-case Latin letter (Latin-1 and the Portuguese, Spanish,
/// French, German and Italian letters of Latin Extended-A); others unchanged.
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

/// `s` with every letter [`fold`]ed (the caller lower-cases first).
pub fn fold_accents(s: &str) -> String {
    s.chars().map(fold).collect()
}

/// How a message names the kind of a JSON value: `null`, `a boolean`, `a number`, `a string`,
/// `an array`, `an object`.
pub fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The candidate closest to `word` by edit distance, when close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // A long word is no typo of a short name; the bound also keeps the cost linear.
    if word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    // A candidate whose length differs by more than the limit cannot be close enough: skip it
    // without computing the distance (a flow with 8,000 node ids stays linear per lookup).
    let len = word.len();
    let best = candidates
        .iter()
        .filter(|c| c.len().abs_diff(len) <= limit * 4)
        .map(|c| (levenshtein(word, c), letters_apart(word, c), *c))
        .filter(|(d, _, _)| *d <= limit)
        .min()?;
    Some(best.2)
}

/// How many letters two words do not share (as multisets): between candidates at the same
/// distance, a swap of two letters (`cfp` → `cpf`) is a likelier typo than a wrong letter
/// (`cfp` → `cep`).
fn letters_apart(a: &str, b: &str) -> usize {
    let mut a: Vec<char> = a.chars().collect();
    let mut b: Vec<char> = b.chars().collect();
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut apart) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                apart += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                apart += 1;
                j += 1;
            }
        }
    }
    apart + (a.len() - i) + (b.len() - j)
}

/// Suggestions among many candidates, in time independent of their number: candidates are
/// indexed by the strings their deletions of up to two characters give (the symmetric-delete
/// method), so a lookup checks only candidates within two edits. For a short list it is
/// [`closest`] over the list.
pub struct Suggester<'a> {
    candidates: Vec<&'a str>,
    index: Option<std::collections::HashMap<String, Vec<usize>>>,
}

/// Beyond this many candidates a [`Suggester`] indexes them.
const INDEX_FROM: usize = 256;
/// Edits the index finds.
const INDEX_EDITS: usize = 2;

fn deletions(word: &str, edits: usize, out: &mut std::collections::HashSet<String>) {
    out.insert(word.to_owned());
    if edits == 0 || word.chars().count() > 64 {
        return;
    }
    let chars: Vec<char> = word.chars().collect();
    for i in 0..chars.len() {
        let shorter: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
        if !out.contains(&shorter) {
            deletions(&shorter, edits - 1, out);
        }
    }
}

impl<'a> Suggester<'a> {
    /// A suggester over `candidates`.
    pub fn new(candidates: &[&'a str]) -> Suggester<'a> {
        let index = (candidates.len() > INDEX_FROM).then(|| {
            let mut index: std::collections::HashMap<String, Vec<usize>> = Default::default();
            let mut set = std::collections::HashSet::new();
            for (i, c) in candidates.iter().enumerate() {
                set.clear();
                deletions(c, INDEX_EDITS, &mut set);
                for d in set.drain() {
                    index.entry(d).or_default().push(i);
                }
            }
            index
        });
        Suggester {
            candidates: candidates.to_vec(),
            index,
        }
    }

    /// The candidate closest to `word`, when close enough to be a typo.
    pub fn closest(&self, word: &str) -> Option<&'a str> {
        let Some(index) = &self.index else {
            return closest(word, &self.candidates);
        };
        let limit = (word.chars().count() / 3).clamp(1, INDEX_EDITS);
        let mut set = std::collections::HashSet::new();
        deletions(word, limit, &mut set);
        let mut found: Vec<&'a str> = set
            .iter()
            .filter_map(|d| index.get(d))
            .flatten()
            .filter_map(|&i| self.candidates.get(i).copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .map(|c| (levenshtein(word, c), c))
            .filter(|(d, _)| *d <= limit)
            .min()
            .map(|(_, c)| c)
    }
}

/// "did you mean `x`?" when a candidate is close.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Edit distance between two strings (characters), where swapping two neighbours counts as
/// one edit (`inptu` is one edit from `input`): the optimal-string-alignment distance.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    distance(&a, &b, usize::MAX, true).unwrap_or(usize::MAX)
}

/// Edit distance of `a` and `b` when at most `max`, else `None` (stopping as soon as a row of
/// the table is past `max`). With `swaps`, swapping two neighbours is one edit (the
/// optimal-string-alignment distance, for typos); without, it is two (Levenshtein's).
pub fn distance(a: &[char], b: &[char], max: usize, swaps: bool) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    // Three rows: two back (for swaps), previous, current.
    let mut back = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut row = vec![0usize; width];
    let cell = |r: &[usize], j: usize| r.get(j).copied().unwrap_or(usize::MAX - 1);
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        let mut row_min = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut d = (cell(&prev, j) + cost)
                .min(cell(&prev, j + 1) + 1)
                .min(cell(&row, j) + 1);
            let swapped =
                swaps && i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca);
            if swapped {
                d = d.min(cell(&back, j - 1) + 1);
            }
            if let Some(c) = row.get_mut(j + 1) {
                *c = d;
            }
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut back, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev.last().copied().filter(|&d| d <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_swaps_as_one_edit() {
        assert_eq!(levenshtein("inptu", "input"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(closest("inptu", &["input", "intent"]), Some("input"));
        // A swap beats a wrong letter at the same distance.
        assert_eq!(closest("cfp", &["cep", "cpf"]), Some("cpf"));
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let (ab, ba) = (chars("ab"), chars("ba"));
        assert_eq!(distance(&ab, &ba, 5, true), Some(1));
        assert_eq!(distance(&ab, &ba, 5, false), Some(2));
        assert_eq!(distance(&chars("pizza"), &chars("piza"), 0, false), None);
        assert_eq!(
            distance(&chars("kitten"), &chars("sitting"), 2, false),
            None
        );
    }

    #[test]
    fn folding_removes_accents_and_keeps_other_letters() {
        assert_eq!(
            fold_accents("não, gdańsk, škoda, ærø"),
            "nao, gdansk, skoda, æro"
        );
    }

    #[test]
    fn the_index_finds_what_a_scan_finds() {
        let ids: Vec<String> = (0..2000).map(|i| format!("node_{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let s = Suggester::new(&refs);
        for word in [
            "node_17x",
            "nod_1234",
            "ndoe_99",
            "node1999",
            "zzz",
            "boas_vindas",
        ] {
            assert_eq!(s.closest(word), closest(word, &refs), "{word}");
        }
        assert_eq!(s.closest("node_17x"), Some("node_17"));
    }
}
