//! The flow as a picture: Mermaid or Graphviz DOT. Nodes show their id and what they do
//! (start, open input, hand-over); `next` edges carry their conditions; the branches that
//! route a live chat's close status are marked.

use crate::compile::graph::{self, reachable_despite, Unread};
use crate::compile::load::{flow_model, read};
use crate::compile::{compile, CompileOptions, CompiledFlow, Entry};
use crate::diagnostic::Located;
use crate::domain::BuiltinAction;
use crate::engine::Bot;
use crate::error::{Error, ErrorKind};
use crate::model::FileKind;
use crate::schema::{self, SchemaKind};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Mermaid `flowchart`.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Handover,
    Input,
    Fallback,
    Plain,
}

fn kind(flow: &CompiledFlow, i: usize) -> Kind {
    let n = &flow.nodes[i];
    if n.actions
        .iter()
        .any(|a| BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat))
    {
        Kind::Handover
    } else if matches!(n.entry, Entry::Start) {
        Kind::Start
    } else if n.input.is_some() {
        Kind::Input
    } else if matches!(n.entry, Entry::AnythingElse) {
        Kind::Fallback
    } else {
        Kind::Plain
    }
}

/// The condition's source text, for edge labels.
fn condition_text(e: &crate::expr::Expr) -> String {
    crate::expr::display(e, crate::expr::Dialect::Builder)
}

fn is_status_branch(e: &crate::expr::Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if x.path()
            .is_some_and(|p| p == ["input", "live_chat", "status"])
        {
            found = true;
        }
    });
    found
}

/// Draws a loaded bot's flow.
pub fn render(bot: &Bot, format: Format) -> String {
    draw_compiled(bot.flow(), &[], format)
}

/// A flow drawn from a file, and the findings that kept parts of it from being read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Drawing {
    /// The picture.
    pub text: String,
    /// The syntax, schema and expression findings of the file (empty for a clean flow). The
    /// picture shows what could be read despite them.
    pub findings: Vec<Located>,
}

/// Draws a flow file, best effort: a flow with errors elsewhere (a missing or trailing comma, a
/// node that does not fit the schema, a broken condition) is still drawn from what can be read,
/// and the findings come back beside the picture. Nodes the conversation can never reach are
/// marked; a part of a node that could not be read takes its widest meaning first (a lost
/// `next` may lead anywhere), so nothing is marked unreachable only because of a typo. Only a
/// file with nothing to draw (not a flow, or no node that can be read) is an error.
pub fn draw(path: &str, bytes: &[u8], format: Format) -> Result<Drawing, Error> {
    let mut r = read(path, bytes);
    let mut diags = std::mem::take(&mut r.diagnostics);
    let value = match (r.value.take(), r.kind) {
        (Some(v), Some(FileKind::Flow)) => v,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidFlow,
                format!("{path} is not a flow that can be read (an object with `nodes`)"),
            )
            .with_findings(r.locate(diags)))
        }
    };
    let schema = schema::validate(SchemaKind::Flow, &value);
    let gotos = graph::raw_gotos(&value, &schema);
    let Some((flow, positions, refused)) = flow_model(value, &schema) else {
        return Err(Error::new(
            ErrorKind::InvalidFlow,
            format!("{path} has no readable nodes"),
        )
        .with_findings(r.locate(diags)));
    };
    let had_nodes = !positions.is_empty() || !schema.is_empty() || !refused.is_empty();
    let compiled = compile(flow, &positions, CompileOptions::default());
    let unread = graph::unread(&compiled, &schema, &gotos);
    diags.extend(schema);
    diags.extend(refused);
    diags.extend(compiled.diagnostics.iter().cloned());
    diags.extend(dangling_warnings(&compiled));
    let findings = r.locate(diags);
    if compiled.nodes.is_empty() && had_nodes && !findings.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidFlow,
            format!("{path} has no node that can be read"),
        )
        .with_findings(findings));
    }
    Ok(Drawing {
        text: draw_compiled(&compiled, &unread, format),
        findings,
    })
}

/// A warning for each `next` whose `goto` names no node: the picture draws the edge to a
/// dangling "missing" box rather than dropping it.
fn dangling_warnings(flow: &CompiledFlow) -> Vec<crate::diagnostic::Diagnostic> {
    let Some(rule) = crate::lint::find_rule("unknown-goto-target") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in &flow.nodes {
        for (k, x) in n.next.iter().enumerate() {
            if x.target.is_none() {
                out.push(
                    crate::diagnostic::Diagnostic::of(
                        rule,
                        crate::diagnostic::Location::Value(format!("{}/next/{k}/goto", n.pointer)),
                        format!(
                            "no node has the id `{}`: the edge from node {} is drawn to a missing node",
                            x.goto,
                            n.label()
                        ),
                    )
                    .with_severity(crate::diagnostic::Severity::Warning),
                );
            }
        }
    }
    out
}

/// The edges whose `goto` names no node, numbered in file order: (source node, edge, number).
fn dangling(flow: &CompiledFlow) -> Vec<(usize, &crate::compile::CNext, usize)> {
    flow.nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.next.iter().map(move |x| (i, x)))
        .filter(|(_, x)| x.target.is_none())
        .enumerate()
        .map(|(k, (i, x))| (i, x, k))
        .collect()
}

fn draw_compiled(flow: &CompiledFlow, unread: &[Unread], format: Format) -> String {
    match format {
        Format::Mermaid => mermaid(flow, unread),
        Format::Dot => dot(flow, unread),
    }
}

fn label(flow: &CompiledFlow, i: usize) -> String {
    let n = &flow.nodes[i];
    let mut parts = vec![n.id.clone()];
    match &n.entry {
        Entry::Start => parts.push("start".into()),
        Entry::AnythingElse => parts.push("anything_else".into()),
        Entry::Expr(e) => parts.push(format!("when {}", condition_text(e))),
        Entry::None => {}
    }
    for a in &n.actions {
        parts.push(format!("action {}", a.name));
    }
    if n.input.is_some() {
        parts.push("waits for input".into());
    }
    parts.join("\n")
}

/// Nodes the conversation can never reach (none when the flow has no start node: then
/// everything is unreachable, and marking it all says nothing).
fn unreachable(flow: &CompiledFlow, unread: &[Unread]) -> Vec<usize> {
    if flow.start.is_none() {
        return Vec::new();
    }
    reachable_despite(flow, unread)
        .into_iter()
        .enumerate()
        .filter(|(_, seen)| !seen)
        .map(|(i, _)| i)
        .collect()
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('\n', "<br/>")
        .replace('<', "&lt;")
        .replace("&lt;br/>", "<br/>")
        .replace('>', "&gt;")
        .replace("<br/&gt;", "<br/>")
}

fn mermaid(flow: &CompiledFlow, unread: &[Unread]) -> String {
    let mut s = String::from("flowchart TD\n");
    let unreachable = unreachable(flow, unread);
    for i in 0..flow.nodes.len() {
        let mut text = label(flow, i);
        if unreachable.contains(&i) {
            text.push_str("\n(unreachable)");
        }
        let l = mermaid_text(&text);
        let shape = match kind(flow, i) {
            Kind::Start => format!("n{i}([\"{l}\"])"),
            Kind::Handover => format!("n{i}{{{{\"{l}\"}}}}"),
            Kind::Input => format!("n{i}[/\"{l}\"/]"),
            Kind::Fallback => format!("n{i}>\"{l}\"]"),
            Kind::Plain => format!("n{i}[\"{l}\"]"),
        };
        s.push_str(&format!("  {shape}\n"));
    }
    let missing = dangling(flow);
    for (_, x, k) in &missing {
        let l = mermaid_text(&format!("{}\n(missing node)", x.goto));
        s.push_str(&format!("  missing{k}[\"{l}\"]\n"));
    }
    let mut link = 0;
    let mut status_links = Vec::new();
    let mut missing_links = Vec::new();
    let mut next_missing = missing.iter().map(|(_, _, k)| *k);
    for (i, n) in flow.nodes.iter().enumerate() {
        for x in &n.next {
            let Some(t) = x.target else {
                let k = next_missing.next().unwrap_or_default();
                match &x.condition {
                    Some(c) => s.push_str(&format!(
                        "  n{i} -.->|\"{}\"| missing{k}\n",
                        mermaid_text(&condition_text(c))
                    )),
                    None => s.push_str(&format!("  n{i} -.-> missing{k}\n")),
                }
                missing_links.push(link);
                link += 1;
                continue;
            };
            match &x.condition {
                Some(c) => {
                    s.push_str(&format!(
                        "  n{i} -->|\"{}\"| n{t}\n",
                        mermaid_text(&condition_text(c))
                    ));
                    if is_status_branch(c) {
                        status_links.push(link);
                    }
                }
                None => s.push_str(&format!("  n{i} --> n{t}\n")),
            }
            link += 1;
        }
    }
    s.push_str("  classDef handover fill:#ffe8cc,stroke:#d9480f,stroke-width:2px\n");
    s.push_str("  classDef input fill:#e7f5ff,stroke:#1971c2\n");
    let handovers: Vec<String> = (0..flow.nodes.len())
        .filter(|&i| kind(flow, i) == Kind::Handover)
        .map(|i| format!("n{i}"))
        .collect();
    if !handovers.is_empty() {
        s.push_str(&format!("  class {} handover\n", handovers.join(",")));
    }
    let inputs: Vec<String> = (0..flow.nodes.len())
        .filter(|&i| kind(flow, i) == Kind::Input)
        .map(|i| format!("n{i}"))
        .collect();
    if !inputs.is_empty() {
        s.push_str(&format!("  class {} input\n", inputs.join(",")));
    }
    if !unreachable.is_empty() {
        s.push_str("  classDef unreachable fill:#f1f3f5,stroke:#868e96,stroke-dasharray:4 3,color:#868e96\n");
        let ids: Vec<String> = unreachable.iter().map(|i| format!("n{i}")).collect();
        s.push_str(&format!("  class {} unreachable\n", ids.join(",")));
    }
    if !status_links.is_empty() {
        let ids: Vec<String> = status_links.iter().map(usize::to_string).collect();
        s.push_str(&format!(
            "  linkStyle {} stroke:#d9480f,stroke-width:2px\n",
            ids.join(",")
        ));
    }
    if !missing.is_empty() {
        s.push_str(
            "  classDef missing fill:#fff5f5,stroke:#c92a2a,stroke-dasharray:4 3,color:#c92a2a\n",
        );
        let ids: Vec<String> = missing
            .iter()
            .map(|(_, _, k)| format!("missing{k}"))
            .collect();
        s.push_str(&format!("  class {} missing\n", ids.join(",")));
        let ids: Vec<String> = missing_links.iter().map(usize::to_string).collect();
        s.push_str(&format!("  linkStyle {} stroke:#c92a2a\n", ids.join(",")));
    }
    s
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn dot(flow: &CompiledFlow, unread: &[Unread]) -> String {
    let mut s = String::from("digraph flow {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    let unreachable = unreachable(flow, unread);
    for i in 0..flow.nodes.len() {
        // (shape, style, the rest)
        let (shape, style, rest) = match kind(flow, i) {
            Kind::Start => ("oval", "bold", ""),
            Kind::Handover => (
                "hexagon",
                "filled,bold",
                ", fillcolor=\"#ffe8cc\", color=\"#d9480f\"",
            ),
            Kind::Input => ("parallelogram", "filled", ", fillcolor=\"#e7f5ff\""),
            Kind::Fallback => ("box", "dashed", ""),
            Kind::Plain => ("box", "", ""),
        };
        let mut text = label(flow, i);
        // Unreachable nodes are dashed and grey, and say so in words.
        let attrs = if unreachable.contains(&i) {
            text.push_str("\n(unreachable)");
            let style = match style {
                "" | "dashed" => "dashed".to_owned(),
                s => format!("{s},dashed"),
            };
            format!("shape={shape}, style=\"{style}\"{rest}, color=\"#868e96\", fontcolor=\"#868e96\", tooltip=\"unreachable\"")
        } else if style.is_empty() {
            format!("shape={shape}{rest}")
        } else if style.contains(',') {
            format!("shape={shape}, style=\"{style}\"{rest}")
        } else {
            format!("shape={shape}, style={style}{rest}")
        };
        s.push_str(&format!(
            "  n{i} [label=\"{}\", {attrs}];\n",
            dot_text(&text)
        ));
    }
    let missing = dangling(flow);
    for (_, x, k) in &missing {
        s.push_str(&format!(
            "  missing{k} [label=\"{}\", shape=box, style=dashed, color=\"#c92a2a\", fontcolor=\"#c92a2a\", tooltip=\"no node has this id\"];\n",
            dot_text(&format!("{}\n(missing node)", x.goto))
        ));
    }
    let mut next_missing = missing.iter().map(|(_, _, k)| *k);
    for (i, n) in flow.nodes.iter().enumerate() {
        for x in &n.next {
            let Some(t) = x.target else {
                let k = next_missing.next().unwrap_or_default();
                let label = x
                    .condition
                    .as_ref()
                    .map(|c| format!("label=\"{}\", ", dot_text(&condition_text(c))))
                    .unwrap_or_default();
                s.push_str(&format!(
                    "  n{i} -> missing{k} [{label}style=dashed, color=\"#c92a2a\"];\n"
                ));
                continue;
            };
            match &x.condition {
                Some(c) if is_status_branch(c) => s.push_str(&format!(
                    "  n{i} -> n{t} [label=\"{}\", color=\"#d9480f\", fontcolor=\"#d9480f\", penwidth=2];\n",
                    dot_text(&condition_text(c))
                )),
                Some(c) => s.push_str(&format!("  n{i} -> n{t} [label=\"{}\"];\n", dot_text(&condition_text(c)))),
                None => s.push_str(&format!("  n{i} -> n{t};\n")),
            }
        }
    }
    s.push_str("}\n");
    s
}
