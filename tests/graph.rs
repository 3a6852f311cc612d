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
