//! A short, bounded run of the fuzz targets (`fuzz/src/targets.rs`) on generated inputs. The
//! coverage-guided run of the same targets is documented in `docs/testing.md`; inputs it found
//! that once broke an invariant live in `fuzz/regressions/` and are replayed here first.

mod common;

#[path = "../fuzz/src/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::sync::OnceLock;

use fluxo::Bot;
use proptest::prelude::*;

fn bots() -> &'static [Bot] {
    static BOTS: OnceLock<Vec<Bot>> = OnceLock::new();
    BOTS.get_or_init(|| {
        let bots = targets::shipped_bots(&common::root());
        assert!(bots.len() >= 6, "the shipped flows load");
        bots
    })
}

fn seed_flows() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        [
            "flows/simulator.json",
            "flows/liveperson.json",
            "tests/fixtures/lint/schema/valid.json",
        ]
        .iter()
        .map(|p| std::fs::read(common::root().join(p)).expect("seed flow"))
        .collect()
    })
}

/// Every saved regression input, replayed through the target named by its folder.
#[test]
fn regressions_replay() {
    let dir = common::root().join("fuzz/regressions");
    let mut replayed = 0;
    for target in ["loader", "expression", "template", "engine"] {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("regression input");
            match target {
                "loader" => targets::loader(&data),
                "expression" => targets::expression(&data),
                "template" => targets::template(&data),
                _ => targets::engine(bots(), &data),
            }
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "fuzz/regressions holds the inputs found so far"
    );
}

/// The expression language's own tokens, so that most generated strings parse and evaluate.
const TOKENS: &[&str] = &[
    "$x",
    "$n",
    "$lista",
    "$obj",
    "input.text",
    "#oi",
    "@cor",
    "@cor:azul",
    "'a'",
    "\"b\"",
    "1",
    "0",
    "2.5e3",
    "-",
    "+",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "!",
    "?",
    ":",
    "(",
    ")",
    "[",
    "]",
    ".",
    "?.",
    "length",
    ".trim()",
    ".split(',')",
    ".split('')",
    ".join('-')",
    ".substring(1, 3)",
    ".get(0)",
    ".size()",
    "/a+/i",
    ".test('aa')",
    "null",
    "true",
    "[1, 2]",
    ",",
    "context['x']",
    ".toFixed(2)",
    ".append(1)",
    "<?",
    "?>",
    "<?>",
    "T(Math).max(1, 2)",
    "new JsonArray()",
    ".![it]",
    ".?[true]",
    "now()",
    "today()",
    ".reformatDateTime('dd/MM')",
    ".toUpperCase()",
    ".matches('[0-9]+')",
    ".extract('a', 0)",
    "'Olá'",
    "$obj.a",
    "$lista[2].z",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, .. ProptestConfig::default() })]

    /// Loader: byte edits of real flows (delete, insert, overwrite, duplicate a span).
    #[test]
    fn loader(seed in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>(), 0usize..64), 1..10)) {
        let mut bytes = seed_flows()[seed].clone();
        for (at, op, b, len) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.drain(i..(i + len).min(bytes.len())); }
                1 => bytes.insert(i, b),
                2 => { if let Some(x) = bytes.get_mut(i) { *x = b; } }
                _ => {
                    let span: Vec<u8> = bytes[i..(i + len).min(bytes.len())].to_vec();
                    bytes.splice(i..i, span);
                }
            }
        }
        targets::loader(&bytes);
    }

    /// Expression: token soup and arbitrary text, in both dialects, with the display round-trip.
    #[test]
    fn expression(tokens in prop::collection::vec(prop::sample::select(TOKENS), 1..14), noise in "\\PC{0,24}") {
        targets::expression(tokens.join(" ").as_bytes());
        targets::expression(tokens.concat().as_bytes());
        targets::expression(noise.as_bytes());
    }

    /// Template: text around `<? ?>` segments holding token soup.
    #[test]
    fn template(parts in prop::collection::vec((prop::sample::select(TOKENS), "[a-z <>?]{0,6}"), 0..10)) {
        let s: String = parts.iter().map(|(t, text)| format!("{text}<? {t} ?>")).collect();
        targets::template(s.as_bytes());
        let plain: String = parts.iter().map(|(_, text)| text.as_str()).collect();
        targets::template(plain.as_bytes());
    }

    /// Engine: a shipped flow and up to 64 random events, with the invariants checked each turn.
    #[test]
    fn engine(data in prop::collection::vec(any::<u8>(), 1..129)) {
        targets::engine(bots(), &data);
    }
}
