//! `fluxo test`.

use clap::{Args, ValueEnum};

use fluxo::testing::{
    discover, run_file, ConversationResult, Coverage, CoverageReport, FileResult, RunOptions,
    Target,
};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Coverage report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoverageFormat {
    /// For people.
    Human,
    /// One JSON line `{"coverage": [...]}` on stdout, for tools (the other lines go to
    /// stderr). Superseded by `--format json`, which holds the same report.
    Json,
    /// No coverage report.
    None,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: one line per conversation, failures, coverage, the closing line.
    Human,
    /// One JSON document on stdout (results per conversation, coverage, thresholds, summary);
    /// the human lines go to stderr.
    Json,
}

/// Report files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML page: the results, golden diffs side by side as chat bubbles,
    /// and each flow's graph with what the tests never reached in red.
    Html,
}

/// Arguments of `fluxo test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files or directories (searched for `*.test.json`); default: the current directory.
    pub paths: Vec<PathBuf>,
    /// Rewrite golden transcripts with what the flows do now (only for conversations whose
    /// expectations hold).
    #[arg(long)]
    pub bless: bool,
    /// Coverage report.
    #[arg(long, value_enum, default_value = "human")]
    pub coverage: CoverageFormat,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
    /// Also write a JUnit XML report to FILE (for GitLab, Jenkins, GitHub test reporters).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a report in this format to `--report-file`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<ReportFormat>,
    /// Where `--report` writes.
    #[arg(long, value_name = "FILE", default_value = "fluxo-test-report.html")]
    pub report_file: PathBuf,
    /// Run only the conversations whose `file › name` contains PATTERN (case-insensitive).
    #[arg(long, short = 'k', value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Start no new conversation once one has failed.
    #[arg(long)]
    pub fail_fast: bool,
    /// Fail when a flow's coverage is below these percentages, e.g.
    /// `nodes=90,edges=80,close-statuses=100`.
    #[arg(long, value_name = "METRIC=PCT,…", value_parser = parse_thresholds)]
    pub min_coverage: Option<Thresholds>,
}

/// `--min-coverage`: metric → minimum percentage.
#[derive(Debug, Clone, Default)]
pub struct Thresholds(Vec<(Metric, f64)>);

/// A coverage metric with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Nodes fired.
    Nodes,
    /// `next` edges taken.
    Edges,
    /// Close statuses reached, over every hand-over node of the flow.
    CloseStatuses,
}

impl Metric {
    const ALL: [(&'static str, Metric); 3] = [
        ("nodes", Metric::Nodes),
        ("edges", Metric::Edges),
        ("close-statuses", Metric::CloseStatuses),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }

    /// (reached, total) of the metric in a report.
    fn of(self, r: &CoverageReport) -> (usize, usize) {
        match self {
            Metric::Nodes => r.nodes,
            Metric::Edges => r.edges,
            Metric::CloseStatuses => r.handovers.values().fold((0, 0), |(a, b), h| {
                (a + h.reached.len(), b + h.reached.len() + h.missed.len())
            }),
        }
    }
}

fn parse_thresholds(s: &str) -> Result<Thresholds, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, pct) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected METRIC=PERCENT, e.g. nodes=90"))?;
        let metric = Metric::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!("`{name}` is not a coverage metric (nodes, edges, close-statuses)")
            })?;
        let pct: f64 = pct
            .trim()
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|p: &f64| (0.0..=100.0).contains(p))
            .ok_or_else(|| format!("`{pct}` is not a percentage between 0 and 100"))?;
        out.push((metric, pct));
    }
    if out.is_empty() {
        return Err("expected METRIC=PERCENT[,…], e.g. nodes=90,edges=80".into());
    }
    Ok(Thresholds(out))
}

/// A flow below a `--min-coverage` threshold.
struct BelowThreshold {
    flow: String,
    metric: Metric,
    percent: f64,
    threshold: f64,
}

impl BelowThreshold {
    fn sentence(&self) -> String {
        format!(
            "coverage of {}: {} {:.1}% is below the --min-coverage threshold of {}%",
            self.flow,
            self.metric.name(),
            self.percent,
            self.threshold
        )
    }
}

/// Where the human lines go: stdout, unless stdout is for a machine-readable document.
struct Human {
    to_stderr: bool,
}

impl Human {
    fn line(&self, s: &str) {
        if self.to_stderr {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "{s}");
        } else {
            outln!("{s}");
        }
    }
}

fn status(c: &ConversationResult) -> &'static str {
    if c.not_run {
        "not_run"
    } else if c.failures.is_empty() {
        "passed"
    } else {
        "failed"
    }
}

pub(crate) fn run(args: TestArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    #[cfg(not(feature = "studio"))]
    if args.report.is_some() {
        eprintln!(
            "error: --report html needs the `studio` feature, which this fluxo was built without"
        );
        return ExitCode::from(2);
    }
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
    let opts = RunOptions {
        bless: args.bless,
        filter: args.filter.clone(),
        stop: args.fail_fast.then(|| Arc::new(AtomicBool::new(false))),
    };
    // Files run in parallel; results are printed in file order.
    let results = super::parallel_map(&files, |f| run_file(f, opts.clone()));
    let human = Human {
        to_stderr: args.format == OutputFormat::Json || args.coverage == CoverageFormat::Json,
    };
    let (mut passed, mut failed, mut not_run, mut deselected) = (0usize, 0usize, 0usize, 0usize);
    let mut coverage: BTreeMap<PathBuf, (Coverage, Target)> = BTreeMap::new();
    let mut file_results = Vec::new();
    for (file, (result, bot)) in files.iter().zip(results) {
        if let Some(e) = &result.error {
            failed += 1;
            human.line(&format!("FAIL {}: {e}", file.display()));
        }
        deselected += result.deselected;
        for c in &result.conversations {
            if c.not_run {
                not_run += 1;
            } else if c.failures.is_empty() {
                passed += 1;
                human.line(&format!("ok   {} › {}", file.display(), c.name));
            } else {
                failed += 1;
                human.line(&format!("FAIL {} › {}", file.display(), c.name));
                for f in &c.failures {
                    for line in f.lines() {
                        human.line(&format!("       {line}"));
                    }
                }
            }
        }
        for name in &result.bless_refused {
            human.line(&format!(
                "     not blessed: `{name}` fails its expectations, so {} keeps its old transcript",
                file.display()
            ));
        }
        if result.blessed {
            human.line(&format!(
                "     blessed the golden transcript of {}",
                file.display()
            ));
        }
        if let Some(bot) = bot {
            let entry = coverage
                .entry(result.flow.clone())
                .or_insert_with(|| (Coverage::default(), bot));
            entry.0.merge(&result.coverage);
        }
        file_results.push(result);
    }
    let ran_any = file_results
        .iter()
        .any(|r| r.error.is_some() || !r.conversations.is_empty());
    if let (Some(filter), false) = (&args.filter, ran_any) {
        eprintln!(
            "error: --filter `{filter}` matches no conversation in the {} test files found (it is matched, case-insensitively, against `file › conversation name`)",
            files.len()
        );
        return ExitCode::from(2);
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
            CoverageReport::of(&shown, bot, cov)
        })
        .collect();
    let below = below_thresholds(&reports, args.min_coverage.as_ref());
    match args.coverage {
        CoverageFormat::Human if !reports.is_empty() => {
            human.line("");
            for r in &reports {
                human.line(r.human().trim_end());
            }
        }
        // Only the JSON line on stdout; with --format json the report is in the document.
        CoverageFormat::Json if args.format == OutputFormat::Human => {
            outln!("{}", json!({ "coverage": reports }));
        }
        _ => {}
    }
    for b in &below {
        human.line(&b.sentence());
    }
    let mut summary = format!("{passed} passed, {failed} failed");
    if not_run > 0 {
        summary.push_str(&format!(", {not_run} not run (--fail-fast)"));
    }
    if deselected > 0 {
        summary.push_str(&format!(", {deselected} deselected by --filter"));
    }
    human.line(&summary);
    if let Some(path) = &args.junit {
        if let Err(e) = write_junit(path, &file_results) {
            eprintln!(
                "error: cannot write the JUnit report {}: {e}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    #[cfg(feature = "studio")]
    if args.report == Some(ReportFormat::Html) {
        let shown: Vec<(String, &PathBuf, &Coverage, &Target)> = coverage
            .iter()
            .map(|(flow, (cov, bot))| {
                let s = flow
                    .strip_prefix(&cwd)
                    .unwrap_or(flow)
                    .display()
                    .to_string();
                (s, flow, cov, bot)
            })
            .collect();
        let flows: Vec<fluxo::studio::report::FlowCoverage<'_>> = shown
            .iter()
            .map(|(s, path, cov, bot)| fluxo::studio::report::FlowCoverage::new(s, path, bot, cov))
            .collect();
        let written = fluxo::studio::report::render(&file_results, &flows)
            .and_then(|html| std::fs::write(&args.report_file, html).map_err(|e| e.to_string()));
        match written {
            Ok(()) => human.line(&format!(
                "wrote the HTML report {}",
                args.report_file.display()
            )),
            Err(e) => {
                eprintln!(
                    "error: cannot write the HTML report {}: {e}",
                    args.report_file.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    if args.format == OutputFormat::Json {
        let doc = json!({
            "files": file_results.iter().map(file_json).collect::<Vec<_>>(),
            "coverage": reports,
            "min_coverage": below.iter().map(|b| json!({
                "flow": b.flow,
                "metric": b.metric.name(),
                "percent": b.percent,
                "threshold": b.threshold,
                "message": b.sentence(),
            })).collect::<Vec<_>>(),
            "summary": {
                "passed": passed,
                "failed": failed,
                "not_run": not_run,
                "deselected": deselected,
            },
        });
        outln!("{doc}");
    }
    if failed == 0 && below.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn below_thresholds(reports: &[CoverageReport], t: Option<&Thresholds>) -> Vec<BelowThreshold> {
    let mut out = Vec::new();
    for r in reports {
        for &(metric, threshold) in t.map(|t| t.0.as_slice()).unwrap_or_default() {
            let (reached, total) = metric.of(r);
            // Nothing to reach (a flow without hand-over, for close statuses) is full coverage.
            #[allow(clippy::cast_precision_loss)]
            let percent = if total == 0 {
                100.0
            } else {
                reached as f64 * 100.0 / total as f64
            };
            if percent < threshold {
                out.push(BelowThreshold {
                    flow: r.flow.clone(),
                    metric,
                    percent,
                    threshold,
                });
            }
        }
    }
    out
}

fn file_json(r: &FileResult) -> Json {
    json!({
        "file": r.path.display().to_string(),
        "flow": (!r.flow.as_os_str().is_empty()).then(|| r.flow.display().to_string()),
        "error": r.error,
        "time": r.time.as_secs_f64(),
        "blessed": r.blessed,
        "not_blessed": r.bless_refused,
        "conversations": r.conversations.iter().map(|c| json!({
            "name": c.name,
            "status": status(c),
            "failures": c.failures,
            "time": c.time.as_secs_f64(),
        })).collect::<Vec<_>>(),
    })
}

/// Characters XML 1.0 cannot hold (a control character in a bot message) are dropped.
fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

/// The JUnit XML report: one `<testsuite>` per test file, one `<testcase>` per conversation.
fn write_junit(path: &Path, all: &[FileResult]) -> std::io::Result<()> {
    use quick_xml::events::{BytesDecl, BytesText, Event};
    // Files `--filter` left empty are not reported.
    let files: Vec<&FileResult> = all
        .iter()
        .filter(|f| f.error.is_some() || !f.conversations.is_empty())
        .collect();
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    fn count(f: &FileResult, pick: fn(&ConversationResult) -> bool) -> usize {
        f.conversations.iter().filter(|c| pick(c)).count()
    }
    let secs = |d: std::time::Duration| format!("{:.3}", d.as_secs_f64());
    let tests: usize = files
        .iter()
        .map(|f| f.conversations.len() + usize::from(f.error.is_some()))
        .sum();
    let failures: usize = files
        .iter()
        .map(|f| count(f, ConversationResult::failed))
        .sum();
    let errors = files.iter().filter(|f| f.error.is_some()).count();
    let skipped: usize = files.iter().map(|f| count(f, |c| c.not_run)).sum();
    let total: std::time::Duration = files.iter().map(|f| f.time).sum();
    w.create_element("testsuites")
        .with_attribute(("name", "fluxo test"))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", errors.to_string().as_str()))
        .with_attribute(("skipped", skipped.to_string().as_str()))
        .with_attribute(("time", secs(total).as_str()))
        .write_inner_content(|w| {
            for &f in &files {
                let file = xml_safe(&f.path.display().to_string());
                w.create_element("testsuite")
                    .with_attribute(("name", file.as_str()))
                    .with_attribute((
                        "tests",
                        (f.conversations.len() + usize::from(f.error.is_some()))
                            .to_string()
                            .as_str(),
                    ))
                    .with_attribute((
                        "failures",
                        count(f, ConversationResult::failed).to_string().as_str(),
                    ))
                    .with_attribute((
                        "errors",
                        usize::from(f.error.is_some()).to_string().as_str(),
                    ))
                    .with_attribute(("skipped", count(f, |c| c.not_run).to_string().as_str()))
                    .with_attribute(("time", secs(f.time).as_str()))
                    .write_inner_content(|w| {
                        if let Some(e) = &f.error {
                            // A file that cannot run is one test case in error, so reporters
                            // that list only test cases still show it.
                            w.create_element("testcase")
                                .with_attribute(("name", "(the test file)"))
                                .with_attribute(("classname", file.as_str()))
                                .with_attribute(("time", "0.000"))
                                .write_inner_content(|w| {
                                    let e = xml_safe(e);
                                    w.create_element("error")
                                        .with_attribute((
                                            "message",
                                            e.lines().next().unwrap_or_default(),
                                        ))
                                        .with_attribute(("type", "error"))
                                        .write_text_content(BytesText::new(&e))?;
                                    Ok(())
                                })?;
                        }
                        for c in &f.conversations {
                            let el = w
                                .create_element("testcase")
                                .with_attribute(("name", xml_safe(&c.name).as_str()))
                                .with_attribute(("classname", file.as_str()))
                                .with_attribute(("time", secs(c.time).as_str()));
                            if c.not_run {
                                el.write_inner_content(|w| {
                                    w.create_element("skipped")
                                        .with_attribute((
                                            "message",
                                            "not run: --fail-fast stopped the run after a failure",
                                        ))
                                        .write_empty()?;
                                    Ok(())
                                })?;
                            } else if c.failures.is_empty() {
                                el.write_empty()?;
                            } else {
                                let text = xml_safe(&c.failures.join("\n"));
                                let golden = c
                                    .failures
                                    .iter()
                                    .any(|f| f.starts_with("the transcript differs"));
                                let message = xml_safe(
                                    c.failures
                                        .first()
                                        .and_then(|f| f.lines().next())
                                        .unwrap_or_default(),
                                );
                                el.write_inner_content(|w| {
                                    w.create_element("failure")
                                        .with_attribute(("message", message.as_str()))
                                        .with_attribute((
                                            "type",
                                            if golden { "golden" } else { "expectation" },
                                        ))
                                        .write_text_content(BytesText::new(&text))?;
                                    Ok(())
                                })?;
                            }
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    std::fs::write(path, bytes)
}
