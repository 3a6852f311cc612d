//! The Watson corpus in `../shared/corpus/watson/`: every condition and `<? ?>` segment of the
//! 58 workspaces must parse, except the genuinely broken ones listed here with the diagnostic
//! each gets. Skips with a visible message when `../shared` is absent.

mod common;

use fluxo::lint::{lint_bytes, LintOptions, Severity};
use std::collections::BTreeMap;

#[test]
fn corpus_expressions_parse_except_the_known_broken_ones() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("corpus/watson");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 58, "the corpus has 58 workspaces");
    let mut rejected = 0;
    // (file, pointer, code) of every finding of error level.
    let mut errors: BTreeMap<String, Vec<(String, &'static str, String)>> = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("corpus file is JSON");
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let report = lint_bytes(&name, &bytes, &LintOptions::default());
        rejected += report
            .findings
            .iter()
            .filter(|d| d.code == "expression-syntax")
            .count();
        for d in report
            .findings
            .iter()
            .filter(|d| d.severity == Severity::Error)
        {
            let text = value
                .pointer(&d.pointer)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            errors
                .entry(name.clone())
                .or_default()
                .push((d.pointer.clone(), d.code, text));
        }
    }
    println!(
        "Watson corpus: {} files, {rejected} expressions rejected",
        files.len()
    );

    // Every rejection is a real bug of the corpus, known by shape.
    let mut by_kind: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for list in errors.values() {
        for (_, code, text) in list {
            let kind = match *code {
                "expression-syntax" if text.contains('=') && !text.contains("==") => {
                    "single `=`".to_string()
                }
                "unknown-variable-root" if text.contains("input_text") => {
                    "bare `input_text`".to_string()
                }
                "unknown-variable-root" => format!("bare name in `{text}`"),
                other => format!("{other} in `{text}`"),
            };
            *by_kind.entry((code, kind)).or_default() += 1;
        }
    }
    for ((code, kind), n) in &by_kind {
        println!("  {code}: {kind} ×{n}");
    }
    let expected: BTreeMap<(&str, String), usize> = [
        (("expression-syntax", "single `=`".to_string()), 4),
        // 64 conditions of the banking samples, some naming `input_text` twice.
        (
            ("unknown-variable-root", "bare `input_text`".to_string()),
            73,
        ),
        (
            ("unknown-variable-root", "bare name in `EXIT`".to_string()),
            1,
        ),
        // The workbench unit-test fixtures point `parent` at a node that does not exist.
        (
            (
                "unknown-goto-target",
                "unknown-goto-target in `WELCOME`".to_string(),
            ),
            2,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        by_kind, expected,
        "the corpus's broken expressions, by kind"
    );
    assert_eq!(
        rejected, 4,
        "only the four single-`=` conditions fail to parse"
    );
}

#[test]
fn corpus_bare_number_conditions_are_reported() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut constant = 0;
    for e in std::fs::read_dir(shared.join("corpus/watson"))
        .expect("dir")
        .filter_map(Result::ok)
    {
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        constant += lint_bytes("w.json", &bytes, &LintOptions::default())
            .findings
            .iter()
            .filter(|d| d.code == "constant-condition")
            .count();
    }
    println!("constant-condition findings in the corpus: {constant}");
    assert_eq!(
        constant, 32,
        "the research notes count 32 bare-number conditions"
    );
}
