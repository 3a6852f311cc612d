//! Property tests: no input makes the loader, the parser or the evaluator panic. (That the serde
//! model and the JSON Schemas accept the same documents is a unit test of the crate.)

mod common;

use fluxo::expr::{render, Dialect, Expression, Scope};
use fluxo::lint::{lint_bytes, LintOptions};
use proptest::prelude::*;
use serde_json::json;

fn seed_flow() -> String {
    std::fs::read_to_string(common::root().join("tests/fixtures/lint/schema/valid.json"))
        .expect("seed")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Byte-level mutations of a valid flow: lint returns findings, never panics.
    #[test]
    fn mutated_flows_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..12)) {
        let mut bytes = seed_flow().into_bytes();
        for (at, op, b) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, b),
                2 => bytes[i] = b,
                _ => { let c = bytes[i]; bytes.insert(i, c); }
            }
        }
        let report = lint_bytes("mutated.json", &bytes, &LintOptions::default());
        for f in &report.findings {
            prop_assert!(f.line >= 1 && f.column >= 1);
        }
    }

    /// Any string: the expression parser and template splitter return, never panic.
    #[test]
    fn arbitrary_expressions_never_panic(s in "\\PC{0,80}") {
        for dialect in [Dialect::Builder, Dialect::Watson] {
            let _ = Expression::parse(&s, dialect);
            let _ = render(&s, dialect, &Scope::empty());
        }
    }

    /// Strings from the language's own tokens: parse, and evaluation of what parses, never panic.
    #[test]
    fn token_soup_evaluates_without_panic(tokens in prop::collection::vec(prop::sample::select(vec![
        "$x", "$y", "input.text", "#oi", "@cor", "@cor:azul", "'a'", "\"b\"", "1", "0", "-", "+", "*", "/", "%",
        "==", "===", "!=", "<", ">=", "&&", "||", "!", "??", "?:", "?", ":", "(", ")", "[", "]", ".", "?.",
        "length", "trim()", ".split(',')", ".join('-')", ".substring(1, 3)", ".get(0)", "/a+/i", ".test('aa')",
        "null", "undefined", "true", "[1, 2]", ",", "context['x']", ".toFixed(2)", ".append(1)",
    ]), 1..16)) {
        let src = tokens.join(" ");
        for dialect in [Dialect::Builder, Dialect::Watson] {
            if let Ok(e) = Expression::parse(&src, dialect) {
                let ctx = json!({ "x": "abc", "y": [1, "2", { "z": null }] });
                let input = json!({ "text": "Olá" });
                let intents = json!([{ "intent": "oi", "confidence": 0.9 }]);
                let entities = json!([{ "entity": "cor", "value": "azul" }]);
                let scope = Scope { context: &ctx, input: &input, intents: &intents, entities: &entities, ..Scope::empty() };
                let _ = e.evaluate(&scope);
            }
        }
    }

}
