//! Coverage reports: which nodes, edges and close statuses the tests reached, measured against
//! what the dialog has ([`Dialog::coverage_targets`]).

use crate::conversation::{Coverage, Dialog};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Coverage of one flow, measured against what the flow has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    /// The flow.
    pub flow: String,
    /// Nodes fired / all nodes.
    pub nodes: (usize, usize),
    /// Node ids never fired.
    pub nodes_missed: Vec<String>,
    /// `next` edges taken / all edges.
    pub edges: (usize, usize),
    /// Edges never taken.
    pub edges_missed: Vec<String>,
    /// Per hand-over node: statuses reached and statuses never reached.
    pub handovers: BTreeMap<String, HandoverCoverage>,
    /// What an edge is: `next` (a flow's `next` branches) or `jump` (a Watson `jump_to`).
    pub edge_kind: &'static str,
}

/// Close statuses of one hand-over node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoverCoverage {
    /// Reached, and routed by a status branch.
    pub reached: Vec<String>,
    /// Never reached by a status branch.
    pub missed: Vec<String>,
    /// Of the missed: reached, but routed by a fallback because no branch tests the status.
    pub unhandled: Vec<String>,
}

impl CoverageReport {
    /// Measures `cov` against what `dialog` has (a flow, a workspace, or either).
    pub fn of<D: Dialog + ?Sized>(flow: &str, dialog: &D, cov: &Coverage) -> CoverageReport {
        let targets = dialog.coverage_targets();
        let mut handovers = BTreeMap::new();
        for (node, statuses) in &targets.handovers {
            let needed: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            let reached: BTreeSet<String> = cov.handovers.get(node).cloned().unwrap_or_default();
            let fell: BTreeSet<String> = cov.unhandled.get(node).cloned().unwrap_or_default();
            let missed: Vec<String> = needed
                .iter()
                .filter(|s| !reached.contains(**s))
                .map(|s| s.to_string())
                .collect();
            handovers.insert(
                node.clone(),
                HandoverCoverage {
                    reached: needed
                        .iter()
                        .filter(|s| reached.contains(**s))
                        .map(|s| s.to_string())
                        .collect(),
                    unhandled: missed
                        .iter()
                        .filter(|s| fell.contains(*s))
                        .cloned()
                        .collect(),
                    missed,
                },
            );
        }
        let missed = |all: &[String], got: &BTreeSet<String>| -> Vec<String> {
            all.iter().filter(|x| !got.contains(*x)).cloned().collect()
        };
        let nodes_missed = missed(&targets.nodes, &cov.nodes);
        let edges_missed = missed(&targets.edges, &cov.edges);
        CoverageReport {
            flow: flow.to_owned(),
            nodes: (
                targets.nodes.len() - nodes_missed.len(),
                targets.nodes.len(),
            ),
            nodes_missed,
            edges: (
                targets.edges.len() - edges_missed.len(),
                targets.edges.len(),
            ),
            edges_missed,
            handovers,
            edge_kind: targets.edge_kind,
        }
    }

    /// The report as people read it.
    pub fn human(&self) -> String {
        let pct = |(a, b): (usize, usize)| (a * 100).checked_div(b).unwrap_or(100);
        let mut s = format!(
            "coverage of {}: nodes {}/{} ({}%), {} edges {}/{} ({}%)\n",
            self.flow,
            self.nodes.0,
            self.nodes.1,
            pct(self.nodes),
            self.edge_kind,
            self.edges.0,
            self.edges.1,
            pct(self.edges)
        );
        if !self.nodes_missed.is_empty() {
            s.push_str(&format!(
                "  nodes never fired: {}\n",
                self.nodes_missed.join(", ")
            ));
        }
        for (node, h) in &self.handovers {
            let total = h.reached.len() + h.missed.len();
            s.push_str(&format!(
                "  hand-over `{node}`: close statuses {}/{total}",
                h.reached.len()
            ));
            if h.missed.is_empty() {
                s.push_str(" (all)\n");
            } else {
                s.push_str(&format!(", never reached: {}\n", h.missed.join(", ")));
                if !h.unhandled.is_empty() {
                    s.push_str(&format!(
                        "    (the tests end chats with {}, but no `next` branch tests that status: a fallback took them)\n",
                        h.unhandled.join(", ")
                    ));
                }
            }
        }
        s
    }
}
