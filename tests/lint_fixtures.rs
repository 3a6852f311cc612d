//! One directory per rule under `tests/fixtures/lint/<rule>/`: `invalid*.json` must raise the
//! rule, `valid*.json` must not. The rendered human diagnostics are snapshots a reviewer reads
//! to see what a user sees.

mod common;

use fluxo::lint::render;

#[test]
fn fixtures_render_as_snapshots() {
    insta::glob!("fixtures/lint/*/*.json", |path| {
        if path.file_name().is_some_and(|n| n == "integrations.json") {
            return;
        }
        // A workspace with many rules' defects at once: `tests/watson_lint.rs` checks it.
        if path
            .parent()
            .is_some_and(|p| p.ends_with("watson-structure"))
        {
            return;
        }
        let report = common::lint_fixture(path);
        let rule = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
        if name.starts_with("valid") {
            assert!(
                !codes.contains(&rule),
                "{rule}/{name} should not raise {rule}: {codes:?}"
            );
            assert!(
                report
                    .findings
                    .iter()
                    .all(|f| f.severity < fluxo::lint::Severity::Error),
                "{rule}/{name} should have no errors: {codes:?}"
            );
        } else {
            assert!(
                codes.contains(&rule),
                "{rule}/{name} should raise {rule}: {codes:?}"
            );
        }
        insta::assert_snapshot!(render::human(&[report], false));
    });
}

#[test]
fn every_rule_has_an_invalid_fixture_and_docs() {
    let dir = common::root().join("tests/fixtures/lint");
    for rule in fluxo::lint::rules() {
        assert!(
            dir.join(rule.code).join("invalid.json").exists()
                || std::fs::read_dir(dir.join(rule.code)).is_ok_and(|mut d| d
                    .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))),
            "rule {} has no fixture directory",
            rule.code
        );
        for section in ["## What it does", "## Why it matters", "## Example"] {
            assert!(
                rule.docs.contains(section),
                "rule {} docs lack {section}",
                rule.code
            );
        }
    }
}

#[test]
fn spec_rule_names_exist() {
    for code in [
        "json-syntax",
        "schema",
        "duplicate-node-id",
        "unknown-goto-target",
        "missing-start-node",
        "expression-syntax",
        "unknown-variable-root",
        "unknown-method",
        "unknown-action",
        "missing-integration-id",
        "unknown-integration",
        "live-chat-without-open-input",
        "unhandled-live-chat-status",
        "unknown-live-chat-status",
        "extra-info-too-long",
        "unsupported-parameter",
        "unreachable-node",
        "loop-without-input",
        "variable-maybe-unset",
        "template-in-condition",
    ] {
        assert!(
            fluxo::lint::find_rule(code).is_some(),
            "missing rule {code}"
        );
    }
}

#[test]
fn doc_examples_are_located_and_worded() {
    let dir = common::root().join("tests/fixtures/lint/json-syntax");
    let r = common::lint_fixture(&dir.join("doc-generic-template-trailing-comma.json"));
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "json-syntax")
        .expect("a finding");
    assert!(f.message.starts_with("trailing comma"), "{}", f.message);
    assert_eq!((f.line, f.column), (13, 40));
    let r = common::lint_fixture(&dir.join("doc-altu-connector-missing-comma.json"));
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "json-syntax")
        .expect("a finding");
    assert!(f.message.starts_with("missing comma"), "{}", f.message);
    assert_eq!((f.line, f.column), (11, 30));
    // The repair lets the rest of the file be checked.
    assert!(r
        .findings
        .iter()
        .any(|f| f.code == "integrations-simulated"));
}
