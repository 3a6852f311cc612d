//! What the studio shows, apart from HTTP: the files under the roots, the open dialog and its
//! playground, the turns played, and the state sent to the page.

use super::graph;
use crate::conversation::{self, AnyDialog, Coverage, Dialog, Trace};
use crate::domain::Output;
use crate::lint::{lint_bytes, FileKind, LintOptions};
use crate::model::IntegrationsFile;
use crate::playground::{Command, Playground, Setup, Shown};
use crate::testing::Start;
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A file under the roots, as the Files panel lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileEntry {
    /// The path as shown (and as `open` takes it).
    pub path: String,
    /// `flow`, `workspace`, `test` or `integrations`.
    pub kind: &'static str,
    /// Lint findings.
    pub findings: usize,
}

/// One turn of the conversation: what was done, and what it showed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Turn {
    /// What the person did, in words.
    pub did: String,
    /// What the customer wrote, when this turn is a message of theirs.
    pub said: Option<String>,
    /// What it showed, each with the node that sent it (`node`).
    pub items: Vec<Json>,
    /// A workspace's reading of the customer's message: `intents` and `entities` with their
    /// confidences, and `nodes_visited`.
    pub understood: Option<Json>,
}

/// The studio's model: roots, files, the open dialog.
pub(crate) struct Studio {
    roots: Vec<PathBuf>,
    integrations: Option<PathBuf>,
    files: Vec<FileEntry>,
    /// The files' modification times when last listed.
    stamps: BTreeMap<PathBuf, SystemTime>,
    open: Option<Open>,
    /// The last run of the tests under the roots: per file, and the coverage of each flow
    /// (by canonical path).
    tests: Option<Json>,
    coverage: BTreeMap<PathBuf, Coverage>,
    /// Why the last open or reload failed, or what the last save did.
    notice: Option<Json>,
    clock: i64,
}

/// The open dialog and its conversation.
struct Open {
    path: PathBuf,
    shown_path: String,
    source: Option<Json>,
    model: graph::Model,
    playground: Playground,
    /// The commands played since the start, replayed on rewind and reload.
    commands: Vec<Command>,
    turns: Vec<Turn>,
    trace: Trace,
    last_entered: Option<String>,
    changed: Vec<String>,
    problems: Vec<Json>,
    stamp: Option<SystemTime>,
}

fn stamp(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// A flow's or workspace's lint findings as the Problems panel shows them.
fn problems(path: &Path, bytes: &[u8], opts: &LintOptions) -> Vec<Json> {
    let r = lint_bytes(&path.display().to_string(), bytes, opts);
    r.findings
        .iter()
        .map(|f| {
            json!({
                "line": f.line, "column": f.column, "code": f.code,
                "severity": f.severity.as_str(), "message": f.message,
            })
        })
        .collect()
}

/// The keys of `before` and `after` (objects) whose values differ, as `prefix.key`.
fn diff(prefix: &str, before: &Json, after: &Json, into: &mut Vec<String>) {
    let empty = serde_json::Map::new();
    let a = before.as_object().unwrap_or(&empty);
    let b = after.as_object().unwrap_or(&empty);
    for (k, v) in b {
        if a.get(k) != Some(v) {
            into.push(format!("{prefix}.{k}"));
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        into.push(format!("{prefix}.{k}"));
    }
}

impl Studio {
    /// A studio over `roots` (directories), with `integrations` for every flow when given.
    pub fn new(roots: Vec<PathBuf>, integrations: Option<PathBuf>, clock: i64) -> Studio {
        let mut s = Studio {
            roots,
            integrations,
            files: Vec::new(),
            stamps: BTreeMap::new(),
            open: None,
            tests: None,
            coverage: BTreeMap::new(),
            notice: None,
            clock,
        };
        s.rescan();
        s
    }

    /// How a file is linted: with the integrations file given, else the `integrations.json`
    /// beside `file` when there is one (as `fluxo chat` loads the flow).
    fn lint_options_for(&self, file: &Path) -> LintOptions {
        let beside = file
            .parent()
            .map(|d| d.join("integrations.json"))
            .filter(|p| p.is_file());
        let integrations = self
            .integrations
            .clone()
            .or(beside)
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<IntegrationsFile>(&b).ok());
        LintOptions {
            integrations,
            ..Default::default()
        }
    }

    /// Lists the files under the roots again (their lint counts too). True when anything
    /// changed since the last listing.
    pub fn rescan(&mut self) -> bool {
        let mut stamps = BTreeMap::new();
        let mut paths = Vec::new();
        for root in &self.roots {
            let walk = walkdir::WalkDir::new(root)
                .follow_links(false)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    let n = e.file_name().to_string_lossy();
                    e.depth() == 0 || !(n.starts_with('.') || n == "target" || n == "node_modules")
                });
            for e in walk.flatten() {
                let p = e.path();
                if e.file_type().is_file() && p.extension().is_some_and(|x| x == "json") {
                    if let Some(t) = stamp(p) {
                        stamps.insert(p.to_path_buf(), t);
                    }
                    paths.push(p.to_path_buf());
                }
            }
        }
        if stamps == self.stamps && !self.files.is_empty() {
            return false;
        }
        self.files = paths
            .iter()
            .filter_map(|p| {
                let bytes = std::fs::read(p).ok()?;
                let r = lint_bytes(&p.display().to_string(), &bytes, &self.lint_options_for(p));
                let kind = match r.kind? {
                    FileKind::Flow => "flow",
                    FileKind::Watson => "workspace",
                    FileKind::Test => "test",
                    FileKind::Integrations => "integrations",
                };
                Some(FileEntry {
                    path: p.display().to_string(),
                    kind,
                    findings: r.findings.len(),
                })
            })
            .collect();
        self.stamps = stamps;
        true
    }

    /// `path` when it lies under a root (after resolving links and `..`).
    pub fn inside(&self, path: &Path) -> Option<PathBuf> {
        let real = path.canonicalize().ok()?;
        self.roots
            .iter()
            .filter_map(|r| r.canonicalize().ok())
            .any(|r| real.starts_with(&r))
            .then_some(real)
    }

    /// Opens the flow or workspace at `shown` (a path as the Files panel lists it) and starts
    /// its conversation.
    pub fn open(&mut self, shown: &str) -> Result<(), String> {
        let path = PathBuf::from(shown);
        let Some(real) = self.inside(&path) else {
            return Err(format!("{shown} is not a file under the studio's paths"));
        };
        let bytes = std::fs::read(&real).map_err(|e| format!("{shown}: {e}"))?;
        let dialog = conversation::load(&path, self.integrations.as_deref())
            .map_err(|e| e.detail().to_owned())?;
        let source = serde_json::from_slice::<Json>(&bytes).ok();
        let setup = Setup::new(path.clone(), self.clock, Start::default());
        let mut open = Open {
            model: graph::model(&dialog, source.as_ref()),
            path: path.clone(),
            shown_path: shown.to_owned(),
            source,
            playground: Playground::new(dialog, setup),
            commands: Vec::new(),
            turns: Vec::new(),
            trace: Trace::default(),
            last_entered: None,
            changed: Vec::new(),
            problems: problems(&path, &bytes, &self.lint_options_for(&path)),
            stamp: stamp(&real),
        };
        open.restart();
        self.open = Some(open);
        self.notice = None;
        Ok(())
    }

    /// Shows `text` as an error until the next command.
    pub fn fail(&mut self, text: String) {
        self.notice = Some(json!({ "kind": "error", "text": text }));
    }

    /// Plays `command` in the open conversation.
    pub fn command(&mut self, command: Command) -> Result<(), String> {
        let open = self.open.as_mut().ok_or("no flow or workspace is open")?;
        // A command the playground refuses changes nothing, and says why (HTTP 400).
        match open.play(command) {
            Some(e) => Err(e),
            None => {
                self.notice = None;
                Ok(())
            }
        }
    }

    /// Starts the open conversation again, at the `start` node.
    pub fn restart(&mut self) -> Result<(), String> {
        let open = self.open.as_mut().ok_or("no flow or workspace is open")?;
        open.playground.set_start_node(None);
        open.restart();
        self.notice = None;
        Ok(())
    }

    /// Starts the open flow's conversation again at node `node` (a saved test records it as
    /// `start.node`, so it replays the same way).
    pub fn start_at(&mut self, node: &str) -> Result<(), String> {
        let open = self.open.as_mut().ok_or("no flow or workspace is open")?;
        if !matches!(open.playground.dialog(), AnyDialog::Flow(_)) {
            return Err(
                "a Watson workspace starts where its dialog does; starting at a node is for flows"
                    .into(),
            );
        }
        if !open.model.nodes.iter().any(|n| n.id == node) {
            return Err(format!("the open flow has no node `{node}`"));
        }
        open.playground.set_start_node(Some(node.to_owned()));
        open.restart();
        self.notice = Some(json!({ "kind": "info", "text": format!("started at node {node}") }));
        Ok(())
    }

    /// Moves the clock to the next pending deadline (a queue's wait, the customer's
    /// inactivity), so the timer fires.
    pub fn advance_to_next_deadline(&mut self) -> Result<(), String> {
        let open = self.open.as_ref().ok_or("no flow or workspace is open")?;
        let snap = open.playground.snapshot();
        let Some(due) = snap.next_deadline else {
            return Err("no deadline is pending".into());
        };
        // Whole seconds, rounded up, so the deadline is reached.
        let ms = due.saturating_sub(snap.clock).max(0);
        let seconds = u64::try_from(ms.saturating_add(999) / 1000).unwrap_or(0);
        self.command(Command::Advance { seconds })
    }

    /// Goes back to just after turn `turn` (0: the start) by replaying the commands before it.
    pub fn rewind(&mut self, turn: usize) -> Result<(), String> {
        let open = self.open.as_mut().ok_or("no flow or workspace is open")?;
        if turn >= open.turns.len() {
            return Err(format!("there is no turn {turn}"));
        }
        let keep: Vec<Command> = open.commands.iter().take(turn).cloned().collect();
        open.restart();
        for c in keep {
            open.play(c);
        }
        self.notice = Some(json!({ "kind": "info", "text": format!("rewound to turn {turn}") }));
        Ok(())
    }

    /// Saves the conversation as test `name` beside the open file. `name` is a file name: no
    /// directories, no `..`.
    pub fn save(&mut self, name: &str) -> Result<(), String> {
        let name = name.trim();
        let bad = name.is_empty()
            || name.contains(['/', '\\', '\0'])
            || name.contains("..")
            || name.starts_with('.');
        if bad {
            return Err(format!(
                "`{name}` is not a test name: use a plain file name (no `/`, `\\` or `..`)"
            ));
        }
        let open = self.open.as_mut().ok_or("no flow or workspace is open")?;
        let dir = open
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = dir.join(name);
        let shown = open.playground.command(Command::Save { file });
        let mut notice = None;
        for s in &shown {
            match s {
                Shown::Saved { path, appended } => {
                    notice = Some(json!({
                        "kind": "saved",
                        "path": path.display().to_string(),
                        "appended": appended,
                        "text": match appended {
                            Some(n) => format!("appended conversation {n} to {}; run it with `fluxo test {}`", path.display(), path.display()),
                            None => format!("saved {}; run it with `fluxo test {}`", path.display(), path.display()),
                        },
                    }));
                }
                Shown::Error { message } => return Err(message.clone()),
                _ => {}
            }
        }
        let warnings: Vec<String> = shown
            .iter()
            .filter_map(|s| match s {
                Shown::Warning { text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        if let (Some(n), false) = (notice.as_mut(), warnings.is_empty()) {
            n["warnings"] = json!(warnings);
        }
        self.notice = notice;
        self.rescan();
        Ok(())
    }

    /// Reloads the open file when it changed on disk: the conversation is replayed on the new
    /// version when the node it is at still exists; a file that no longer loads keeps the old
    /// version running and says why. True when anything changed.
    pub fn reload(&mut self) -> bool {
        let rescanned = self.rescan();
        let integrations = self.integrations.clone();
        let clock = self.clock;
        let Some(opts) = self.open.as_ref().map(|o| self.lint_options_for(&o.path)) else {
            return rescanned;
        };
        let Some(open) = self.open.as_mut() else {
            return rescanned;
        };
        let now = open.path.canonicalize().ok().and_then(|p| stamp(&p));
        if now == open.stamp {
            return rescanned;
        }
        open.stamp = now;
        let Ok(bytes) = std::fs::read(&open.path) else {
            self.notice = Some(
                json!({ "kind": "error", "text": format!("{} cannot be read any more", open.shown_path) }),
            );
            return true;
        };
        open.problems = problems(&open.path, &bytes, &opts);
        let dialog = match conversation::load(&open.path, integrations.as_deref()) {
            Ok(d) => d,
            Err(e) => {
                self.notice = Some(json!({ "kind": "error", "text": format!(
                    "{} changed and does not load; the conversation goes on with the previous version: {}",
                    open.shown_path, e.detail()) }));
                return true;
            }
        };
        let focus = open.playground.snapshot().focus;
        let gone = focus.filter(|f| !dialog.coverage_targets().nodes.contains(f));
        if let Some(f) = gone {
            self.notice = Some(json!({ "kind": "error", "restart": true, "text": format!(
                "{} changed: the node the conversation is at (`{f}`) is gone, so it cannot go on; restart the conversation",
                open.shown_path) }));
            return true;
        }
        open.source = serde_json::from_slice::<Json>(&bytes).ok();
        open.model = graph::model(&dialog, open.source.as_ref());
        let start = Start {
            node: open.playground.start_node().map(str::to_owned),
            ..Start::default()
        };
        let setup = Setup::new(open.path.clone(), clock, start);
        open.playground = Playground::new(dialog, setup);
        let keep = std::mem::take(&mut open.commands);
        open.restart();
        for c in keep {
            open.play(c);
        }
        self.notice =
            Some(json!({ "kind": "info", "text": format!("{} reloaded", open.shown_path) }));
        true
    }

    /// Runs every test file under the roots (never blessing) and keeps the results and the
    /// coverage of each flow. A test whose flow lies outside the roots is not run.
    pub fn run_tests(&mut self) {
        let mut files = Vec::new();
        let mut coverage: BTreeMap<PathBuf, Coverage> = BTreeMap::new();
        let (mut passed, mut failed) = (0, 0);
        for f in self.files.iter().filter(|f| f.kind == "test") {
            let path = PathBuf::from(&f.path);
            let flow = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Json>(&b).ok())
                .and_then(|v| v.get("flow").and_then(Json::as_str).map(str::to_owned))
                .map(|fl| path.parent().unwrap_or(Path::new(".")).join(fl));
            if flow.as_deref().and_then(|p| self.inside(p)).is_none() {
                failed += 1;
                files.push(json!({ "path": f.path, "error": "its flow is not under the studio's paths (or missing); not run", "conversations": [] }));
                continue;
            }
            let (r, _) = crate::testing::run_file(&path, crate::testing::RunOptions::default());
            coverage
                .entry(r.flow.clone())
                .or_default()
                .merge(&r.coverage);
            let conversations: Vec<Json> = r
                .conversations
                .iter()
                .map(|c| {
                    if c.passed() {
                        passed += 1;
                    } else if c.failed() {
                        failed += 1;
                    }
                    // The golden diff as the report draws it: side by side, as chat bubbles.
                    let diff = c.golden_diff.as_ref().and_then(|g| {
                        let rows = g.side_by_side(&c.transcript);
                        super::report::diff_html(&g.golden.display().to_string(), &rows).ok()
                    });
                    let failures: Vec<&String> = c
                        .failures
                        .iter()
                        .filter(|f| diff.is_none() || !f.starts_with("the transcript differs"))
                        .collect();
                    json!({ "name": c.name, "passed": c.passed(), "failures": failures, "diff_html": diff })
                })
                .collect();
            if r.error.is_some() {
                failed += 1;
            }
            files.push(json!({ "path": f.path, "flow": r.flow.display().to_string(), "error": r.error, "conversations": conversations }));
        }
        self.tests = Some(json!({ "files": files, "passed": passed, "failed": failed }));
        self.coverage = coverage;
    }

    /// Everything the page shows, as one JSON document.
    pub fn state(&self) -> Json {
        let mut s = json!({
            "files": self.files,
            "notice": self.notice,
            "tests": self.tests,
            "open": Json::Null,
        });
        if let Some(o) = &self.open {
            let snap = o.playground.snapshot();
            let mut taken = Coverage::default();
            o.trace.clone().finish(&mut taken);
            let current = snap.focus.clone().or_else(|| o.last_entered.clone());
            let covered = o
                .path
                .canonicalize()
                .ok()
                .and_then(|p| self.coverage.get(&p));
            let uncovered = covered.map(|c| {
                let t = o.playground.dialog().coverage_targets();
                let nodes: Vec<&String> =
                    t.nodes.iter().filter(|n| !c.nodes.contains(*n)).collect();
                let edges: Vec<&String> =
                    t.edges.iter().filter(|e| !c.edges.contains(*e)).collect();
                let statuses: Vec<String> = t
                    .handovers
                    .iter()
                    .flat_map(|(h, all)| {
                        all.iter()
                            .filter(move |st| {
                                !c.handovers
                                    .get(h)
                                    .is_some_and(|got| got.contains(st.as_str()))
                            })
                            .map(move |st| format!("{h}: {}", st.as_str()))
                    })
                    .collect();
                json!({ "nodes": nodes, "edges": edges, "close_statuses": statuses })
            });
            s["open"] = json!({
                "path": o.shown_path,
                "kind": match o.playground.dialog() { AnyDialog::Flow(_) => "flow", _ => "workspace" },
                "turns": o.turns,
                "snapshot": snap,
                "current": current,
                "start_node": o.playground.start_node(),
                "changed": o.changed,
                "request": o.playground.last_request(),
                "graph": graph::svg(&o.model, &taken, current.as_deref(), covered),
                "uncovered": uncovered,
                "problems": o.problems,
                "nodes": o.model.nodes.iter().map(|n| json!({"id": n.id, "name": n.name})).collect::<Vec<_>>(),
            });
        }
        s
    }

    /// The JSON source of node `id` of the open flow, and the findings on its lines.
    pub fn node_source(&self, id: &str) -> Option<Json> {
        let o = self.open.as_ref()?;
        let text = std::fs::read_to_string(&o.path).ok()?;
        let needle = format!("\"{}\"", id.replace('\\', "\\\\").replace('"', "\\\""));
        // The line that names the node, then the object around it.
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| {
            (l.contains("\"id\"") || l.contains("\"dialog_node\"")) && l.contains(&needle)
        })?;
        let indent = |l: &str| l.len() - l.trim_start().len();
        let inner = indent(lines.get(at)?);
        let first = (0..at)
            .rev()
            .find(|&i| {
                lines
                    .get(i)
                    .is_some_and(|l| l.trim_start().starts_with('{') && indent(l) < inner)
            })
            .unwrap_or(at);
        let open_indent = indent(lines.get(first)?);
        let last = (at..lines.len())
            .find(|&i| {
                lines
                    .get(i)
                    .is_some_and(|l| l.trim_start().starts_with('}') && indent(l) == open_indent)
            })
            .unwrap_or(at);
        let body: Vec<Json> = (first..=last)
            .filter_map(|i| lines.get(i).map(|l| json!({ "line": i + 1, "text": l })))
            .collect();
        let findings: Vec<&Json> = o
            .problems
            .iter()
            .filter(|p| {
                p["line"]
                    .as_u64()
                    .and_then(|l| usize::try_from(l).ok())
                    .is_some_and(|l| l > first && l <= last + 1)
            })
            .collect();
        Some(json!({ "id": id, "lines": body, "findings": findings }))
    }
}

/// What a shown item was sent by: the item as JSON, with `node` when an output followed a
/// node entered.
fn item(s: &Shown, node: Option<&str>) -> Json {
    let mut v = serde_json::to_value(s).unwrap_or(Json::Null);
    if let (Some(n), Json::Object(m)) = (node, &mut v) {
        m.insert("node".into(), json!(n));
    }
    v
}

fn describe(c: &Command) -> String {
    match c {
        Command::Say { text } => format!("user: {text}"),
        Command::Pick { number } => format!("user picked option {number}"),
        Command::Intent { intent, text } => format!("user: #{intent} {text}"),
        Command::AgentJoin { name } => format!("agent {name} joins"),
        Command::AgentSay { text } => format!("agent: {text}"),
        Command::AgentTransfer { to } => format!("agent transfers to {to}"),
        Command::AgentClose { .. } => "agent ends the chat".into(),
        Command::UserClose => "user ends the chat".into(),
        Command::ProviderOpened { remote_id } => format!("provider opened ({remote_id})"),
        Command::ProviderError { message } => format!("provider error: {message}"),
        Command::Result { result } => format!("action result: {result}"),
        Command::Advance { seconds } => format!("clock +{seconds} s"),
        Command::Set { context, contact } => {
            let named: Vec<String> = [("context", context), ("contact", contact)]
                .into_iter()
                .flat_map(|(scope, vars)| {
                    vars.iter()
                        .flatten()
                        .map(move |(k, v)| format!("{scope}.{k} = {v}"))
                })
                .collect();
            format!("set {}", named.join(", "))
        }
        other => format!("{other:?}"),
    }
}

impl Open {
    fn restart(&mut self) {
        self.commands.clear();
        self.turns.clear();
        self.trace = Trace::default();
        self.last_entered = None;
        let shown = self.playground.reset();
        self.record("start".into(), None, &shown);
        self.changed.clear();
    }

    /// Plays one command; the error it showed, if any.
    fn play(&mut self, command: Command) -> Option<String> {
        let before = self.playground.snapshot();
        let did = describe(&command);
        let shown = self.playground.command(command.clone());
        let error = shown.iter().find_map(|s| match s {
            Shown::Error { message } => Some(message.clone()),
            _ => None,
        });
        if error.is_some() {
            return error;
        }
        let said = match &command {
            Command::Say { text } | Command::Intent { text, .. } => Some(text.clone()),
            _ => None,
        };
        let message = matches!(
            command,
            Command::Say { .. } | Command::Intent { .. } | Command::Pick { .. }
        );
        self.commands.push(command);
        self.record(did, said, &shown);
        let after = self.playground.snapshot();
        if let (true, Some(turn)) = (message, self.turns.last_mut()) {
            turn.understood.clone_from(&after.understood);
        }
        self.changed.clear();
        diff(
            "context",
            &before.context,
            &after.context,
            &mut self.changed,
        );
        diff(
            "contact",
            &before.contact,
            &after.contact,
            &mut self.changed,
        );
        None
    }

    fn record(&mut self, did: String, said: Option<String>, shown: &[Shown]) {
        let outputs: Vec<Output> = shown
            .iter()
            .filter_map(|s| match s {
                Shown::Output { output, .. } => Some(output.clone()),
                _ => None,
            })
            .collect();
        self.playground.dialog().trace(&mut self.trace, &outputs);
        let mut items = Vec::new();
        for s in shown {
            if let Shown::Output {
                output: Output::NodeEntered { id },
                ..
            } = s
            {
                self.last_entered = Some(id.clone());
            }
            items.push(item(s, self.last_entered.as_deref()));
        }
        self.turns.push(Turn {
            did,
            said,
            items,
            understood: None,
        });
    }
}
