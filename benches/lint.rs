//! Lint throughput against a plain `serde_json::from_slice::<Value>` of the same bytes, and the
//! expression evaluator against minijinja's compiled expressions.
//!
//! Run: `cargo bench --bench lint`. Figures go in docs/benchmarks.md.

// The allocator the `fluxo` binary uses, so that figures are what users see; the baselines in
// the same run use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fluxo::expr::{Dialect, Expression, Scope};
use fluxo::lint::{lint_bytes, LintOptions};
use serde_json::{json, Value};
use std::hint::black_box;

#[path = "support/flows.rs"]
mod flows;
use flows::generated_flow;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/watson");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect()
}

fn lint_benches(c: &mut Criterion) {
    let opts = LintOptions::default();
    let flow = generated_flow(10_000);
    let mut g = c.benchmark_group("flow_10k_nodes");
    g.sample_size(20)
        .throughput(Throughput::Bytes(flow.len() as u64));
    g.bench_function("serde_json_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&flow)).ok()))
    });
    g.bench_function("fluxo_lint", |b| {
        b.iter(|| {
            black_box(
                lint_bytes("flow.json", black_box(&flow), &opts)
                    .findings
                    .len(),
            )
        })
    });
    g.finish();

    // The same flow minified: placing findings must not depend on line length.
    let flat = flows::minified(&flow);
    let mut g = c.benchmark_group("flow_10k_nodes_minified");
    g.sample_size(20)
        .throughput(Throughput::Bytes(flat.len() as u64));
    g.bench_function("serde_json_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(&flat)).ok()))
    });
    g.bench_function("fluxo_lint", |b| {
        b.iter(|| {
            black_box(
                lint_bytes("flow.json", black_box(&flat), &opts)
                    .findings
                    .len(),
            )
        })
    });
    g.finish();

    let files = corpus();
    if files.is_empty() {
        eprintln!("SKIPPED watson_corpus: ../shared/corpus/watson is not beside the project");
        return;
    }
    let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let mut g = c.benchmark_group("watson_corpus_58_files");
    g.sample_size(20).throughput(Throughput::Bytes(bytes));
    g.bench_function("serde_json_parse", |b| {
        b.iter(|| {
            files
                .iter()
                .filter_map(|(_, f)| serde_json::from_slice::<Value>(f).ok())
                .count()
        })
    });
    g.bench_function("fluxo_lint", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|(p, f)| lint_bytes(p, f, &opts).findings.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// The same conditions in fluxo's language and in minijinja's, over the same data.
fn engine_benches(c: &mut Criterion) {
    let cases = [
        (
            "comparison",
            "$n >= 3 && input.text == 'sim'",
            "n >= 3 and input.text == 'sim'",
        ),
        (
            "member_chain",
            "$cliente.endereco.cidade == 'São Paulo' || $cliente.vip",
            "cliente.endereco.cidade == 'São Paulo' or cliente.vip",
        ),
        (
            "string_method",
            "input.text.trim().toLowerCase().startsWith('quero')",
            "input.text.strip().lower().startswith('quero')",
        ),
        (
            "missing_var",
            "$nada ?? 'padrao'",
            "nada if nada is defined else 'padrao'",
        ),
    ];
    let context =
        json!({ "n": 5, "cliente": { "endereco": { "cidade": "Campinas" }, "vip": true } });
    let input = json!({ "text": "  Quero falar com atendente " });
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(100_000));
    let mut mj_ctx = context.as_object().cloned().unwrap_or_default();
    mj_ctx.insert("input".into(), input.clone());
    // Converted once, outside the timed loop: this favours minijinja (a real turn would convert
    // the changing context every time).
    let mj_ctx = minijinja::Value::from(minijinja::value::Serde(&mj_ctx));
    let mut g = c.benchmark_group("expression_eval");
    for (name, ours, theirs) in cases {
        let e = Expression::parse(ours, Dialect::Builder).expect("fluxo parses");
        let scope = Scope {
            context: &context,
            input: &input,
            ..Scope::empty()
        };
        g.bench_function(format!("fluxo/{name}"), |b| {
            b.iter(|| black_box(black_box(&e).condition(&scope).ok()))
        });
        let compiled = env.compile_expression(theirs).expect("minijinja compiles");
        g.bench_function(format!("minijinja/{name}"), |b| {
            b.iter_batched(
                || mj_ctx.clone(),
                |ctx| black_box(compiled.eval(ctx).ok().map(|v| v.is_true())),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, lint_benches, engine_benches);
criterion_main!(benches);
