//! `fluxo test`.

use clap::{Args, ValueEnum};
use fluxo::engine::Bot;
use fluxo::testing::{discover, run_file, Coverage, CoverageReport, RunOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Coverage report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    /// For people.
    Human,
    /// One JSON line `{"coverage": [...]}`, for tools.
    Json,
    /// No coverage report.
    None,
}

/// Arguments of `fluxo test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files or directories (searched for `*.test.json`); default: the current directory.
    pub paths: Vec<PathBuf>,
    /// Rewrite golden transcripts with what the flows do now.
    #[arg(long)]
    pub bless: bool,
    /// Coverage report.
    #[arg(long, value_enum, default_value = "human")]
    pub coverage: CoverageFormat,
}

pub(crate) fn run(args: TestArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let files = match discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "error: no conversation tests (`*.test.json`) found under {}",
            named.join(", ")
        );
        return ExitCode::from(2);
    }
    let opts = RunOptions { bless: args.bless };
    // Files run in parallel; results are printed in file order.
    let results = super::parallel_map(&files, |f| run_file(f, opts));
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut coverage: BTreeMap<PathBuf, (Coverage, Bot)> = BTreeMap::new();
    for (file, (result, bot)) in files.iter().zip(results) {
        if let Some(e) = &result.error {
            failed += 1;
            outln!("FAIL {}: {e}", file.display());
        }
        for c in &result.conversations {
            if c.failures.is_empty() {
                passed += 1;
                outln!("ok   {} › {}", file.display(), c.name);
            } else {
                failed += 1;
                outln!("FAIL {} › {}", file.display(), c.name);
                for f in &c.failures {
                    for line in f.lines() {
                        outln!("       {line}");
                    }
                }
            }
        }
        if result.blessed {
            outln!("     blessed the golden transcript of {}", file.display());
        }
        if let Some(bot) = bot {
            let entry = coverage
                .entry(result.flow.clone())
                .or_insert_with(|| (Coverage::default(), bot));
            entry.0.merge(&result.coverage);
        }
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let reports: Vec<CoverageReport> = coverage
        .iter()
        .map(|(flow, (cov, bot))| {
            let shown = flow
                .strip_prefix(&cwd)
                .unwrap_or(flow)
                .display()
                .to_string();
            CoverageReport::new(&shown, bot, cov)
        })
        .collect();
    match args.coverage {
        CoverageFormat::Human if !reports.is_empty() => {
            outln!();
            for r in &reports {
                out!("{}", r.human());
            }
        }
        CoverageFormat::Json => outln!("{}", serde_json::json!({ "coverage": reports })),
        _ => {}
    }
    outln!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
