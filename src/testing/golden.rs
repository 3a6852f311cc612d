//! Golden transcripts: `=== name` sections, and diffs that name the golden file's lines.

use std::collections::BTreeMap;
use std::path::Path;

/// `=== name` sections of a golden file: name → (text, line number of its first line).
pub(crate) fn split_golden(text: &str) -> BTreeMap<String, (String, usize)> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some((n, body, at)) = current.take() {
                out.insert(n, (body, at));
            }
            current = Some((name.to_owned(), String::new(), i + 2));
        } else if let Some((_, body, _)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, mut body, at)) = current {
        // Sections are separated by one blank line; it belongs to neither.
        if body.ends_with("\n\n") {
            body.pop();
        }
        out.insert(n, (body, at));
    }
    for (body, _) in out.values_mut() {
        while body.ends_with("\n\n") {
            body.pop();
        }
    }
    out
}

/// A readable diff, naming lines of the golden file; `None` when equal.
pub(crate) fn diff(
    expected: &str,
    actual: &str,
    first_line: usize,
    golden: &Path,
) -> Option<String> {
    if expected == actual {
        return None;
    }
    let d = similar::TextDiff::from_lines(expected, actual);
    let mut s = format!("the transcript differs from {}:\n", golden.display());
    for group in d.grouped_ops(1) {
        for op in group {
            for change in d.iter_changes(&op) {
                let line = change.old_index().map(|i| i + first_line);
                let (sign, at) = match change.tag() {
                    similar::ChangeTag::Delete => {
                        ("-", line.map(|l| format!("{l:>5}")).unwrap_or_default())
                    }
                    similar::ChangeTag::Insert => ("+", "     ".to_owned()),
                    similar::ChangeTag::Equal => {
                        (" ", line.map(|l| format!("{l:>5}")).unwrap_or_default())
                    }
                };
                s.push_str(&format!("  {at} {sign} {}", change.value()));
                if !change.value().ends_with('\n') {
                    s.push('\n');
                }
            }
        }
    }
    s.push_str("  (lines of the golden file on the left; `fluxo test --bless` accepts the new transcript)\n");
    Some(s)
}
