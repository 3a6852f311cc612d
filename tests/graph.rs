//! `fluxo graph`: what a reader of the picture sees, as snapshots; and the CLI's exit codes.

mod common;

use fluxo::graph::{render, Format};

#[test]
fn omni_flow_as_mermaid_and_dot() {
    let bot = fluxo::testing::load(&common::root().join("flows/omni.json"), None).expect("loads");
    let mermaid = render(&bot, Format::Mermaid);
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert!(
        mermaid.contains("{{\"transbordo<br/>action start_live_chat\"}}"),
        "the hand-over node is a hexagon"
    );
    assert!(mermaid.contains("class n5 handover"));
    assert!(
        mermaid.contains("-->|\"input.live_chat.status == 'out_of_hours'\"|"),
        "status branches are labelled"
    );
    assert!(mermaid.contains("linkStyle "), "status branches are marked");
    insta::assert_snapshot!("omni_mermaid", mermaid);
    let dot = render(&bot, Format::Dot);
    assert!(dot.starts_with("digraph flow {") && dot.trim_end().ends_with('}'));
    assert!(dot.contains("shape=hexagon"));
    assert!(dot.contains("color=\"#d9480f\", fontcolor=\"#d9480f\", penwidth=2"));
    insta::assert_snapshot!("omni_dot", dot);
}

#[test]
fn graph_cli() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
            .args(args)
            .current_dir(common::root())
            .output()
            .expect("run")
    };
    let o = run(&["graph", "flows/zendesk.json", "--format", "dot"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("digraph flow {"));
    assert_eq!(run(&["graph", "flows/nope.json"]).status.code(), Some(2));
    assert_eq!(
        run(&["graph", "flows/zendesk.json", "--format", "png"])
            .status
            .code(),
        Some(2)
    );
}

fn graph(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .arg("graph")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run")
}

#[test]
fn graph_draws_a_flow_with_syntax_errors_elsewhere() {
    let dir = common::Scratch::new("graph-broken");
    // A trailing comma, a missing comma and a node that does not fit the schema: the picture
    // is drawn from what can be read, and the findings go to standard error.
    dir.write(
        "f.json",
        r#"{ "nodes": [
  { "id": "inicio", "condition": "start", "next": [ { "goto": "menu" }, ] },
  { "id": "menu", "input": { "default": { "type": "text_input" } }, "next": [ { "condition": "input.text == '1'", "goto": "fim" } ] }
  { "id": "fim", "output": 3 },
  { "id": "perdido" }
] }"#,
    );
    let o = graph(&dir, &["f.json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("f.json:2:71: trailing comma"), "{err}");
    assert!(err.contains("f.json:3:"), "{err}");
    assert!(err.contains("missing comma"), "{err}");
    assert!(
        err.contains("f.json:4:28: expected array, found a number [schema]"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    insta::assert_snapshot!("broken_flow_mermaid", out);
    assert!(out.contains("n1 -->|\"input.text == '1'\"| n2"), "{out}");
    // Nothing to draw: not a flow, or not JSON at all.
    dir.write("w.json", r#"{ "name": "x" }"#);
    let o = graph(&dir, &["w.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a flow that can be read"));
    dir.write("n.json", "\u{0}\u{1}");
    assert_eq!(graph(&dir, &["n.json"]).status.code(), Some(2));
    let o = graph(&dir, &["nao-existe.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: nao-existe.json: does not exist\n"
    );
}

#[test]
fn graph_marks_unreachable_nodes() {
    let dir = common::Scratch::new("graph-unreachable");
    dir.write(
        "f.json",
        r#"{ "nodes": [
  { "id": "inicio", "condition": "start", "next": [ { "goto": "fim" } ] },
  { "id": "pesquisa", "input": { "default": { "type": "text_input" } } },
  { "id": "fim", "output": [] },
  { "id": "quebrado", "next": { "goto": "escondido" } },
  { "id": "escondido", "output": [] }
] }"#,
    );
    let mermaid = graph(&dir, &["f.json"]);
    assert_eq!(mermaid.status.code(), Some(0));
    let mermaid = String::from_utf8_lossy(&mermaid.stdout);
    // `pesquisa` and `quebrado` are unreachable; `escondido` is reachable only through the
    // `next` of `quebrado`, which does not fit the schema but still names it.
    assert!(mermaid.contains("class n1,n3,n4 unreachable"), "{mermaid}");
    assert!(
        mermaid.contains("pesquisa<br/>waits for input<br/>(unreachable)"),
        "{mermaid}"
    );
    assert!(mermaid.contains("stroke-dasharray"), "{mermaid}");
    let dot = graph(&dir, &["f.json", "--format", "dot"]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(
        dot.contains("n1 [label=\"pesquisa\\nwaits for input\\n(unreachable)\", shape=parallelogram, style=\"filled,dashed\""),
        "{dot}"
    );
    assert!(
        !dot.contains("n0 [label=\"inicio\\nstart\\n(unreachable)"),
        "{dot}"
    );
    insta::assert_snapshot!("unreachable_dot", dot);
}

#[test]
fn graph_draws_an_edge_to_a_missing_node_dangling_and_warns() {
    let dir = common::Scratch::new("graph-dangling");
    dir.write(
        "f.json",
        r#"{ "nodes": [
  { "id": "inicio", "condition": "start", "input": { "default": { "type": "text_input" } }, "next": [ { "condition": "input.text == 'sim'", "goto": "confirma" }, { "goto": "fim" } ] },
  { "id": "fim", "output": [] }
] }"#,
    );
    let o = graph(&dir, &["f.json"]);
    assert_eq!(o.status.code(), Some(0));
    let mermaid = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The edge is drawn, to a box that says the node is missing, and the other edge stays.
    assert!(
        mermaid.contains("missing0[\"confirma<br/>(missing node)\"]"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("n0 -.->|\"input.text == 'sim'\"| missing0"),
        "{mermaid}"
    );
    assert!(mermaid.contains("n0 --> n1"), "{mermaid}");
    assert!(mermaid.contains("linkStyle 0 stroke:#c92a2a"), "{mermaid}");
    assert!(
        stderr.starts_with("warning: f.json:2:")
            && stderr.contains("no node has the id `confirma`"),
        "{stderr}"
    );
    assert!(stderr.contains("[unknown-goto-target]"), "{stderr}");
    let dot = graph(&dir, &["f.json", "--format", "dot"]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(
        dot.contains("n0 -> missing0 [label=\"input.text == 'sim'\", style=dashed"),
        "{dot}"
    );
    assert!(
        dot.contains("missing0 [label=\"confirma\\n(missing node)\""),
        "{dot}"
    );
}
