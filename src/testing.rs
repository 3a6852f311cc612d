//! Conversation tests: the format flow authors (and this project) write, the runner behind
//! `fluxo test`, golden transcripts, and coverage.
//!
//! A test file (`*.test.json`, schema in `schemas/test.schema.json`) names a flow and holds
//! conversations. Each conversation is a list of steps: what the user, the agent, the provider
//! and the clock do, and `expect` steps that check what the bot did in answer to the step
//! before. A golden transcript (`golden`) pins everything the bot did, and shows a diff that
//! names the line when it changes; `fluxo test --bless` rewrites it.

use crate::engine::{Bot, CloseStatus, Event, Output, Session, Speaker};
use crate::integrations::normalise_id;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A test file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Editor hint.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The flow, relative to the test file.
    pub flow: String,
    /// The integrations file, relative to the test file (default: `integrations.json` beside
    /// the flow, when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<String>,
    /// Start of the virtual clock (RFC 3339; default `2026-01-05T12:00:00Z`, a Monday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The golden transcript, relative to the test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub golden: Option<String>,
    /// The conversations.
    pub conversations: Vec<Conversation>,
}

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// What it shows (unique in the file).
    pub name: String,
    /// Channel, context and contact of the `start` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Start>,
    /// Results for host actions, by action name (`http_request`, custom actions).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub mocks: Map<String, Json>,
    /// Clock for this conversation (overrides the file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The steps.
    pub steps: Vec<Json>,
}

/// The `start` event's fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// Channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Initial context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Json>>,
    /// Initial contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Map<String, Json>>,
}

/// What an `expect` step checks, against the outputs of the step before it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A bot message with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    /// A bot message containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_contains: Option<String>,
    /// A bot message matching this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_matches: Option<String>,
    /// The bot said nothing (`true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    /// An agent message with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// A message relayed to the agent with exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<String>,
    /// A system notice containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_contains: Option<String>,
    /// This node fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The bot waits at this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// The live chat closed with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<CloseStatus>,
    /// A hand-over was requested; each key is a dotted path into `handoff_requested`
    /// (`provider`, `parameters.skill_id`, `request.body.1.body.skillId`), each value what it must be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Map<String, Json>>,
    /// Context variables after the step (a subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Json>>,
    /// Contact attributes after the step (a subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Map<String, Json>>,
    /// An `error` output with this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TestFile {
    /// Reads a test file and checks every step (what the schema checks, and what `fluxo test`
    /// reads).
    pub fn from_value(v: &Json) -> Result<TestFile, String> {
        let f: TestFile = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        for (c, conv) in f.conversations.iter().enumerate() {
            for (i, step) in conv.steps.iter().enumerate() {
                Step::parse(step)
                    .map_err(|e| format!("conversation {} step {}: {e}", c + 1, i + 1))?;
            }
        }
        Ok(f)
    }
}

/// A step, read from its JSON object.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Feed an event.
    Event(Event),
    /// Check the outputs of the previous event.
    Expect(Box<Expect>),
}

/// The step kinds, for messages.
pub const STEP_KINDS: &[&str] = &[
    "user",
    "user_close",
    "agent_join",
    "agent",
    "agent_transfer",
    "agent_close",
    "provider_opened",
    "provider_error",
    "action_result",
    "advance",
    "expect",
];

impl Step {
    /// Reads a step: an object with one of [`STEP_KINDS`] (and, for `user`, optional `intent`,
    /// `entities`, `confidence`; for `provider_opened`, optional `result`; for `action_result`, `id`).
    pub fn parse(v: &Json) -> Result<Step, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("a step must be an object, found {v}"))?;
        let kind = STEP_KINDS
            .iter()
            .find(|k| obj.contains_key(**k))
            .ok_or_else(|| {
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                let hint = keys
                    .first()
                    .and_then(|k| crate::schema::closest(k, STEP_KINDS))
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                format!(
                    "unknown step {{{}}}{hint}; a step is one of: {}",
                    keys.join(", "),
                    STEP_KINDS.join(", ")
                )
            })?;
        let allowed: &[&str] = match *kind {
            "user" => &["user", "intent", "entities", "confidence"],
            "provider_opened" => &["provider_opened", "result"],
            "provider_closed" => &["provider_closed", "reason"],
            "action_result" => &["action_result", "id"],
            k => std::slice::from_ref(STEP_KINDS.iter().find(|x| **x == k).unwrap_or(&"")),
        };
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("`{kind}` step: unknown field `{extra}`"));
        }
        let text = |k: &str| -> Result<String, String> {
            obj.get(k)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("`{k}` must be a string"))
        };
        // Optional fields: absent, or of the right type.
        let opt_text = |k: &str| -> Result<Option<String>, String> {
            match obj.get(k) {
                None | Some(Json::Null) if k == "agent_close" => Ok(None),
                None => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{k}` must be a string")),
            }
        };
        let event = match *kind {
            "expect" => {
                let e: Expect = serde_json::from_value(obj["expect"].clone())
                    .map_err(|e| format!("`expect`: {e}"))?;
                return Ok(Step::Expect(Box::new(e)));
            }
            "user" => Event::User {
                text: text("user")?,
                intent: opt_text("intent")?,
                entities: match obj.get("entities") {
                    None => None,
                    Some(Json::Array(a)) => Some(a.clone()),
                    Some(_) => return Err("`entities` must be an array".into()),
                },
                confidence: match obj.get("confidence") {
                    None => None,
                    Some(c) => Some(c.as_f64().ok_or("`confidence` must be a number")?),
                },
            },
            "user_close" => Event::UserClose { reason: None },
            "agent_join" => Event::AgentJoin {
                name: text("agent_join")?,
                avatar: None,
            },
            "agent" => Event::AgentMessage {
                text: text("agent")?,
            },
            "agent_transfer" => Event::AgentTransfer {
                to: text("agent_transfer")?,
            },
            "agent_close" => Event::AgentClose {
                wrap_up: opt_text("agent_close")?,
            },
            "provider_opened" => Event::ProviderOpened {
                remote_id: text("provider_opened")?,
                result: obj.get("result").cloned(),
            },
            "provider_error" => Event::ProviderError {
                message: text("provider_error")?,
            },
            "action_result" => Event::ActionResult {
                id: opt_text("id")?.unwrap_or_default(),
                result: obj["action_result"].clone(),
            },
            _ => Event::Advance {
                seconds: parse_duration(&obj["advance"])?,
            },
        };
        Ok(Step::Event(event))
    }
}

/// Seconds in `300`, `"300s"`, `"5m"`, `"1h30m"`, `"2d"`.
pub fn parse_duration(v: &Json) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v.as_str().ok_or_else(|| {
        format!("a duration is a number of seconds or a string like \"5m\", found {v}")
    })?;
    if s.trim().is_empty() {
        return Err("an empty duration".into());
    }
    let (mut total, mut num) = (0u64, String::new());
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("`{s}` is not a duration (units: s, m, h, d)")),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() {
        total = total.saturating_add(
            num.parse::<u64>()
                .map_err(|_| format!("`{s}` is not a duration"))?,
        );
    }
    Ok(total)
}

/// Default clock of tests: Monday 2026-01-05 12:00 UTC.
pub const DEFAULT_CLOCK: &str = "2026-01-05T12:00:00Z";

/// What one conversation did.
#[derive(Debug, Clone, Default)]
pub struct ConversationResult {
    /// Its name.
    pub name: String,
    /// What went wrong (empty: passed).
    pub failures: Vec<String>,
    /// The transcript.
    pub transcript: String,
}

/// What one test file did.
#[derive(Debug, Clone, Default)]
pub struct FileResult {
    /// The test file.
    pub path: PathBuf,
    /// The flow it runs (canonical path).
    pub flow: PathBuf,
    /// A problem that stopped the whole file (unreadable, flow does not load).
    pub error: Option<String>,
    /// Per conversation.
    pub conversations: Vec<ConversationResult>,
    /// Coverage of the flow by this file.
    pub coverage: Coverage,
    /// The golden file was rewritten (`--bless`).
    pub blessed: bool,
}

/// What the tests exercised of a flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Node ids that fired.
    pub nodes: BTreeSet<String>,
    /// `next` edges taken, as `from -> to`.
    pub edges: BTreeSet<String>,
    /// Hand-over node → close statuses reached and routed by a branch that tests
    /// `input.live_chat.status`.
    pub handovers: BTreeMap<String, BTreeSet<String>>,
    /// Hand-over node → close statuses reached but routed by a fallback (no status branch).
    pub unhandled: BTreeMap<String, BTreeSet<String>>,
}

impl Coverage {
    /// Adds another coverage of the same flow.
    pub fn merge(&mut self, o: &Coverage) {
        self.nodes.extend(o.nodes.iter().cloned());
        self.edges.extend(o.edges.iter().cloned());
        for (k, v) in &o.handovers {
            self.handovers
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
        for (k, v) in &o.unhandled {
            self.unhandled
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}

/// Coverage of one flow, measured against what the flow has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    /// The flow.
    pub flow: String,
    /// Nodes fired / all nodes.
    pub nodes: (usize, usize),
    /// Node ids never fired.
    pub nodes_missed: Vec<String>,
    /// `next` edges taken / all edges.
    pub edges: (usize, usize),
    /// Edges never taken.
    pub edges_missed: Vec<String>,
    /// Per hand-over node: statuses reached and statuses never reached.
    pub handovers: BTreeMap<String, HandoverCoverage>,
}

/// Close statuses of one hand-over node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoverCoverage {
    /// Reached, and routed by a status branch.
    pub reached: Vec<String>,
    /// Never reached by a status branch.
    pub missed: Vec<String>,
    /// Of the missed: reached, but routed by a fallback because no branch tests the status.
    pub unhandled: Vec<String>,
}

impl CoverageReport {
    /// Measures `cov` against `bot`'s flow.
    pub fn new(flow: &str, bot: &Bot, cov: &Coverage) -> CoverageReport {
        let f = bot.flow();
        let all_nodes: Vec<&str> = f.nodes.iter().map(|n| n.id.as_str()).collect();
        let mut all_edges = BTreeSet::new();
        for n in &f.nodes {
            for x in n.next.iter().filter(|x| x.target.is_some()) {
                all_edges.insert(format!("{} -> {}", n.id, x.goto));
            }
        }
        let mut handovers = BTreeMap::new();
        for n in &f.nodes {
            for a in n.actions.iter().filter(|a| a.name == "start_live_chat") {
                let bh = a
                    .param("integration_id")
                    .and_then(|v| v.literal())
                    .and_then(normalise_id)
                    .and_then(|id| bot.integrations().find(&id).cloned())
                    .is_some_and(|i| i.business_hours.is_some());
                let needed = crate::lint::rules::unhandled_live_chat_status::statuses_for(bh);
                let reached: BTreeSet<String> =
                    cov.handovers.get(&n.id).cloned().unwrap_or_default();
                let fell: BTreeSet<String> = cov.unhandled.get(&n.id).cloned().unwrap_or_default();
                let missed: Vec<String> = needed
                    .iter()
                    .filter(|s| !reached.contains(**s))
                    .map(|s| s.to_string())
                    .collect();
                handovers.insert(
                    n.id.clone(),
                    HandoverCoverage {
                        reached: needed
                            .iter()
                            .filter(|s| reached.contains(**s))
                            .map(|s| s.to_string())
                            .collect(),
                        unhandled: missed
                            .iter()
                            .filter(|s| fell.contains(*s))
                            .cloned()
                            .collect(),
                        missed,
                    },
                );
            }
        }
        CoverageReport {
            flow: flow.to_owned(),
            nodes: (
                all_nodes.iter().filter(|n| cov.nodes.contains(**n)).count(),
                all_nodes.len(),
            ),
            nodes_missed: all_nodes
                .iter()
                .filter(|n| !cov.nodes.contains(**n))
                .map(|s| s.to_string())
                .collect(),
            edges: (
                all_edges.iter().filter(|e| cov.edges.contains(*e)).count(),
                all_edges.len(),
            ),
            edges_missed: all_edges
                .iter()
                .filter(|e| !cov.edges.contains(*e))
                .cloned()
                .collect(),
            handovers,
        }
    }

    /// The report as people read it.
    pub fn human(&self) -> String {
        let pct = |(a, b): (usize, usize)| (a * 100).checked_div(b).unwrap_or(100);
        let mut s = format!(
            "coverage of {}: nodes {}/{} ({}%), next edges {}/{} ({}%)\n",
            self.flow,
            self.nodes.0,
            self.nodes.1,
            pct(self.nodes),
            self.edges.0,
            self.edges.1,
            pct(self.edges)
        );
        if !self.nodes_missed.is_empty() {
            s.push_str(&format!(
                "  nodes never fired: {}\n",
                self.nodes_missed.join(", ")
            ));
        }
        for (node, h) in &self.handovers {
            let total = h.reached.len() + h.missed.len();
            s.push_str(&format!(
                "  hand-over `{node}`: close statuses {}/{total}",
                h.reached.len()
            ));
            if h.missed.is_empty() {
                s.push_str(" (all)\n");
            } else {
                s.push_str(&format!(", never reached: {}\n", h.missed.join(", ")));
                if !h.unhandled.is_empty() {
                    s.push_str(&format!(
                        "    (the tests end chats with {}, but no `next` branch tests that status: a fallback took them)\n",
                        h.unhandled.join(", ")
                    ));
                }
            }
        }
        s
    }
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Rewrite golden transcripts instead of comparing them.
    pub bless: bool,
}

/// Runs one test file. Never panics on bad input: a file that cannot run reports why.
pub fn run_file(path: &Path, opts: RunOptions) -> (FileResult, Option<Bot>) {
    let mut result = FileResult {
        path: path.to_path_buf(),
        ..Default::default()
    };
    let file: TestFile = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("not a conversation test: {e}")))
    {
        Ok(f) => f,
        Err(e) => {
            result.error = Some(e);
            return (result, None);
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let flow_path = dir.join(&file.flow);
    result.flow = flow_path.canonicalize().unwrap_or(flow_path.clone());
    let integ = file.integrations.as_ref().map(|i| dir.join(i));
    let bot = match crate::testing::load(&flow_path, integ.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e);
            return (result, None);
        }
    };
    let golden_path = file.golden.as_ref().map(|g| dir.join(g));
    let golden = golden_path
        .as_ref()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default());
    let sections = golden.as_deref().map(split_golden).unwrap_or_default();
    let mut names = BTreeSet::new();
    for conv in &file.conversations {
        let mut r = run_conversation(&bot, conv, file.clock.as_deref(), &mut result.coverage);
        if !names.insert(conv.name.clone()) {
            r.failures.push(format!(
                "another conversation in this file is also named `{}`",
                conv.name
            ));
        }
        if let (Some(gp), false) = (&golden_path, opts.bless) {
            match sections.get(&conv.name) {
                Some((expected, first_line)) => {
                    if let Some(diff) = diff(expected, &r.transcript, *first_line, gp) {
                        r.failures.push(diff);
                    }
                }
                None => r.failures.push(format!(
                    "{} has no transcript for `{}`; run `fluxo test --bless` to record it",
                    gp.display(),
                    conv.name
                )),
            }
        }
        result.conversations.push(r);
    }
    if let (Some(gp), true) = (&golden_path, opts.bless) {
        let text: String = result
            .conversations
            .iter()
            .map(|c| format!("=== {}\n{}", c.name, c.transcript))
            .collect::<Vec<_>>()
            .join("\n");
        if golden.as_deref() != Some(text.as_str()) {
            match std::fs::write(gp, &text) {
                Ok(()) => result.blessed = true,
                Err(e) => result.error = Some(format!("{}: {e}", gp.display())),
            }
        }
    }
    (result, Some(bot))
}

/// Loads a flow and its integrations (default: `integrations.json` beside the flow). A flow
/// that cannot run is refused with every blocking finding, one per line, with its position.
pub fn load(flow: &Path, integrations: Option<&Path>) -> Result<Bot, String> {
    let bytes = std::fs::read(flow).map_err(|e| format!("{}: {e}", flow.display()))?;
    let beside = flow.with_file_name("integrations.json");
    let ip = integrations
        .map(Path::to_path_buf)
        .or_else(|| beside.exists().then_some(beside));
    let ib = match &ip {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let ipath = ip.as_ref().map(|p| p.display().to_string());
    Bot::from_bytes(
        &flow.display().to_string(),
        &bytes,
        ipath.as_deref().zip(ib.as_deref()),
    )
    .map_err(|e| {
        let mut msg = String::from("the flow cannot run:");
        for f in &e.findings {
            msg.push_str(&format!(
                "\n  {}:{}:{}: {} [{}]",
                f.file, f.line, f.column, f.message, f.code
            ));
        }
        if e.findings.is_empty() {
            msg.push_str(" the integrations file is not valid");
        }
        msg
    })
}

/// `=== name` sections of a golden file: name → (text, line number of its first line).
fn split_golden(text: &str) -> BTreeMap<String, (String, usize)> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some((n, body, at)) = current.take() {
                out.insert(n, (body, at));
            }
            current = Some((name.to_owned(), String::new(), i + 2));
        } else if let Some((_, body, _)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, mut body, at)) = current {
        // Sections are separated by one blank line; it belongs to neither.
        if body.ends_with("\n\n") {
            body.pop();
        }
        out.insert(n, (body, at));
    }
    for (body, _) in out.values_mut() {
        while body.ends_with("\n\n") {
            body.pop();
        }
    }
    out
}

/// A readable diff, naming lines of the golden file; `None` when equal.
fn diff(expected: &str, actual: &str, first_line: usize, golden: &Path) -> Option<String> {
    if expected == actual {
        return None;
    }
    let d = similar::TextDiff::from_lines(expected, actual);
    let mut s = format!("the transcript differs from {}:\n", golden.display());
    for group in d.grouped_ops(1) {
        for op in group {
            for change in d.iter_changes(&op) {
                let line = change.old_index().map(|i| i + first_line);
                let (sign, at) = match change.tag() {
                    similar::ChangeTag::Delete => {
                        ("-", line.map(|l| format!("{l:>5}")).unwrap_or_default())
                    }
                    similar::ChangeTag::Insert => ("+", "     ".to_owned()),
                    similar::ChangeTag::Equal => {
                        (" ", line.map(|l| format!("{l:>5}")).unwrap_or_default())
                    }
                };
                s.push_str(&format!("  {at} {sign} {}", change.value()));
                if !change.value().ends_with('\n') {
                    s.push('\n');
                }
            }
        }
    }
    s.push_str("  (lines of the golden file on the left; `fluxo test --bless` accepts the new transcript)\n");
    Some(s)
}

fn clock_ms(c: Option<&str>) -> Result<i64, String> {
    c.unwrap_or(DEFAULT_CLOCK)
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("clock: {e}"))
}

/// Runs one conversation, recording coverage.
pub fn run_conversation(
    bot: &Bot,
    conv: &Conversation,
    file_clock: Option<&str>,
    cov: &mut Coverage,
) -> ConversationResult {
    let mut r = ConversationResult {
        name: conv.name.clone(),
        ..Default::default()
    };
    let mut now = match clock_ms(conv.clock.as_deref().or(file_clock)) {
        Ok(n) => n,
        Err(e) => {
            r.failures.push(e);
            return r;
        }
    };
    let mut s = bot.new_session("test");
    let start = conv.start.clone().unwrap_or_default();
    let mut tracker = Tracker::default();
    let first = Event::Start {
        channel: start.channel,
        context: start.context,
        contact: start.contact,
    };
    let mut last = feed(bot, &mut s, first, now, conv, &mut r, &mut tracker);
    for (i, raw) in conv.steps.iter().enumerate() {
        match Step::parse(raw) {
            Err(e) => r.failures.push(format!("step {}: {e}", i + 1)),
            Ok(Step::Expect(e)) => {
                for f in check(&e, &last, &s) {
                    r.failures.push(format!("step {} (expect): {f}", i + 1));
                }
            }
            Ok(Step::Event(ev)) => {
                if let Event::Advance { seconds } = &ev {
                    now = now.saturating_add((*seconds as i64).saturating_mul(1000));
                }
                last = feed(bot, &mut s, ev, now, conv, &mut r, &mut tracker);
            }
        }
    }
    tracker.into(cov);
    r
}

/// Walks outputs for coverage: nodes, `next` edges, and close statuses per hand-over node.
#[derive(Default)]
struct Tracker {
    nodes: BTreeSet<String>,
    edges: BTreeSet<String>,
    last_node: Option<String>,
    handover_node: Option<String>,
    /// A chat just closed: (hand-over node, status), until the next node fires.
    pending: Option<(String, String)>,
    /// (hand-over node, status, routed by a status branch).
    statuses: Vec<(String, String, bool)>,
}

impl Tracker {
    fn see(&mut self, bot: &Bot, o: &Output) {
        match o {
            Output::NodeEntered { id } => {
                if let Some((h, status)) = self.pending.take() {
                    // Which `next` entry of the waiting node led here: a status branch or not.
                    let by_branch = self
                        .last_node
                        .as_ref()
                        .and_then(|p| bot.flow().by_id.get(p))
                        .is_some_and(|&i| {
                            bot.flow().nodes[i].next.iter().any(|x| {
                                &x.goto == id
                                    && x.condition.as_ref().is_some_and(|c| {
                                        let mut tests = false;
                                        c.walk(&mut |e| {
                                            tests |= e.path().is_some_and(|p| {
                                                p == ["input", "live_chat", "status"]
                                            })
                                        });
                                        tests
                                    })
                            })
                        });
                    self.statuses.push((h, status, by_branch));
                }
                if let Some(prev) = &self.last_node {
                    let is_edge =
                        bot.flow().by_id.get(prev).is_some_and(|&i| {
                            bot.flow().nodes[i].next.iter().any(|x| &x.goto == id)
                        });
                    if is_edge {
                        self.edges.insert(format!("{prev} -> {id}"));
                    }
                }
                self.nodes.insert(id.clone());
                let hands_over = bot.flow().by_id.get(id).is_some_and(|&i| {
                    bot.flow().nodes[i]
                        .actions
                        .iter()
                        .any(|a| a.name == "start_live_chat")
                });
                if hands_over {
                    self.handover_node = Some(id.clone());
                }
                self.last_node = Some(id.clone());
            }
            Output::AwaitingInput { node } => self.last_node = Some(node.clone()),
            Output::LiveChatClosed { status, .. } => {
                if let Some(h) = &self.handover_node {
                    self.pending = Some((h.clone(), status.as_str().to_owned()));
                }
            }
            _ => {}
        }
    }

    fn into(self, cov: &mut Coverage) {
        cov.nodes.extend(self.nodes);
        cov.edges.extend(self.edges);
        for (h, s, by_branch) in self.statuses {
            let into = if by_branch {
                &mut cov.handovers
            } else {
                &mut cov.unhandled
            };
            into.entry(h).or_default().insert(s);
        }
    }
}

/// Feeds an event, answers host actions from the mocks, appends to the transcript.
fn feed(
    bot: &Bot,
    s: &mut Session,
    ev: Event,
    now: i64,
    conv: &Conversation,
    r: &mut ConversationResult,
    t: &mut Tracker,
) -> Vec<Output> {
    let mut pending = vec![ev];
    let mut all = Vec::new();
    // Each mock answer may trigger another action; bounded by the number of mocks used.
    for _ in 0..64 {
        let Some(ev) = pending.pop() else { break };
        r.transcript.push_str(&format!(
            "> {}\n",
            serde_json::to_string(&ev).unwrap_or_default()
        ));
        for o in bot.handle(s, ev, now) {
            r.transcript.push_str(&format!(
                "  {}\n",
                serde_json::to_string(&o).unwrap_or_default()
            ));
            t.see(bot, &o);
            if let Output::ActionRequested { id, name, .. } = &o {
                match conv.mocks.get(name) {
                    Some(result) => pending.push(Event::ActionResult { id: id.clone(), result: result.clone() }),
                    None => r.failures.push(format!("the flow asked the host to run `{name}`, and the test has no mock for it (add it to `mocks`)")),
                }
            }
            all.push(o);
        }
    }
    all
}

fn bot_texts(out: &[Output], who: Speaker) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Message {
                from,
                text: Some(t),
                ..
            } if *from == who => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn get_path<'a>(v: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Json::Array(a) => a.get(seg.parse::<usize>().ok()?),
        Json::Object(m) => m.get(seg),
        _ => None,
    })
}

/// Checks an expectation; returns what did not hold.
fn check(e: &Expect, out: &[Output], s: &Session) -> Vec<String> {
    let mut f = Vec::new();
    let bot = bot_texts(out, Speaker::Bot);
    let said = || {
        if bot.is_empty() {
            "the bot said nothing".to_string()
        } else {
            format!("the bot said: {bot:?}")
        }
    };
    if let Some(x) = &e.bot {
        if !bot.contains(&x.as_str()) {
            f.push(format!("expected the bot to say {x:?}; {}", said()));
        }
    }
    if let Some(x) = &e.bot_contains {
        if !bot.iter().any(|b| b.contains(x.as_str())) {
            f.push(format!(
                "expected a bot message containing {x:?}; {}",
                said()
            ));
        }
    }
    if let Some(x) = &e.bot_matches {
        match crate::expr::parse::compile_regex(x, "") {
            Ok(re) => {
                if !bot.iter().any(|b| re.is_match(b)) {
                    f.push(format!("expected a bot message matching /{x}/; {}", said()));
                }
            }
            Err(err) => f.push(format!("`bot_matches`: invalid pattern: {err}")),
        }
    }
    if e.silent == Some(true) && !bot.is_empty() {
        f.push(format!("expected the bot to stay silent; {}", said()));
    }
    if let Some(x) = &e.agent {
        let agent = bot_texts(out, Speaker::Agent);
        if !agent.contains(&x.as_str()) {
            f.push(format!(
                "expected the agent to say {x:?}; the agent said: {agent:?}"
            ));
        }
    }
    if let Some(x) = &e.system_contains {
        let sys = bot_texts(out, Speaker::System);
        if !sys.iter().any(|m| m.contains(x.as_str())) {
            f.push(format!(
                "expected a system notice containing {x:?}; notices: {sys:?}"
            ));
        }
    }
    if let Some(x) = &e.relayed {
        let relayed: Vec<&str> = out
            .iter()
            .filter_map(|o| match o {
                Output::RelayToAgent { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        if !relayed.contains(&x.as_str()) {
            f.push(format!(
                "expected {x:?} to be relayed to the agent; relayed: {relayed:?}"
            ));
        }
    }
    if let Some(x) = &e.node {
        if !out
            .iter()
            .any(|o| matches!(o, Output::NodeEntered { id } if id == x))
        {
            let fired: Vec<&str> = out
                .iter()
                .filter_map(|o| match o {
                    Output::NodeEntered { id } => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            f.push(format!("expected node `{x}` to fire; fired: {fired:?}"));
        }
    }
    if let Some(x) = &e.awaiting {
        if s.focus.as_deref() != Some(x.as_str()) {
            f.push(format!(
                "expected the bot to wait at `{x}`; it waits at {:?}",
                s.focus
            ));
        }
    }
    if let Some(x) = e.closed {
        let got: Vec<CloseStatus> = out
            .iter()
            .filter_map(|o| match o {
                Output::LiveChatClosed { status, .. } => Some(*status),
                _ => None,
            })
            .collect();
        if !got.contains(&x) {
            f.push(format!(
                "expected the live chat to close with `{}`; closes: {got:?}",
                x.as_str()
            ));
        }
    }
    if let Some(fields) = &e.handoff {
        let h = out.iter().find_map(|o| match o {
            Output::HandoffRequested { .. } => serde_json::to_value(o).ok(),
            _ => None,
        });
        match h {
            None => f.push("expected a hand-over request; there was none".into()),
            Some(h) => {
                for (path, want) in fields {
                    let got = get_path(&h, path);
                    if got != Some(want) {
                        f.push(format!(
                            "hand-over `{path}`: expected {want}, got {}",
                            got.map_or("nothing".into(), |g| g.to_string())
                        ));
                    }
                }
            }
        }
    }
    for (label, want, have) in [
        ("context", &e.context, &s.context),
        ("contact", &e.contact, &s.contact),
    ] {
        for (k, v) in want.iter().flatten() {
            let got = have.get(k);
            if got != Some(v) && !(v.is_null() && got.is_none()) {
                f.push(format!(
                    "{label} `{k}`: expected {v}, got {}",
                    got.map_or("nothing".into(), |g| g.to_string())
                ));
            }
        }
    }
    if let Some(code) = &e.error {
        if !out
            .iter()
            .any(|o| matches!(o, Output::Error { code: c, .. } if c == code))
        {
            f.push(format!("expected an error `{code}`"));
        }
    }
    f
}

/// Finds `*.test.json` files under `paths` (files named explicitly are taken as they are).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_file() {
            out.push(p.clone());
        } else {
            walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&p, out)?;
            }
        } else if name.ends_with(".test.json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Turns recorded events into a conversation test (what `fluxo chat`'s `/save` writes).
pub fn conversation_from_events(name: &str, start: Start, events: &[Event]) -> Conversation {
    let steps = events
        .iter()
        .filter_map(|e| {
            Some(match e {
                Event::User {
                    text,
                    intent,
                    entities,
                    confidence,
                } => {
                    let mut m = json!({ "user": text });
                    if let Some(i) = intent {
                        m["intent"] = json!(i);
                    }
                    if let Some(x) = entities {
                        m["entities"] = json!(x);
                    }
                    if let Some(c) = confidence {
                        m["confidence"] = json!(c);
                    }
                    m
                }
                Event::UserClose { .. } => json!({ "user_close": true }),
                Event::AgentJoin { name, .. } => json!({ "agent_join": name }),
                Event::AgentMessage { text } => json!({ "agent": text }),
                Event::AgentTransfer { to } => json!({ "agent_transfer": to }),
                Event::AgentClose { wrap_up } => json!({ "agent_close": wrap_up }),
                Event::ProviderOpened { remote_id, result } => {
                    let mut m = json!({ "provider_opened": remote_id });
                    if let Some(r) = result {
                        m["result"] = r.clone();
                    }
                    m
                }
                Event::ProviderError { message } => json!({ "provider_error": message }),
                Event::ProviderClosed { status, reason } => {
                    let mut m = json!({ "provider_closed": status });
                    if let Some(r) = reason {
                        m["reason"] = json!(r);
                    }
                    m
                }
                Event::ActionResult { id, result } => json!({ "action_result": result, "id": id }),
                Event::Advance { seconds } => json!({ "advance": seconds }),
                Event::Start { .. } => return None,
            })
        })
        .collect();
    Conversation {
        name: name.to_owned(),
        start: Some(start),
        mocks: Map::new(),
        clock: None,
        steps,
    }
}
