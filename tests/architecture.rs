//! The library's modules depend on one another one way only: no cycle between sibling modules at
//! any level (`engine` ↔ `provider`, `expr::ast` ↔ `expr::eval` …), no module using one in a
//! lower layer of the table in `docs/architecture.md` (and every module placed in it), and the
//! engine never uses the linter. Read from the sources' `use` statements and inline
//! `crate::`/`super::`/`self::` paths, so a new cycle or a new upward arrow fails `cargo test`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of a source file (`src/expr/eval.rs` → `expr::eval`; `src/lib.rs` → ``).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src").filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without its test-only modules (they may use anything) and without comments
/// (a doc link is not a dependency).
fn production(text: &str) -> String {
    let code = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path = path.trim();
    let Some(open) = path.find('{') else {
        return vec![path.to_owned()];
    };
    let (prefix, rest) = path.split_at(open);
    let inner = rest
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(rest);
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(|i| expand(i).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every path the file names: `use` statements, and inline `crate::…`, `super::…` and
/// `self::…` paths (a call `super::parse::compile_regex(…)` is as much a dependency as a `use`).
fn paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let stmt_start = before.rfind('\n').map_or(0, |n| n + 1);
        let line_head = rest[stmt_start..at].trim();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if line_head.is_empty() || line_head.starts_with("pub") {
            let stmt: String = after[..end].split_whitespace().collect();
            out.extend(expand(&stmt));
        }
        rest = &after[end..];
    }
    for head in ["crate::", "super::", "self::"] {
        for (at, _) in text.match_indices(head) {
            // Only where a path starts: not `a::super::` (read with its start), not `my_crate::`.
            let prev = text[..at].chars().next_back();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail);
        }
    }
    out
}

/// The layer table of `docs/architecture.md`: each module named in it (`source::json` as well
/// as `source`) with the index of its row, top (vocabulary) first.
fn documented_layers() -> Vec<(Vec<String>, usize, String)> {
    let doc = std::fs::read_to_string(common::root().join("docs/architecture.md")).expect("doc");
    let section = doc
        .split("## The modules, one way")
        .nth(1)
        .expect("docs/architecture.md has the section `The modules, one way`");
    let mut out = Vec::new();
    let mut row = 0;
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(layer), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if *layer == "layer" || layer.starts_with("---") {
            continue;
        }
        for name in modules.split('`').skip(1).step_by(2) {
            out.push((
                name.split("::").map(str::to_owned).collect(),
                row,
                (*layer).to_owned(),
            ));
        }
        row += 1;
    }
    out
}

/// The row of the most specific documented module containing `m`.
fn layer_of<'a>(
    m: &[String],
    layers: &'a [(Vec<String>, usize, String)],
) -> Option<&'a (Vec<String>, usize, String)> {
    layers
        .iter()
        .filter(|(p, _, _)| m.starts_with(p))
        .max_by_key(|(p, _, _)| p.len())
}

/// Cycles between modules that are known and being removed elsewhere; each must still exist
/// (so the allowance is dropped the day the cycle goes).
const KNOWN_CYCLES: &[(&str, &str)] = &[];

#[test]
fn modules_form_no_cycle_and_the_engine_does_not_use_the_linter() {
    let src = common::root().join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut sources = Vec::new();
    for f in &list {
        let rel = f.strip_prefix(&src).expect("under src");
        // The command line is the binary's, not the library's.
        if rel.starts_with("cli") || rel == Path::new("main.rs") {
            continue;
        }
        let m = module_of(rel);
        if m.last().is_some_and(|l| l == "tests") {
            continue;
        }
        modules.insert(m.clone());
        sources.push((m, std::fs::read_to_string(f).expect("read")));
    }
    // Edges between modules, lifted to the two siblings below their common ancestor.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut engine_uses_lint = Vec::new();
    let layers = documented_layers();
    let mut upward = Vec::new();
    for (m, text) in &sources {
        for p in paths(&production(text)) {
            let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let mut target: Vec<String> = match segs.first() {
                Some(&"crate") => Vec::new(),
                Some(&"super") => {
                    let mut base = m.clone();
                    base.pop();
                    base
                }
                Some(&"self") => m.clone(),
                _ => continue,
            };
            let mut best = target.clone();
            for s in segs.iter().skip(1) {
                if *s == "super" {
                    target.pop();
                    best = target.clone();
                    continue;
                }
                target.push((*s).to_owned());
                if modules.contains(&target) {
                    best = target.clone();
                }
            }
            let target = best;
            if !m.is_empty() {
                if let (Some(a), Some(b)) = (layer_of(m, &layers), layer_of(&target, &layers)) {
                    if b.1 > a.1 {
                        upward.push(format!("{} ({}) uses {p} ({})", m.join("::"), a.2, b.2));
                    }
                }
            }
            let common = m.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == m.len() || common == target.len() {
                continue; // an ancestor or a descendant: containment, not a dependency
            }
            let from = m[..=common].to_vec();
            let to = target[..=common].to_vec();
            if from.first().is_some_and(|f| f == "engine")
                && to.first().is_some_and(|t| t == "lint")
            {
                engine_uses_lint.push(format!("{} uses {p}", m.join("::")));
            }
            edges.entry(from).or_default().insert(to);
        }
    }
    assert!(
        engine_uses_lint.is_empty(),
        "the engine must not use the linter: {engine_uses_lint:?}"
    );
    // Every module is placed in the documented table, and each named there exists.
    let unplaced: Vec<String> = modules
        .iter()
        .filter(|m| !m.is_empty() && layer_of(m, &layers).is_none())
        .map(|m| m.join("::"))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the layer table of docs/architecture.md: {unplaced:?}"
    );
    for (p, _, _) in &layers {
        assert!(
            modules.contains(p),
            "docs/architecture.md names `{}`, which is not a module",
            p.join("::")
        );
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "uses of a module in a lower layer of docs/architecture.md:\n{}",
        upward.join("\n")
    );
    // The known cycles still exist (else their allowance must go), and are set aside.
    let key = |s: &str| -> Vec<String> { s.split("::").map(str::to_owned).collect() };
    for (a, b) in KNOWN_CYCLES {
        let (a, b) = (key(a), key(b));
        let there = |x: &Vec<String>, y: &Vec<String>| edges.get(x).is_some_and(|t| t.contains(y));
        assert!(
            there(&a, &b) && there(&b, &a),
            "the known cycle {} ↔ {} is gone: remove it from KNOWN_CYCLES",
            a.join("::"),
            b.join("::")
        );
        edges.entry(a.clone()).or_default().remove(&b);
        edges.entry(b).or_default().remove(&a);
    }
    // Depth-first search for a cycle.
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|x| x == n).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.clone());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new()) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("module cycle: {}", names.join(" → "));
        }
    }
    // The test sees the dependencies it is meant to see.
    let has = |a: &str, b: &str| {
        edges
            .get(&vec![a.to_owned()])
            .is_some_and(|t| t.contains(&vec![b.to_owned()]))
    };
    assert!(has("engine", "compile") && has("lint", "compile") && has("runtime", "engine"));
    assert!(!has("compile", "lint") && !has("domain", "engine"));
}
