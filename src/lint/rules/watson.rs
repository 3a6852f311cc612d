//! Watson Assistant workspaces (`dialog_nodes`): linting their conditions and `<? ?>` segments.
//!
//! The same grammar parses Watson's SpEL spellings. The checks that make sense for an export
//! run here: syntax, unknown roots and methods (Watson's own lists), constant conditions,
//! duplicate node ids, and references (`parent`, `previous_sibling`, `next_step.dialog_node`,
//! `go_to.dialog_node`) to nodes that do not exist; the intents and entities, and the regexes,
//! the expressions name; then the structural rules (`watson_*`) over the tree.
//!
//! The wrapped export `{"workspace": {…}}` is linted the same way, its findings under
//! `/workspace/…`.

use super::duplicate_node_id::DuplicateNodeId;
use super::unknown_goto_target::UnknownGotoTarget;
use super::watson_tree::Tree;
use super::{constant_condition, unknown_method, unknown_variable_root};
use super::{watson_undefined_entity, watson_undefined_intent, watson_unsupported_regex};
use crate::compile::syntax_diagnostic;
use crate::compile::Place;
use crate::diagnostic::{Diagnostic, Location};
use crate::expr::{Dialect, Expr, ParseCache};
use crate::schema::Schema;
use crate::source::json::push_segment;
use crate::watson::node::RawNode;
use rustc_hash::FxHashSet as HashSet;
use serde_json::Value as Json;
use std::sync::Arc;

/// Whole-condition words Watson treats specially.
pub const SPECIAL_CONDITIONS: &[&str] = &[
    "anything_else",
    "conversation_start",
    "welcome",
    "irrelevant",
    "true",
    "false",
];

/// Result of analysing a workspace.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Findings.
    pub diagnostics: Vec<Diagnostic>,
    /// Conditions and `<? ?>` segments that parsed.
    pub parsed: usize,
    /// Conditions and `<? ?>` segments that did not.
    pub rejected: usize,
}

/// Lints a workspace value.
pub fn lint(value: &Json) -> Vec<Diagnostic> {
    analyse(value).diagnostics
}

/// Analyses a workspace value.
pub fn analyse(file: &Json) -> Analysis {
    let mut a = Analysis::default();
    let (value, root) = match file.get("dialog_nodes") {
        Some(_) => (file, ""),
        None => match file.get("workspace") {
            Some(w) => (w, "/workspace"),
            None => (file, ""),
        },
    };
    let Some(nodes) = value.get("dialog_nodes").and_then(Json::as_array) else {
        a.diagnostics.push(Diagnostic::new::<Schema>(
            Location::Value(format!("{root}/dialog_nodes")),
            "`dialog_nodes` must be an array",
        ));
        return a;
    };
    // What the workspace defines, when it says (an export of the dialog alone has no lists).
    let names = |list: &str, key: &str| -> Option<HashSet<&str>> {
        value.get(list).and_then(Json::as_array).map(|l| {
            l.iter()
                .filter_map(|x| x.get(key).and_then(Json::as_str))
                .collect()
        })
    };
    let ids: HashSet<&str> = nodes.iter().filter_map(|n| RawNode::of(n).id()).collect();
    let mut seen = HashSet::default();
    let mut x = Checker {
        cache: ParseCache::new(Dialect::Watson),
        clean_conditions: HashSet::default(),
        clean_segments: HashSet::default(),
        intents: names("intents", "intent"),
        entities: names("entities", "entity"),
    };
    for (i, node) in nodes.iter().enumerate() {
        let base = format!("{root}/dialog_nodes/{i}");
        let raw = RawNode::of(node);
        let Some(obj) = raw.object() else {
            a.diagnostics.push(Diagnostic::new::<Schema>(
                Location::Value(base),
                "a dialog node must be an object",
            ));
            continue;
        };
        match raw.id() {
            Some(id) if !seen.insert(id) => a.diagnostics.push(Diagnostic::new::<DuplicateNodeId>(
                Location::Value(format!("{base}/dialog_node")),
                format!("dialog node id `{id}` is already used by an earlier node"),
            )),
            Some(_) => {}
            None => a.diagnostics.push(Diagnostic::new::<Schema>(
                Location::Value(base.clone()),
                "missing required field `dialog_node`",
            )),
        }
        if let Some(cond) = raw.conditions() {
            let t = cond.trim();
            if !t.is_empty() && !SPECIAL_CONDITIONS.contains(&t) {
                let p = format!("{base}/conditions");
                match x.cache.expression(cond) {
                    Ok(e) => {
                        a.parsed += 1;
                        let tree = Arc::as_ptr(&e);
                        if !x.clean_conditions.contains(&tree) {
                            let place = Place::new(&p, 0);
                            let before = a.diagnostics.len();
                            unknown_variable_root::check_expr(
                                &e,
                                place,
                                Dialect::Watson,
                                &mut a.diagnostics,
                            );
                            unknown_method::check_expr(
                                &e,
                                place,
                                Dialect::Watson,
                                &mut a.diagnostics,
                            );
                            constant_condition::check_condition(&e, place, &mut a.diagnostics);
                            x.names_and_regexes(&e, place, &mut a.diagnostics);
                            if a.diagnostics.len() == before {
                                x.clean_conditions.insert(tree);
                            }
                        }
                    }
                    Err(err) => {
                        a.rejected += 1;
                        a.diagnostics.push(syntax_diagnostic(&p, err));
                    }
                }
            }
        }
        for (k, v) in obj {
            if k != "conditions" {
                let mut p = base.clone();
                push_segment(&mut p, k);
                templates(v, &mut p, &mut a, &mut x);
            }
        }
        // Both the step and a legacy `go_to` beside it are checked: each is a reference.
        let target_of = |field: &str| {
            raw.get(field)
                .and_then(|n| n.get("dialog_node"))
                .and_then(Json::as_str)
        };
        let refs = [
            ("/parent", raw.parent()),
            ("/previous_sibling", raw.previous_sibling()),
            ("/next_step/dialog_node", target_of("next_step")),
            ("/go_to/dialog_node", target_of("go_to")),
        ];
        for (suffix, r) in refs {
            if let Some(target) = r {
                if !ids.contains(target) {
                    a.diagnostics.push(Diagnostic::new::<UnknownGotoTarget>(
                        Location::Value(format!("{base}{suffix}")),
                        format!("no dialog node has the id `{target}`"),
                    ));
                }
            }
        }
    }
    super::run_watson(&Tree::new(value, root, nodes), &mut a.diagnostics);
    a
}

/// Parses each distinct expression of a workspace once, and checks each distinct tree until it
/// is found clean.
struct Checker<'a> {
    cache: ParseCache,
    clean_conditions: HashSet<*const Expr>,
    clean_segments: HashSet<*const Expr>,
    /// The intents the workspace defines, when it has an `intents` list.
    intents: Option<HashSet<&'a str>>,
    /// The entities the workspace defines, when it has an `entities` list.
    entities: Option<HashSet<&'a str>>,
}

impl Checker<'_> {
    /// The findings about what an expression names: intents, entities and regexes.
    fn names_and_regexes(&self, e: &Expr, place: Place<'_>, out: &mut Vec<Diagnostic>) {
        if let Some(intents) = &self.intents {
            watson_undefined_intent::check_expr(e, place, intents, out);
        }
        if let Some(entities) = &self.entities {
            watson_undefined_entity::check_expr(e, place, entities, out);
        }
        watson_unsupported_regex::check_expr(e, place, out);
    }
}

fn templates(v: &Json, pointer: &mut String, a: &mut Analysis, x: &mut Checker<'_>) {
    match v {
        Json::String(s) if s.contains("<?") => {
            let (t, errs) = x.cache.template(s);
            for (e, offset) in t.exprs() {
                a.parsed += 1;
                let tree = Arc::as_ptr(e);
                if x.clean_segments.contains(&tree) {
                    continue;
                }
                let place = Place::new(pointer, offset);
                let before = a.diagnostics.len();
                unknown_variable_root::check_expr(e, place, Dialect::Watson, &mut a.diagnostics);
                unknown_method::check_expr(e, place, Dialect::Watson, &mut a.diagnostics);
                x.names_and_regexes(e, place, &mut a.diagnostics);
                if a.diagnostics.len() == before {
                    x.clean_segments.insert(tree);
                }
            }
            for err in errs {
                a.rejected += 1;
                a.diagnostics.push(syntax_diagnostic(pointer, err));
            }
        }
        Json::Array(items) => {
            for (i, it) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                templates(it, pointer, a, x);
                pointer.truncate(len);
            }
        }
        Json::Object(m) => {
            for (k, it) in m {
                let len = pointer.len();
                push_segment(pointer, k);
                templates(it, pointer, a, x);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}
