//! `unused-suppression`, and the suppression comments it checks.
//!
//! A flow node's `comment` may hold `fluxo: ignore[rule-a, rule-b]`: the findings of those rules
//! whose JSON Pointer lies inside the node are not reported. The comment is read from the JSON
//! value, before the typed model, so a node that does not fit the schema keeps its suppressions.

use crate::diagnostic::{declare_rule, Diagnostic, Location};
use serde_json::Value as Json;
use std::ops::Range;

declare_rule! {
    /// ## What it does
    /// Reports a suppression comment that suppresses nothing. A node's `comment` may hold
    /// `fluxo: ignore[rule-a, rule-b]`; the findings of those rules located on that node (their
    /// JSON Pointer is inside the node) are then not reported. A name in the list that matches
    /// no finding on the node, or that is not a rule at all, is reported here.
    ///
    /// ## Why it matters
    /// A suppression outlives the finding it silenced: once the node is fixed, it would hide
    /// the next, unrelated finding of the same rule on that node without anyone noticing. A
    /// misspelt rule name never suppressed anything, and the author believes it does.
    ///
    /// ## Example
    /// ```json
    /// { "id": "boas_vindas", "condition": "start", "comment": "fluxo: ignore[unreachable-node]" }
    /// ```
    /// The start node is always reachable, so the suppression has nothing to suppress: remove
    /// it. Add `unused-suppression` to the same list to keep a suppression on purpose.
    pub struct UnusedSuppression => "unused-suppression", Warning;
}

/// The directive a comment holds.
const DIRECTIVE: &str = "fluxo:";

/// One rule name of a suppression comment.
#[derive(Debug, Clone)]
pub(crate) struct Suppression {
    /// Pointer of the node (`/nodes/3`).
    node: String,
    /// The node's id, for messages.
    node_id: Option<String>,
    /// The rule name as written.
    rule: String,
    /// Byte range of the name inside the comment string.
    range: Range<usize>,
    /// Whether some finding was suppressed by it.
    used: bool,
}

impl Suppression {
    /// The JSON Pointer of the node whose comment holds it (`/nodes/3`).
    pub(crate) fn node(&self) -> &str {
        &self.node
    }
}

/// The suppressions in the `comment` of every node of a flow value, in file order.
pub(crate) fn collect(value: &Json) -> Vec<Suppression> {
    let Some(nodes) = value.get("nodes").and_then(Json::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(comment) = node.get("comment").and_then(Json::as_str) else {
            continue;
        };
        let node_id = node.get("id").and_then(Json::as_str).map(str::to_owned);
        for (rule, range) in names(comment) {
            out.push(Suppression {
                node: format!("/nodes/{i}"),
                node_id: node_id.clone(),
                rule,
                range,
                used: false,
            });
        }
    }
    out
}

/// The same suppressions read from node `i` of the file as the typed read sees it, added to
/// `out`.
pub(crate) fn collect_node(
    i: usize,
    node: crate::compile::NodeHead<'_>,
    out: &mut Vec<Suppression>,
) {
    let Some(comment) = node.comment else {
        return;
    };
    for (rule, range) in names(comment) {
        out.push(Suppression {
            node: format!("/nodes/{i}"),
            node_id: Some(node.id.to_owned()),
            rule,
            range,
            used: false,
        });
    }
}

/// The rule names of every `fluxo: ignore[…]` in `comment`, with their byte ranges.
fn names(comment: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = comment.get(from..).and_then(|s| s.find(DIRECTIVE)) {
        let mut at = from + found + DIRECTIVE.len();
        from = at;
        let rest = comment.get(at..).unwrap_or_default();
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        let Some(list) = trimmed.strip_prefix("ignore[") else {
            continue;
        };
        at += "ignore[".len();
        let Some(close) = list.find(']') else {
            continue;
        };
        let mut pos = at;
        for part in list.get(..close).unwrap_or_default().split(',') {
            let lead = part.len() - part.trim_start().len();
            let name = part.trim();
            if !name.is_empty() {
                out.push((name.to_owned(), pos + lead..pos + lead + name.len()));
            }
            pos += part.len() + 1;
        }
        from = at + close + 1;
    }
    out
}

/// True when `pointer` is `node` or lies inside it.
fn inside(pointer: &str, node: &str) -> bool {
    pointer
        .strip_prefix(node)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Removes from `diags` the findings that `suppressions` name, and adds an
/// `unused-suppression` finding for every name that suppressed nothing.
pub(crate) fn apply(mut suppressions: Vec<Suppression>, diags: &mut Vec<Diagnostic>) {
    if suppressions.is_empty() {
        return;
    }
    fn suppress(d: &Diagnostic, suppressions: &mut [Suppression]) -> bool {
        let mut hit = false;
        for s in suppressions.iter_mut() {
            if s.rule == d.code() && inside(d.pointer(), &s.node) {
                s.used = true;
                hit = true;
            }
        }
        hit
    }
    let own = <UnusedSuppression as crate::diagnostic::Rule>::meta().code;
    diags.retain(|d| !suppress(d, &mut suppressions));
    let mut unused: Vec<Diagnostic> = suppressions
        .iter()
        .filter(|s| !s.used && s.rule != own)
        .map(unused_finding)
        .collect();
    // `ignore[unused-suppression]` keeps the other names of the node on purpose.
    unused.retain(|d| !suppress(d, &mut suppressions));
    unused.extend(
        suppressions
            .iter()
            .filter(|s| !s.used && s.rule == own)
            .map(unused_finding),
    );
    diags.extend(unused);
}

fn unused_finding(s: &Suppression) -> Diagnostic {
    let at = Location::InString(format!("{}/comment", s.node), s.range.clone());
    let node = s
        .node_id
        .as_deref()
        .map_or_else(|| "this node".to_owned(), |id| format!("node `{id}`"));
    if crate::lint::find_rule(&s.rule).is_none() {
        let d = Diagnostic::new::<UnusedSuppression>(
            at,
            format!(
                "`{}` is not a rule, so this suppression suppresses nothing",
                s.rule
            ),
        )
        .label("no rule has this name");
        return match crate::lint::suggest_rule(&s.rule) {
            Some(r) => d.help(format!("did you mean `{r}`?")),
            None => d.help("`fluxo rule` lists the rules"),
        };
    }
    Diagnostic::new::<UnusedSuppression>(
        at,
        format!(
            "this suppression suppresses nothing: {node} has no `{}` finding",
            s.rule
        ),
    )
    .label("nothing to suppress")
    .help(format!("remove `{}` from the comment", s.rule))
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn names_and_their_ranges() {
        let c = "legado; fluxo: ignore[unreachable-node,  loop-without-input ] fim fluxo:ignore[x]";
        let got = names(c);
        let texts: Vec<&str> = got.iter().filter_map(|(_, r)| c.get(r.clone())).collect();
        assert_eq!(texts, ["unreachable-node", "loop-without-input", "x"]);
        assert!(names("fluxo: ignore[unclosed").is_empty());
        assert!(names("fluxo: ignora[a]").is_empty());
        assert!(names("fluxo:").is_empty());
        assert_eq!(names("é fluxo: ignore[ é ]").len(), 1);
    }
}
