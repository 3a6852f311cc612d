//! The structural lint of Watson workspaces: a workspace with defects planted on purpose
//! (`tests/fixtures/lint/watson-structure/planted.json`, each listed with its rule and pointer
//! in `planted.md` beside it) must have every one reported where it is, and nothing else; the
//! clean workspace has no finding; the wrapped export `{"workspace": {…}}` is linted alone and
//! in a directory walk, with pointers under `/workspace`.

mod common;

use fluxo::lint::{lint_bytes, render, LintOptions, Severity};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    common::root().join("tests/fixtures/lint/watson-structure")
}

/// `(rule, pointer)` of every line of the `planted.md` table.
fn planted() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir().join("planted.md")).expect("planted.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", rule, pointer, _, ""] if pointer.starts_with('/') => {
                    Some(((*rule).to_owned(), (*pointer).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn every_planted_defect_is_reported_at_its_pointer() {
    let planted = planted();
    assert!(
        planted.len() >= 27,
        "27 defects are planted, read {}",
        planted.len()
    );
    let report = common::lint_fixture(&dir().join("planted.json"));
    let found: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .map(|f| (f.code.to_owned(), f.pointer.clone()))
        .collect();
    let missing: Vec<_> = planted.iter().filter(|p| !found.contains(*p)).collect();
    let hits = planted.len() - missing.len();
    println!("planted defects found: {hits}/{}", planted.len());
    assert!(
        missing.is_empty(),
        "planted defects not reported: {missing:#?}"
    );
    let expected: BTreeSet<_> = planted.iter().cloned().collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "findings nothing was planted for: {extra:#?}"
    );
    assert_eq!(
        report.findings.len(),
        planted.len(),
        "one finding per planted defect"
    );
    for f in &report.findings {
        assert!(f.line > 0 && f.column > 0, "{} has no position", f.pointer);
    }
    insta::assert_snapshot!(render::human(&[report], false));
}

#[test]
fn the_clean_workspace_has_no_finding() {
    let report = common::lint_fixture(&dir().join("valid.json"));
    let codes: Vec<_> = report
        .findings
        .iter()
        .map(|f| format!("{} {}", f.code, f.pointer))
        .collect();
    assert!(codes.is_empty(), "{codes:#?}");
}

#[test]
fn the_wrapped_export_is_linted_under_workspace() {
    let report = common::lint_fixture(&dir().join("wrapped.json"));
    assert_eq!(report.kind, Some(fluxo::lint::FileKind::Watson));
    let f: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code, f.pointer.as_str(), f.line))
        .collect();
    assert_eq!(
        f,
        [(
            "watson-jump-without-target",
            "/workspace/dialog_nodes/1/next_step/behavior",
            50
        )],
    );
}

#[test]
fn the_wrapped_export_is_found_in_a_directory_walk() {
    let scratch = common::Scratch::new("watson-wrapped");
    std::fs::copy(dir().join("wrapped.json"), scratch.join("export.json")).expect("copy");
    let out = Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(["lint", "--format", "json"])
        .arg(scratch.path())
        .output()
        .expect("run fluxo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let findings: serde_json::Value = serde_json::from_str(&stdout).expect("JSON findings");
    let pointers: Vec<&str> = findings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/workspace/dialog_nodes/1/next_step/behavior"]);
}

#[test]
fn input_text_is_undocumented_not_wrong() {
    let ws =
        br#"{ "dialog_nodes": [ { "dialog_node": "a", "conditions": "input_text == 'yes'" } ] }"#;
    let report = lint_bytes("w.json", ws, &LintOptions::default());
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "unknown-variable-root")
        .expect("a finding");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("undocumented"), "{}", f.message);
    assert!(f.message.contains("IBM's samples"), "{}", f.message);
    assert!(!f.message.contains("always undefined"), "{}", f.message);
}

#[test]
fn broken_input_does_not_panic() {
    for ws in [
        r#"{ "dialog_nodes": [ 1, null, "x", { "dialog_node": 3, "parent": [], "next_step": "jump_to" } ] }"#,
        r#"{ "dialog_nodes": [ { "dialog_node": "a", "parent": "a", "previous_sibling": "a", "next_step": { "behavior": "skip_user_input" } } ] }"#,
        r#"{ "workspace": { "dialog_nodes": {} } }"#,
        r#"{ "dialog_nodes": [], "intents": 3, "entities": [ { "entity": "x", "values": [ { "type": "patterns", "patterns": [ "(", 4 ] } ] } ] }"#,
    ] {
        let _ = lint_bytes("w.json", ws.as_bytes(), &LintOptions::default());
    }
}
