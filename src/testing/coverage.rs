//! Coverage: which nodes, `next` edges and close statuses the tests reached.

use crate::domain::{BuiltinAction, CloseStatus, Output};
use crate::engine::Bot;
use crate::model::normalise_id;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the tests exercised of a flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Node ids that fired.
    pub nodes: BTreeSet<String>,
    /// `next` edges taken, as `from -> to`.
    pub edges: BTreeSet<String>,
    /// Hand-over node → close statuses reached and routed by a branch that tests
    /// `input.live_chat.status`.
    pub handovers: BTreeMap<String, BTreeSet<String>>,
    /// Hand-over node → close statuses reached but routed by a fallback (no status branch).
    pub unhandled: BTreeMap<String, BTreeSet<String>>,
}

impl Coverage {
    /// Adds another coverage of the same flow.
    pub fn merge(&mut self, o: &Coverage) {
        self.nodes.extend(o.nodes.iter().cloned());
        self.edges.extend(o.edges.iter().cloned());
        for (k, v) in &o.handovers {
            self.handovers
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
        for (k, v) in &o.unhandled {
            self.unhandled
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}

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
    /// Measures `cov` against what the tests ran: a flow or a Watson workspace.
    pub fn of(flow: &str, target: &super::runner::Target, cov: &Coverage) -> CoverageReport {
        match target {
            super::runner::Target::Flow(bot) => CoverageReport::new(flow, bot, cov),
            super::runner::Target::Watson(ws) => {
                let (nodes, edges) = ws.coverage_universe();
                let missed = |all: &[String], got: &BTreeSet<String>| -> Vec<String> {
                    all.iter().filter(|x| !got.contains(*x)).cloned().collect()
                };
                CoverageReport {
                    flow: flow.to_owned(),
                    nodes: (nodes.len() - missed(&nodes, &cov.nodes).len(), nodes.len()),
                    nodes_missed: missed(&nodes, &cov.nodes),
                    edges: (edges.len() - missed(&edges, &cov.edges).len(), edges.len()),
                    edges_missed: missed(&edges, &cov.edges),
                    handovers: BTreeMap::new(),
                    edge_kind: "jump",
                }
            }
        }
    }

    /// Measures `cov` against `bot`'s flow.
    pub fn new(flow: &str, bot: &Bot, cov: &Coverage) -> CoverageReport {
        let f = bot.flow();
        let all_nodes: Vec<&str> = f.nodes.iter().map(|n| n.id.as_str()).collect();
        let mut all_edges = BTreeSet::new();
        for n in &f.nodes {
            for x in n.next.iter().filter(|x| x.target.is_some()) {
                all_edges.insert(format!("{} -> {}", n.id, x.goto));
            }
        }
        let mut handovers = BTreeMap::new();
        for n in &f.nodes {
            for a in n
                .actions
                .iter()
                .filter(|a| BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat))
            {
                let bh = a
                    .param("integration_id")
                    .and_then(|v| v.literal())
                    .and_then(normalise_id)
                    .and_then(|id| bot.integrations().find(&id).cloned())
                    .is_some_and(|i| i.business_hours.is_some());
                let needed: Vec<&str> = CloseStatus::possible(bh)
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                let reached: BTreeSet<String> =
                    cov.handovers.get(&n.id).cloned().unwrap_or_default();
                let fell: BTreeSet<String> = cov.unhandled.get(&n.id).cloned().unwrap_or_default();
                let missed: Vec<String> = needed
                    .iter()
                    .filter(|s| !reached.contains(**s))
                    .map(|s| s.to_string())
                    .collect();
                handovers.insert(
                    n.id.clone(),
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
        }
        CoverageReport {
            flow: flow.to_owned(),
            nodes: (
                all_nodes.iter().filter(|n| cov.nodes.contains(**n)).count(),
                all_nodes.len(),
            ),
            nodes_missed: all_nodes
                .iter()
                .filter(|n| !cov.nodes.contains(**n))
                .map(|s| s.to_string())
                .collect(),
            edges: (
                all_edges.iter().filter(|e| cov.edges.contains(*e)).count(),
                all_edges.len(),
            ),
            edges_missed: all_edges
                .iter()
                .filter(|e| !cov.edges.contains(*e))
                .cloned()
                .collect(),
            handovers,
            edge_kind: "next",
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

/// Walks outputs for coverage: nodes, `next` edges, and close statuses per hand-over node.
#[derive(Default)]
pub(crate) struct Tracker {
    nodes: BTreeSet<String>,
    edges: BTreeSet<String>,
    last_node: Option<String>,
    handover_node: Option<String>,
    /// A chat just closed: (hand-over node, status), until the next node fires.
    pending: Option<(String, String)>,
    /// (hand-over node, status, routed by a status branch).
    statuses: Vec<(String, String, bool)>,
}

impl Tracker {
    pub(crate) fn see(&mut self, bot: &Bot, o: &Output) {
        match o {
            Output::NodeEntered { id } => {
                if let Some((h, status)) = self.pending.take() {
                    // Which `next` entry of the waiting node led here: a status branch or not.
                    let by_branch = self
                        .last_node
                        .as_ref()
                        .and_then(|p| bot.flow().by_id.get(p))
                        .is_some_and(|&i| {
                            bot.flow().nodes[i].next.iter().any(|x| {
                                &x.goto == id
                                    && x.condition.as_ref().is_some_and(|c| {
                                        let mut tests = false;
                                        c.walk(&mut |e| {
                                            tests |= e.path().is_some_and(|p| {
                                                p == ["input", "live_chat", "status"]
                                            })
                                        });
                                        tests
                                    })
                            })
                        });
                    self.statuses.push((h, status, by_branch));
                }
                if let Some(prev) = &self.last_node {
                    let is_edge =
                        bot.flow().by_id.get(prev).is_some_and(|&i| {
                            bot.flow().nodes[i].next.iter().any(|x| &x.goto == id)
                        });
                    if is_edge {
                        self.edges.insert(format!("{prev} -> {id}"));
                    }
                }
                self.nodes.insert(id.clone());
                let hands_over = bot.flow().by_id.get(id).is_some_and(|&i| {
                    bot.flow().nodes[i].actions.iter().any(|a| {
                        BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat)
                    })
                });
                if hands_over {
                    self.handover_node = Some(id.clone());
                }
                self.last_node = Some(id.clone());
            }
            Output::AwaitingInput { node } => self.last_node = Some(node.clone()),
            Output::LiveChatClosed { status, .. } => {
                if let Some(h) = &self.handover_node {
                    self.pending = Some((h.clone(), status.as_str().to_owned()));
                }
            }
            _ => {}
        }
    }

    pub(crate) fn into(self, cov: &mut Coverage) {
        cov.nodes.extend(self.nodes);
        cov.edges.extend(self.edges);
        for (h, s, by_branch) in self.statuses {
            let into = if by_branch {
                &mut cov.handovers
            } else {
                &mut cov.unhandled
            };
            into.entry(h).or_default().insert(s);
        }
    }
}
