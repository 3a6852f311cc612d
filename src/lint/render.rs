//! Rendering findings: human (rustc-style, with the source line and a caret), JSON, SARIF
//! 2.1.0, and GitHub Actions workflow commands. Renderers decide how a finding looks, never
//! what it says.

use crate::diagnostic::{Located, Severity};
use crate::lint::{FileReport, RuleMeta, SourceFile};
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde_json::json;

/// Longest source excerpt printed under a finding (bytes); longer lines show only the position.
pub(crate) const MAX_SHOWN: usize = 4096;
/// Most source lines printed under one finding.
const MAX_LINES: usize = 4;
/// Most bytes of lines shown under one finding (its positions and the lines between them;
/// folded where no position is); lines further apart show only their positions.
pub(crate) const MAX_SPAN: usize = MAX_SHOWN * 16;
/// Findings below which rendering stays on one thread (a thread costs more than a few).
const PER_THREAD: usize = 64;

/// Lays out findings for human output: rustc-style, with the source lines and carets.
pub struct Human(Renderer);

impl Human {
    /// A layout; `color` adds ANSI styles.
    pub fn new(color: bool) -> Self {
        Human(
            if color {
                Renderer::styled()
            } else {
                Renderer::plain()
            }
            .term_width(140),
        )
    }

    /// One finding of `report` as [`human`] shows it (without the blank line after it).
    pub fn finding(&self, report: &FileReport, f: &Located) -> String {
        human_one(&self.0, report, f)
    }
}

/// [`human`] of reports whose findings are already laid out by [`Human::finding`]:
/// `rendered[i][j]` is finding `j` of `reports[i]`. The output is the same byte for byte, and
/// the reports need not hold their text any more.
pub fn human_rendered(reports: &[FileReport], rendered: &[Vec<String>]) -> String {
    let mut out = String::with_capacity(
        rendered
            .iter()
            .flatten()
            .map(|r| r.len() + 2)
            .sum::<usize>()
            + 64,
    );
    for r in rendered.iter().flatten() {
        out.push_str(r);
        out.push_str("\n\n");
    }
    out.push_str(&summary(reports));
    out.push('\n');
    out
}

/// Human output for a set of reports; `color` adds ANSI styles.
pub fn human(reports: &[FileReport], color: bool) -> String {
    let Human(renderer) = Human::new(color);
    let items: Vec<(&FileReport, &Located)> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .collect();
    let render = |chunk: &[(&FileReport, &Located)]| {
        let mut out = String::new();
        for (r, f) in chunk {
            out.push_str(&human_one(&renderer, r, f));
            out.push_str("\n\n");
        }
        out
    };
    // Each finding costs about 100k instructions to lay out, so many findings are rendered on
    // every core, in contiguous chunks joined in order: the output is the same byte for byte.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len().div_ceil(PER_THREAD));
    let mut out = if threads <= 1 {
        render(&items)
    } else {
        let chunk = items.len().div_ceil(threads);
        std::thread::scope(|s| {
            // The first chunk is rendered here, while the others render on their threads: one
            // thread fewer to start, and its memory is this thread's, already in use.
            let mut chunks = items.chunks(chunk);
            let first = chunks.next().unwrap_or_default();
            let handles: Vec<_> = chunks.map(|c| s.spawn(move || render(c))).collect();
            let mut out = render(first);
            for h in handles {
                match h.join() {
                    Ok(part) => out.push_str(&part),
                    // A renderer bug surfaces as it would without threads.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    };
    out.push_str(&summary(reports));
    out.push('\n');
    out
}

fn human_one(renderer: &Renderer, report: &FileReport, f: &Located) -> String {
    let level = match f.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        _ => Level::INFO,
    };
    let src = &report.source;
    // The lines shown: from the first caret to the last (primary and secondary); lines in
    // between without a caret are folded away.
    // Positions stand for their lines (a later position is never on an earlier line), so
    // that the lines are found around them without the file's line index.
    let at = |o: usize| src.floor_boundary(o);
    let start = at(f.range.start);
    let end = at(f.range.end);
    let cut = src.line_start_below(start, MAX_LINES - 1);
    // The primary span's last line shown: its end's, or the last of MAX_LINES.
    let primary_last = if end < cut { end } else { cut.max(start) };
    let (mut first_at, mut last_at) = (start, primary_last);
    for r in &f.related {
        first_at = first_at.min(at(r.range.start));
        last_at = last_at.max(at(r.range.start));
    }
    // The primary position's line is the finding's own; only a related label above it has
    // its line counted here.
    let first = if first_at == start && f.line > 0 {
        f.line - 1
    } else {
        src.line_index(first_at)
    };
    let primary = (
        AnnotationKind::Primary,
        &f.range,
        f.label.as_deref().unwrap_or_default(),
    );
    let related = f.related.iter().map(|r| {
        let label = r.message.as_deref().unwrap_or_default();
        (AnnotationKind::Context, &r.range, label)
    });
    let mut group = Group::with_title(level.primary_title(f.message.as_str()).id(f.code));
    let file = f.file.as_str();
    let marks = std::iter::once(primary).chain(related);
    if let Some(shown) = Shown::of(src, first_at..last_at, first) {
        group = group.element(shown.snippet(src, file, marks));
    } else if let Some(apart) = std::iter::once(Shown::of(
        src,
        start..primary_last,
        f.line.saturating_sub(1),
    ))
    .chain(f.related.iter().map(|r| {
        let at = at(r.range.start);
        Shown::of(src, at..at, r.line.saturating_sub(1))
    }))
    .collect::<Option<Vec<Shown<'_>>>>()
    {
        // Positions too far apart to be shown together: each one's lines, apart.
        for (shown, mark) in apart.into_iter().zip(marks) {
            group = group.element(shown.snippet(src, file, std::iter::once(mark)));
        }
    } else {
        // A huge line (a minified file, a 5 MB string) is not printed; its position is.
        group = group
            .element(Origin::path(file).line(f.line).char_column(f.column))
            .element(Level::NOTE.message(format!(
                "line {} is {} bytes long and is not shown",
                f.line,
                src.line_range_at(start).len()
            )));
        for r in &f.related {
            group = group.element(Level::NOTE.message(format!(
                "{} at {}:{}",
                r.message.as_deref().unwrap_or("see also"),
                r.line,
                r.column
            )));
        }
    }
    match (&f.node, f.pointer.is_empty()) {
        (Some(n), false) => {
            group = group.element(Level::NOTE.message(format!("in node {n}, at {}", f.pointer)));
        }
        (_, false) => group = group.element(Level::NOTE.message(format!("at {}", f.pointer))),
        _ => {}
    }
    let mut groups = vec![group];
    if let Some(h) = &f.help {
        groups.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
    }
    renderer.render(&groups)
}

/// Lines shown under a finding: their byte range in the file, their text and the 0-based
/// index of the first.
struct Shown<'s> {
    lines: std::ops::Range<usize>,
    text: &'s str,
    first: usize,
}

impl<'s> Shown<'s> {
    /// The lines from the one holding `span.start` to the one holding `span.end` (the first
    /// being the 0-based line `first`), when they are short enough to be shown: at most
    /// [`MAX_SHOWN`] bytes, or [`MAX_SPAN`] in lines of at most [`MAX_SHOWN`]. Longer lines
    /// are not read (a source of excerpts may not hold the lines between two far positions).
    fn of(src: &'s SourceFile, span: std::ops::Range<usize>, first: usize) -> Option<Self> {
        let lines = src.line_range_at(span.start).start..src.line_range_at(span.end).end;
        if lines.len() > MAX_SPAN {
            return None;
        }
        let text = src.slice(lines.clone())?;
        (text.len() <= MAX_SHOWN || text.lines().all(|l| l.len() <= MAX_SHOWN)).then_some(Shown {
            lines,
            text,
            first,
        })
    }

    /// The lines of `file` with a caret under each of `marks` (kind, byte range in the file,
    /// label): lines between them without one are folded away.
    fn snippet<'m>(
        &self,
        src: &SourceFile,
        file: &'m str,
        marks: impl Iterator<Item = (AnnotationKind, &'m std::ops::Range<usize>, &'m str)>,
    ) -> Snippet<'m, annotate_snippets::Annotation<'m>>
    where
        's: 'm,
    {
        let lines = &self.lines;
        let span = |range: &std::ops::Range<usize>| {
            let a = src
                .floor_boundary(range.start)
                .clamp(lines.start, lines.end)
                - lines.start;
            let mut b = range.end.clamp(lines.start + a, lines.end) - lines.start;
            while !self.text.is_char_boundary(b) {
                b += 1;
            }
            a..b
        };
        let mut snippet = Snippet::source(self.text)
            .line_start(self.first + 1)
            .path(file)
            .fold(true);
        for (kind, range, label) in marks {
            snippet = snippet.annotation(kind.span(span(range)).label(label));
        }
        snippet
    }
}

/// "2 errors, 1 warning in 3 files".
pub fn summary(reports: &[FileReport]) -> String {
    let count = |s: Severity| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.severity == s)
            .count()
    };
    let (e, w, i) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let files = reports.len();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if e + w + i == 0 {
        format!("no problems found in {}", plural(files, "file"))
    } else {
        let mut parts = vec![plural(e, "error"), plural(w, "warning")];
        if i > 0 {
            parts.push(plural(i, "note"));
        }
        format!("{} in {}", parts.join(", "), plural(files, "file"))
    }
}

/// JSON: an array of findings.
pub fn json(reports: &[FileReport]) -> String {
    let all: Vec<&Located> = reports.iter().flat_map(|r| &r.findings).collect();
    serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into())
}

/// GitHub Actions workflow commands (`::error file=…,line=…::message`).
pub fn github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for f in reports.iter().flat_map(|r| &r.findings) {
        let cmd = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut msg = f.message.clone();
        if let Some(h) = &f.help {
            msg.push_str(" — ");
            msg.push_str(h);
        }
        out.push_str(&format!(
            "::{cmd} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&repo_path(&f.file)),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            escape_property(f.code),
            escape_data(&msg)
        ));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// SARIF 2.1.0.
pub fn sarif(reports: &[FileReport], rules: &[&RuleMeta]) -> String {
    let rule_index = |code: &str| rules.iter().position(|r| r.code == code);
    // Columns count UTF-16 code units, as the run's `columnKind` says (GitHub code scanning
    // reads them so); the other formats count characters.
    let results: Vec<_> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (&r.source, f)))
        .map(|(src, f)| {
            let column = src.utf16_column(f.range.start);
            let end_column = src.utf16_column(f.range.end);
            let level = sarif_level(f.severity);
            let mut text = f.message.clone();
            if let Some(h) = &f.help {
                text.push_str(&format!(" ({h})"));
            }
            let mut result = json!({
                "ruleId": f.code,
                "level": level,
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.file) },
                        "region": {
                            "startLine": f.line,
                            "startColumn": column,
                            "endLine": f.end_line,
                            "endColumn": end_column.max(if f.end_line == f.line { column } else { 1 }),
                        }
                    },
                    "logicalLocations": [{ "fullyQualifiedName": f.pointer, "kind": "element" }]
                }]
            });
            if let Some(i) = rule_index(f.code) {
                result["ruleIndex"] = json!(i);
            }
            if !f.related.is_empty() {
                let related: Vec<_> = f
                    .related
                    .iter()
                    .enumerate()
                    .map(|(id, r)| {
                        let mut loc = json!({
                            "id": id,
                            "physicalLocation": {
                                "artifactLocation": { "uri": uri(&f.file) },
                                "region": { "startLine": r.line, "startColumn": src.utf16_column(r.range.start) }
                            }
                        });
                        if let Some(m) = &r.message {
                            loc["message"] = json!({ "text": m });
                        }
                        loc
                    })
                    .collect();
                result["relatedLocations"] = json!(related);
            }
            result
        })
        .collect();
    let rules_json: Vec<_> = rules
        .iter()
        .map(|r| {
            let summary = r
                .docs
                .lines()
                .skip_while(|l| !l.trim_start().starts_with("## What it does"))
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_owned();
            json!({
                "id": r.code,
                "name": r.code,
                "shortDescription": { "text": summary },
                "fullDescription": { "text": r.docs.trim() },
                "defaultConfiguration": { "level": sarif_level(r.severity) }
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "fluxo",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/fluxo-dev/fluxo",
                "rules": rules_json
            }},
            "columnKind": "utf16CodeUnits",
            "results": results
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "note",
    }
}

/// A relative URI reference for a path (forward slashes, spaces and `%` escaped).
fn uri(path: &str) -> String {
    repo_path(path).replace('%', "%25").replace(' ', "%20")
}

/// The path as a code host names a repository's file: forward slashes, no `./`, and `..`
/// resolved. A path that leaves the current directory (`../flows/a.json`, or an absolute one)
/// is taken relative to the workspace root — `GITHUB_WORKSPACE` when set, else the nearest
/// ancestor holding `.git` — so annotations attach to the pull request's files.
pub fn repo_path(path: &str) -> String {
    let p = path.replace('\\', "/");
    let escapes = p.starts_with('/') || p.split('/').any(|s| s == "..");
    if escapes {
        if let Some(rel) = workspace_relative(&p) {
            return rel;
        }
    }
    lexical(&p)
}

/// `a/./b/../c` → `a/c` (leading `..` kept).
fn lexical(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." if !out.is_empty() || !p.starts_with('/') => {}
            ".." if out.last().is_some_and(|l| *l != ".." && !l.is_empty()) => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

fn workspace_relative(p: &str) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let abs = lexical(&format!("{}/{p}", cwd.to_string_lossy().replace('\\', "/")));
    let abs = if p.starts_with('/') { lexical(p) } else { abs };
    let root = std::env::var("GITHUB_WORKSPACE")
        .ok()
        .map(std::path::PathBuf::from)
        .or_else(|| {
            cwd.ancestors()
                .find(|a| a.join(".git").exists())
                .map(|a| a.to_path_buf())
        })?;
    let root = lexical(&root.to_string_lossy().replace('\\', "/"));
    abs.strip_prefix(&format!("{}/", root.trim_end_matches('/')))
        .map(str::to_owned)
}

#[cfg(test)]
mod path_tests {
    use super::{lexical, repo_path};

    #[test]
    fn annotation_paths_are_the_repository_s() {
        assert_eq!(lexical("./flows/./a.json"), "flows/a.json");
        assert_eq!(lexical("flows/sub/../a.json"), "flows/a.json");
        assert_eq!(lexical("../x/a.json"), "../x/a.json");
        assert_eq!(repo_path(".\\flows\\a.json"), "flows/a.json");
        // From inside the repository, a path that goes up is named from its root.
        let here = std::env::current_dir().expect("cwd");
        let root = here
            .ancestors()
            .find(|a| a.join(".git").exists())
            .expect("a repository");
        let name = here.file_name().and_then(|n| n.to_str()).expect("name");
        if std::env::var_os("GITHUB_WORKSPACE").is_none() && here != root {
            let up = format!("../{name}/flows/a.json");
            let want = here
                .strip_prefix(root)
                .expect("inside")
                .join("flows/a.json");
            assert_eq!(repo_path(&up), want.to_string_lossy());
        }
        let abs = format!("{}/flows/a.json", root.display());
        if std::env::var_os("GITHUB_WORKSPACE").is_none() {
            assert_eq!(repo_path(&abs), "flows/a.json");
        }
    }
}

#[cfg(test)]
mod human_tests {
    use super::{human, human_one, summary};
    use annotate_snippets::Renderer;

    /// Many findings are rendered on several threads; the text is the one-thread rendering,
    /// finding by finding, in order.
    #[test]
    fn parallel_rendering_is_the_serial_rendering() {
        let nodes: Vec<String> = (0..400)
            .map(|i| format!(r#"{{"id": "n{i}", "next": [{{"goto": "missing{i}"}}]}}"#))
            .collect();
        let text = format!(
            r#"{{"nodes": [{{"id": "s", "condition": "start"}}, {}]}}"#,
            nodes.join(",\n")
        );
        let reports = vec![
            crate::lint::lint_bytes("a.json", text.as_bytes(), &Default::default()),
            crate::lint::lint_bytes("b.json", text.as_bytes(), &Default::default()),
        ];
        let count: usize = reports.iter().map(|r| r.findings.len()).sum();
        assert!(count > 2 * super::PER_THREAD, "{count}");
        let renderer = Renderer::plain().term_width(140);
        let mut serial = String::new();
        for r in &reports {
            for f in &r.findings {
                serial.push_str(&human_one(&renderer, r, f));
                serial.push_str("\n\n");
            }
        }
        serial.push_str(&summary(&reports));
        serial.push('\n');
        assert_eq!(human(&reports, false), serial);
    }

    /// A finding whose positions are too far apart to be shown together shows each one's
    /// line apart (a node id used again 70 KB after its first use); close ones are shown
    /// together, and a line too long to show gives its position only.
    #[test]
    fn positions_far_apart_are_shown_apart() {
        let pad = |n: usize| -> Vec<String> {
            (0..n)
                .map(|i| format!("{{\"id\": \"p{i}\", \"condition\": \"input.text == 'x'\"}}"))
                .collect()
        };
        let render = |text: &str| {
            let report = crate::lint::lint_bytes("f.json", text.as_bytes(), &Default::default());
            let f = report
                .findings
                .iter()
                .find(|f| f.code == "duplicate-node-id")
                .expect("a duplicate id");
            human_one(&Renderer::plain(), &report, f)
        };
        let far = format!(
            "{{\"nodes\": [\n{{\"id\": \"a\", \"condition\": \"start\"}},\n{},\n{{\"id\": \"a\"}}\n]}}",
            pad(1_500).join(",\n")
        );
        assert!(far.len() > super::MAX_SPAN, "{}", far.len());
        let shown = render(&far);
        assert!(shown.contains("--> f.json:1503:8"), "{shown}");
        assert!(shown.contains("1503 | {\"id\": \"a\"}"), "{shown}");
        assert!(shown.contains("::: f.json:2:8"), "{shown}");
        assert!(
            shown.contains("2 | {\"id\": \"a\", \"condition\": \"start\"}"),
            "{shown}"
        );
        assert!(shown.contains("first used here"), "{shown}");
        assert!(!shown.contains("not shown"), "{shown}");
        let close = format!(
            "{{\"nodes\": [\n{{\"id\": \"a\", \"condition\": \"start\"}},\n{},\n{{\"id\": \"a\"}}\n]}}",
            pad(10).join(",\n")
        );
        let shown = render(&close);
        assert!(!shown.contains(":::"), "{shown}");
        assert!(shown.contains("..."), "lines between are folded: {shown}");
        // One line of 80 KB: the positions, not the line.
        let long = far.replace('\n', " ");
        let shown = render(&long);
        assert!(shown.contains("is not shown"), "{shown}");
        assert!(shown.contains("first used here at 1:"), "{shown}");
    }
}
