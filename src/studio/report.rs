//! `fluxo test --report html`: the Tests panel's content as one self-contained HTML file — the
//! results, each golden diff side by side as chat bubbles, and each flow's graph with what the
//! tests never reached drawn in red — rendered with minijinja templates embedded in the binary.
//!
//! The file loads nothing: no script, no font, no image from elsewhere. Its
//! Content-Security-Policy (a `<meta>` before anything else) is `default-src 'none'` with the
//! one inline style sheet allowed by its SHA-256 hash, so even a bot message that smuggled
//! markup past the escaping could neither run nor fetch anything.

use super::graph;
use crate::conversation::{AnyDialog, Coverage};
use crate::testing::{ConversationResult, CoverageReport, DiffRow, FileResult};
use base64::Engine as _;
use minijinja::{context, Environment, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

const REPORT: &str = include_str!("assets/report/report.html");
const DIFF: &str = include_str!("assets/report/diff.html");
/// The style sheets the report inlines: the graph's and the diff's, shared with the studio
/// page, and the report's own.
const CSS: &str = concat!(
    include_str!("assets/graph.css"),
    include_str!("assets/diff.css"),
    include_str!("assets/report/report.css")
);

/// A flow the tests ran, with what they reached, for the report's coverage section.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FlowCoverage<'a> {
    /// The flow's path as the report shows it.
    pub shown: &'a str,
    /// The flow's file (its JSON gives the nodes' names).
    pub path: &'a std::path::Path,
    /// The flow or workspace.
    pub dialog: &'a AnyDialog,
    /// What every test of it reached, merged.
    pub coverage: &'a Coverage,
}

impl<'a> FlowCoverage<'a> {
    /// A flow read from `path`, shown as `shown`, and what the tests reached of it.
    pub fn new(
        shown: &'a str,
        path: &'a std::path::Path,
        dialog: &'a AnyDialog,
        coverage: &'a Coverage,
    ) -> FlowCoverage<'a> {
        FlowCoverage {
            shown,
            path,
            dialog,
            coverage,
        }
    }
}

/// Any serde value as a template value.
fn serde_value<T: Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    // The names end in `.html`: minijinja escapes every value for HTML unless marked safe.
    // Both templates are embedded and known to parse (a unit test renders them).
    let _ = env.add_template("report.html", REPORT);
    let _ = env.add_template("diff.html", DIFF);
    env
}

/// The side-by-side diff of one conversation, as the report and the studio's Tests panel show
/// it: an HTML fragment (a table of chat bubbles, golden on the left), every text escaped.
pub fn diff_html(golden: &str, rows: &[DiffRow]) -> Result<String, String> {
    env()
        .get_template("diff.html")
        .and_then(|t| t.render(context! { golden, rows => serde_value(&rows) }))
        .map_err(|e| format!("the diff template: {e}"))
}

/// The policy the report carries: nothing loads, and the one style sheet is allowed by hash.
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
}

#[derive(Serialize)]
struct ConvView {
    name: String,
    status: &'static str,
    failures: Vec<String>,
    golden: Option<String>,
    diff: Option<Vec<DiffRow>>,
}

fn conversation(c: &ConversationResult) -> ConvView {
    let status = if c.not_run {
        "not_run"
    } else if c.failures.is_empty() {
        "passed"
    } else {
        "failed"
    };
    let rows = c
        .golden_diff
        .as_ref()
        .map(|g| g.side_by_side(&c.transcript))
        .filter(|r| !r.is_empty());
    // The text diff is shown as bubbles instead; every other failure as it reads.
    let failures = c
        .failures
        .iter()
        .filter(|f| rows.is_none() || !f.starts_with("the transcript differs"))
        .cloned()
        .collect();
    ConvView {
        name: c.name.clone(),
        status,
        failures,
        golden: c
            .golden_diff
            .as_ref()
            .map(|g| g.golden.display().to_string()),
        diff: rows,
    }
}

/// The report of a run: every file's results (`files`, in order) and every flow's coverage.
pub fn render(files: &[FileResult], flows: &[FlowCoverage<'_>]) -> Result<String, String> {
    let (mut passed, mut failed, mut not_run) = (0usize, 0usize, 0usize);
    let mut file_views = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.error.is_some() || !f.conversations.is_empty())
    {
        if f.error.is_some() {
            failed += 1;
        }
        let convs: Vec<ConvView> = f.conversations.iter().map(conversation).collect();
        for c in &convs {
            match c.status {
                "passed" => passed += 1,
                "failed" => failed += 1,
                _ => not_run += 1,
            }
        }
        file_views.push(context! {
            path => f.path.display().to_string(),
            error => f.error.clone(),
            conversations => serde_value(&convs),
        });
    }
    let mut flow_views = Vec::new();
    for fl in flows {
        let source = std::fs::read(fl.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let model = graph::model(fl.dialog, source.as_ref());
        // Nothing on the report is clickable: the nodes are pictures with names.
        let svg = graph::svg(&model, &Coverage::default(), None, Some(fl.coverage))
            .replace(r#" tabindex="0" role="button""#, r#" role="img""#);
        let report = CoverageReport::of(fl.shown, fl.dialog, fl.coverage);
        let statuses: Vec<String> = report
            .handovers
            .iter()
            .flat_map(|(n, h)| h.missed.iter().map(move |s| format!("{n}: {s}")))
            .collect();
        let pct = |(a, b): (usize, usize)| (a * 100).checked_div(b).unwrap_or(100);
        flow_views.push(context! {
            flow => fl.shown,
            nodes => format!("{}/{} ({}%)", report.nodes.0, report.nodes.1, pct(report.nodes)),
            edges => format!("{}/{} ({}%)", report.edges.0, report.edges.1, pct(report.edges)),
            edge_kind => report.edge_kind,
            nodes_missed => report.nodes_missed,
            edges_missed => report.edges_missed,
            statuses_missed => statuses,
            svg => Value::from_safe_string(svg),
        });
    }
    env()
        .get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                // Quotes but no `"`, `<` or `&`: as it is, readable in the file.
                csp => Value::from_safe_string(content_security_policy()),
                css => Value::from_safe_string(CSS.to_owned()),
                passed, failed, not_run,
                files => file_views,
                flows => flow_views,
            })
        })
        .map_err(|e| format!("the report template: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::GoldenDiff;

    #[test]
    fn the_templates_render_and_escape() {
        let g = GoldenDiff {
            golden: "a.transcript".into(),
            expected: "  {\"type\":\"message\",\"from\":\"bot\",\"text\":\"<b>oi</b>\"}\n".into(),
            first_line: 2,
        };
        let rows = g.side_by_side("  {\"type\":\"message\",\"from\":\"bot\",\"text\":\"olá\"}\n");
        let html = diff_html("a.transcript", &rows).unwrap_or_default();
        assert!(
            html.contains("&lt;b&gt;oi&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;oi&lt;/b&gt;"),
            "{html}"
        );
        assert!(html.contains(r#"class="changed""#), "{html}");
        let page = render(&[], &[]).unwrap_or_default();
        assert!(page.contains("0 passed, 0 failed"), "{page}");
        assert!(page.contains(&content_security_policy()));
    }
}
