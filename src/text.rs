//! Small text helpers shared by every stage: "did you mean" suggestions.

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
    let width = b.len() + 1;
    // Three rows: two back (for transpositions), previous, current.
    let mut rows = vec![vec![0usize; width]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, back) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur][0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev][j - 1] + cost)
                .min(rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[back][j - 2] + 1);
            }
            rows[cur][j] = d;
        }
    }
    rows[a.len() % 3].get(b.len()).copied().unwrap_or(0)
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
