//! `watson-broken-siblings`

use super::watson_tree::{link_cycles, name_list, Tree};
use super::WatsonRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::source::json;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value as Json;

declare_rule! {
    /// ## What it does
    /// Reports a sibling list (`previous_sibling` links) that does not form one chain: two
    /// first nodes under the same parent, two nodes naming the same previous sibling, a
    /// previous sibling under another parent, a node that is its own previous sibling, or
    /// links that go round in a circle.
    ///
    /// ## Why it matters
    /// The sibling order is the order Watson evaluates conditions in. Watson refuses such a
    /// workspace on import; fluxo runs it with an order it has to guess, so which node answers
    /// is not what the author sees in the tool.
    ///
    /// ## Example
    /// ```json
    /// { "dialog_node": "hours", "previous_sibling": "welcome" },
    /// { "dialog_node": "address", "previous_sibling": "welcome" }
    /// ```
    /// `address` should follow `hours`.
    pub struct WatsonBrokenSiblings => "watson-broken-siblings", Error;
}

impl WatsonRule for WatsonBrokenSiblings {
    fn check(tree: &Tree<'_>, out: &mut Vec<Diagnostic>) {
        let n = tree.nodes.len();
        // Same-parent links only: the others are reported on their own.
        let mut links: Vec<Option<usize>> = vec![None; n];
        // The first node of each parent (by its `parent` text) and the first to name each
        // previous sibling.
        let mut first_of: HashMap<Option<&str>, usize> = HashMap::default();
        let mut follower: HashMap<usize, usize> = HashMap::default();
        for i in 0..n {
            let Some(obj) = tree.nodes.get(i).copied().flatten() else {
                continue;
            };
            // A `parent` or `previous_sibling` that is not an id (an object, a number) says
            // nothing about the sibling list.
            let not_id =
                |k: &str| json::field(obj, k).is_some_and(|v| !v.is_null() && !v.is_string());
            if not_id("parent") || not_id("previous_sibling") {
                continue;
            }
            let parent = tree.node(i).parent();
            let id = tree.id(i);
            let named = tree.node(i).previous_sibling();
            let here = tree.pointer(i, "/previous_sibling");
            match (named, tree.previous(i)) {
                (None, _) => {
                    if let Some(&other) = first_of.get(&parent) {
                        let place = if tree.nodes.get(i).copied().flatten().is_some_and(|o| {
                            json::field(o, "previous_sibling").is_some_and(Json::is_null)
                        }) {
                            here
                        } else {
                            tree.pointer(i, "")
                        };
                        out.push(
                            Diagnostic::new::<WatsonBrokenSiblings>(
                                Location::Value(place),
                                format!(
                                    "`{id}` and `{}` are both the first node {}",
                                    tree.id(other),
                                    under(parent)
                                ),
                            )
                            .help("set `previous_sibling` to the node this one should follow"),
                        );
                    } else {
                        first_of.insert(parent, i);
                    }
                }
                // An unknown id is reported by `unknown-goto-target`.
                (Some(_), None) => {}
                (Some(_), Some(p)) if p == i => out.push(
                    Diagnostic::new::<WatsonBrokenSiblings>(
                        Location::Value(here),
                        format!("`{id}` is its own previous sibling"),
                    )
                    .help("name the node this one follows, or `null` for the first node"),
                ),
                (Some(named), Some(p)) if tree.node(p).parent() != parent => out.push(
                    Diagnostic::new::<WatsonBrokenSiblings>(
                        Location::Value(here),
                        format!(
                            "`{id}` follows `{named}`, which is not {} but {}",
                            under(parent),
                            under(tree.node(p).parent())
                        ),
                    )
                    .help("a previous sibling must have the same parent"),
                ),
                (Some(named), Some(p)) => {
                    if let Some(&other) = follower.get(&p) {
                        out.push(
                            Diagnostic::new::<WatsonBrokenSiblings>(
                                Location::Value(here),
                                format!(
                                    "`{id}` and `{}` both follow `{named}`",
                                    tree.id(other)
                                ),
                            )
                            .help("each node is followed by at most one sibling: chain them one after the other"),
                        );
                    } else {
                        follower.insert(p, i);
                        if let Some(l) = links.get_mut(i) {
                            *l = Some(p);
                        }
                    }
                }
            }
        }
        for cycle in link_cycles(&links) {
            // A node naming itself was reported above.
            if cycle.len() < 2 {
                continue;
            }
            let Some(&first) = cycle.first() else {
                continue;
            };
            out.push(
                Diagnostic::new::<WatsonBrokenSiblings>(
                    Location::Value(tree.pointer(first, "/previous_sibling")),
                    format!(
                        "the `previous_sibling` links of {} go round in a circle",
                        name_list(tree, &cycle, 6)
                    ),
                )
                .help("one of them must be the first node (`previous_sibling: null`) or follow a node outside the circle"),
            );
        }
    }
}

fn under(parent: Option<&str>) -> String {
    match parent {
        Some(p) => format!("under `{p}`"),
        None => "at the root".into(),
    }
}
