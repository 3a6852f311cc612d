//! One method table: every method the evaluator accepts lints clean, and every method the
//! linter accepts runs — in each dialect — and a method outside the table fails both.

use fluxo::expr::{methods, Availability, Dialect, Expression, Scope};
use fluxo::lint::{lint_bytes, LintOptions};
use fluxo::ErrorKind;
use serde_json::{json, Value};

fn flow_with(condition: &str) -> Vec<u8> {
    json!({ "start_context": ["obj"], "nodes": [
        { "id": "a", "condition": "start", "input": { "default": { "type": "text_input" } },
          "next": [ { "condition": condition, "goto": "a" }, { "goto": "a" } ] }
    ] })
    .to_string()
    .into_bytes()
}

fn workspace_with(condition: &str) -> Vec<u8> {
    json!({ "dialog_nodes": [ { "dialog_node": "a", "conditions": condition } ] })
        .to_string()
        .into_bytes()
}

fn lint_codes(bytes: &[u8]) -> Vec<String> {
    lint_bytes("m.json", bytes, &LintOptions::default())
        .findings
        .iter()
        .filter(|f| f.code == "unknown-method")
        .map(|f| f.message.clone())
        .collect()
}

fn run(example: &str, dialect: Dialect) -> Result<Value, fluxo::Error> {
    let context = json!({ "obj": { "a": 1 } });
    let system = json!({ "__now": "2026-01-05T12:00:00Z" });
    let scope = Scope {
        context: &context,
        system: &system,
        ..Scope::empty()
    };
    Expression::parse(example, dialect)?.evaluate(&scope)
}

fn lints_clean(example: &str, dialect: Dialect) -> Vec<String> {
    match dialect {
        Dialect::Builder => lint_codes(&flow_with(example)),
        _ => lint_codes(&workspace_with(example)),
    }
}

#[test]
fn every_method_in_the_table_runs_and_lints_clean_in_its_dialects() {
    let mut checked = 0;
    for m in methods() {
        for dialect in [Dialect::Builder, Dialect::Watson] {
            if !m.availability.includes(dialect) {
                continue;
            }
            let ran = run(m.example, dialect);
            assert!(
                ran.is_ok(),
                "{dialect:?} `{}`: the example `{}` fails: {:?}",
                m.name,
                m.example,
                ran.err()
            );
            let found = lints_clean(m.example, dialect);
            assert!(
                found.is_empty(),
                "{dialect:?} `{}`: lint rejects `{}`: {found:?}",
                m.name,
                m.example
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} method/dialect pairs");
}

#[test]
fn a_method_outside_a_dialect_fails_both_lint_and_run() {
    // Methods only Watson has are rejected in builder flows by both, and the other way round.
    for m in methods() {
        let (outside, name) = match m.availability {
            Availability::Watson => (Dialect::Builder, m.name),
            Availability::Builder => (Dialect::Watson, m.name),
            _ => continue,
        };
        if methods()
            .iter()
            .any(|o| o.name == name && o.availability.includes(outside))
        {
            continue; // the name exists in that dialect on another receiver
        }
        let err = run(m.example, outside).expect_err(m.example);
        assert_eq!(
            err.kind(),
            ErrorKind::ExpressionUnknownMethod,
            "{}",
            m.example
        );
        assert!(
            !lints_clean(m.example, outside).is_empty(),
            "{outside:?} lint accepts `{}`",
            m.example
        );
    }
    for dialect in [Dialect::Builder, Dialect::Watson] {
        let err = run("'abc'.nope()", dialect).expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::ExpressionUnknownMethod);
        assert!(!lints_clean("'abc'.nope()", dialect).is_empty());
    }
}

#[test]
fn the_methods_lint_used_to_reject_now_agree() {
    // `fluxo lint` rejected these while `fluxo run` evaluated them.
    for example in [
        "$obj.isEmpty()",
        "'abc'.equalsIgnoreCase('ABC')",
        "'42'.toInt() > 3",
        "'a1'.find('[0-9]')",
    ] {
        assert!(
            lints_clean(example, Dialect::Builder).is_empty(),
            "{example}"
        );
        assert!(run(example, Dialect::Builder).is_ok(), "{example}");
    }
}

#[test]
fn arity_is_checked_by_both() {
    let err = run("'abc'.startsWith()", Dialect::Builder).expect_err("no argument");
    assert_eq!(err.kind(), ErrorKind::ExpressionUnknownMethod);
    let found = lints_clean("'abc'.startsWith()", Dialect::Builder);
    assert!(
        found.iter().any(|m| m.contains("takes 1 argument")),
        "{found:?}"
    );
}

#[test]
fn the_rule_prints_every_method_with_its_dialects() {
    // `fluxo rule unknown-method` is where authors read which dialect has a method.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxo"))
        .args(["rule", "unknown-method"])
        .output()
        .expect("run fluxo");
    let text = String::from_utf8_lossy(&out.stdout);
    let table = text
        .split_once("## Methods and functions\n")
        .map(|(_, t)| t)
        .expect("the rule prints the table");
    assert!(table.starts_with("method "), "the table has a header line");
    // docs/expressions.md is a copy of that table; regenerate it when the table changes.
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/expressions.md"))
        .expect("docs/expressions.md");
    assert!(
        docs.contains(table),
        "docs/expressions.md is behind the method table: paste in `fluxo rule unknown-method`'s table"
    );
    for m in methods() {
        let on = match m.receiver {
            fluxo::expr::Receiver::Function => format!("{}(…)", m.name),
            r => format!("{}.{}(…)", r.as_str(), m.name),
        };
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(on.as_str()))
            .unwrap_or_else(|| panic!("`{on}` is not printed"));
        // `string.replace(…)  2  both  doc…`; the arity may be `1 or 2`.
        let columns: Vec<&str> = line.split_whitespace().collect();
        let at = if matches!(columns.get(2), Some(&("or" | "to"))) {
            4
        } else {
            2
        };
        assert_eq!(
            columns.get(at).copied(),
            Some(m.availability.as_str()),
            "`{on}` does not show `{}`: {line}",
            m.availability.as_str()
        );
    }
}
