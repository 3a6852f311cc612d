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

/// A golden transcript section that differs from what the conversation did: what the report
/// and the studio draw side by side ([`GoldenDiff::side_by_side`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GoldenDiff {
    /// The golden file.
    pub golden: std::path::PathBuf,
    /// The section it holds for the conversation.
    pub expected: String,
    /// The line of the golden file the section starts at.
    pub first_line: usize,
}

/// One line of a transcript as a chat bubble: who it is from and what it says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Bubble {
    /// `user`, `bot`, `agent`, `system` (a message), `event` (another event fed to the
    /// dialog) or `output` (another output: a node entered, a hand-over…).
    pub who: &'static str,
    /// What it says, in words.
    pub text: String,
    /// The transcript line as it is (JSON after `> ` or two spaces).
    pub raw: String,
    /// Its line in the golden file (expected side only).
    pub line: Option<usize>,
}

/// One row of a side-by-side diff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DiffRow {
    /// `same` (both sides), `changed` (both, different), `removed` (golden only), `added`
    /// (this run only), `skipped` (`skipped` equal lines left out).
    pub kind: &'static str,
    /// The golden side.
    pub expected: Option<Bubble>,
    /// This run's side.
    pub actual: Option<Bubble>,
    /// For `skipped`: how many equal lines.
    pub skipped: usize,
}

/// The text of a message output or event: its `text`, else a card's title, else its type.
fn message_text(v: &serde_json::Value) -> String {
    v.get("text")
        .and_then(serde_json::Value::as_str)
        .or_else(|| {
            v.pointer("/message/title")
                .and_then(serde_json::Value::as_str)
        })
        .or_else(|| {
            v.pointer("/message/text")
                .and_then(serde_json::Value::as_str)
        })
        .map_or_else(|| v.to_string(), str::to_owned)
}

/// A compact summary of an event or output: its type and its other fields, short.
fn summary(kind: &str, v: &serde_json::Value) -> String {
    let mut rest = v.clone();
    if let Some(m) = rest.as_object_mut() {
        m.remove("type");
    }
    let mut s = rest.to_string();
    if s == "{}" {
        return kind.to_owned();
    }
    if s.chars().count() > 160 {
        s = s.chars().take(157).collect::<String>() + "…";
    }
    format!("{kind} {s}")
}

/// A transcript line (`> EVENT` or `  OUTPUT`) as a bubble.
pub(crate) fn bubble(line: &str, at: Option<usize>) -> Bubble {
    let raw = line.trim_end_matches('\n');
    let (event, json) = match raw.strip_prefix("> ") {
        Some(j) => (true, j),
        None => (false, raw.trim_start()),
    };
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
    let kind = v
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let (who, text) = match (event, kind) {
        (true, "user") => ("user", message_text(&v)),
        (true, "agent_message") => ("agent", message_text(&v)),
        (true, _) => ("event", summary(kind, &v)),
        (false, "message") => {
            let from = match v.get("from").and_then(serde_json::Value::as_str) {
                Some("agent") => "agent",
                Some("system") => "system",
                _ => "bot",
            };
            (from, message_text(&v))
        }
        (false, "node_entered") => (
            "output",
            format!(
                "→ {}",
                v.get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
            ),
        ),
        (false, "") => ("output", raw.trim().to_owned()),
        (false, _) => ("output", summary(kind, &v)),
    };
    Bubble {
        who,
        text,
        raw: raw.to_owned(),
        line: at,
    }
}

impl GoldenDiff {
    /// The golden section and `actual` side by side, line against line: the changes with two
    /// equal lines of context around them, the equal runs between them folded into a
    /// `skipped` row.
    pub fn side_by_side(&self, actual: &str) -> Vec<DiffRow> {
        use similar::DiffOp;
        let old: Vec<&str> = self.expected.lines().collect();
        let new: Vec<&str> = actual.lines().collect();
        let d = similar::TextDiff::from_lines(self.expected.as_str(), actual);
        let left = |i: usize| old.get(i).map(|l| bubble(l, Some(i + self.first_line)));
        let right = |i: usize| new.get(i).map(|l| bubble(l, None));
        let mut rows = Vec::new();
        let mut shown_to = 0usize;
        for group in d.grouped_ops(2) {
            let start = group.first().map_or(0, |op| op.old_range().start);
            if start > shown_to {
                rows.push(DiffRow {
                    kind: "skipped",
                    expected: None,
                    actual: None,
                    skipped: start - shown_to,
                });
            }
            for op in &group {
                let (o, n) = (op.old_range(), op.new_range());
                match *op {
                    DiffOp::Equal { .. } => {
                        for (a, b) in o.clone().zip(n.clone()) {
                            rows.push(DiffRow {
                                kind: "same",
                                expected: left(a),
                                actual: right(b),
                                skipped: 0,
                            });
                        }
                    }
                    DiffOp::Delete { .. } | DiffOp::Insert { .. } | DiffOp::Replace { .. } => {
                        let pairs = o.len().max(n.len());
                        for k in 0..pairs {
                            let a = (k < o.len()).then(|| o.start + k).and_then(left);
                            let b = (k < n.len()).then(|| n.start + k).and_then(right);
                            let kind = match (&a, &b) {
                                (Some(_), Some(_)) => "changed",
                                (Some(_), None) => "removed",
                                _ => "added",
                            };
                            rows.push(DiffRow {
                                kind,
                                expected: a,
                                actual: b,
                                skipped: 0,
                            });
                        }
                    }
                }
            }
            shown_to = group.last().map_or(shown_to, |op| op.old_range().end);
        }
        if shown_to < old.len() && !rows.is_empty() {
            rows.push(DiffRow {
                kind: "skipped",
                expected: None,
                actual: None,
                skipped: old.len() - shown_to,
            });
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_face_each_other_and_equal_runs_fold() {
        let mut expected = String::from("> {\"type\":\"start\"}\n");
        for i in 0..8 {
            expected.push_str(&format!(
                "  {{\"type\":\"node_entered\",\"id\":\"n{i}\"}}\n"
            ));
        }
        expected.push_str("  {\"type\":\"message\",\"from\":\"bot\",\"text\":\"Olá\"}\n");
        let actual =
            expected.replace("\"Olá\"", "\"Oi\"") + "> {\"type\":\"user\",\"text\":\"2\"}\n";
        let g = GoldenDiff {
            golden: "x.transcript".into(),
            expected,
            first_line: 2,
        };
        let rows = g.side_by_side(&actual);
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["skipped", "same", "same", "changed", "added"]);
        assert_eq!(rows[0].skipped, 7);
        let changed = &rows[3];
        let (e, a) = (changed.expected.as_ref(), changed.actual.as_ref());
        assert_eq!(
            e.map(|b| (b.who, b.text.as_str(), b.line)),
            Some(("bot", "Olá", Some(11)))
        );
        assert_eq!(a.map(|b| (b.who, b.text.as_str())), Some(("bot", "Oi")));
        let added = rows[4].actual.as_ref().map(|b| (b.who, b.text.as_str()));
        assert_eq!(added, Some(("user", "2")));
        assert_eq!(
            rows[2].expected.as_ref().map(|b| b.text.as_str()),
            Some("→ n7")
        );
        assert!(g.side_by_side(&g.expected).is_empty());
    }
}
