//! The runner behind `fluxo test`: each conversation on a fresh session, host actions answered
//! from the test's mocks, expectations checked, the transcript compared with its golden file.

use super::coverage::{Coverage, Tracker};
use super::format::{Conversation, Expect, Step, TestFile};
use super::golden::{diff, split_golden};
use super::mocks::Mocks;
use crate::domain::{CloseStatus, Event, Output, Speaker};
use crate::engine::{Bot, Session};
use crate::error::Error;
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// Not run: `--fail-fast` stopped the run before it started.
    pub not_run: bool,
    /// How long it took (wall clock).
    pub time: Duration,
}

impl ConversationResult {
    /// Ran, and nothing went wrong.
    pub fn passed(&self) -> bool {
        !self.not_run && self.failures.is_empty()
    }

    /// Ran, and something went wrong.
    pub fn failed(&self) -> bool {
        !self.not_run && !self.failures.is_empty()
    }
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
    /// With `--bless`: conversations whose expectations fail, so their transcript was not
    /// recorded (their old section, if any, was kept).
    pub bless_refused: Vec<String>,
    /// Conversations of the file that `filter` left out.
    pub deselected: usize,
    /// How long the whole file took (wall clock).
    pub time: Duration,
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Rewrite golden transcripts instead of comparing them (only for conversations whose
    /// expectations hold).
    pub bless: bool,
    /// Run only the conversations whose `file › name` contains this text (case-insensitive).
    pub filter: Option<String>,
    /// Shared stop flag (`--fail-fast`): set by the first failure; once set, no conversation
    /// starts, in this file or in any other run with the same flag.
    pub stop: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    /// The text `filter` is matched against: `file › conversation name`.
    pub fn selects(&self, file: &Path, conversation: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| {
            format!("{} › {conversation}", file.display())
                .to_lowercase()
                .contains(&f.to_lowercase())
        })
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    fn fail(&self) {
        if let Some(s) = &self.stop {
            s.store(true, Ordering::SeqCst);
        }
    }
}

/// What a test file runs against: a builder flow, or a Watson workspace.
pub enum Target {
    /// A builder flow.
    Flow(Box<Bot>),
    /// A Watson Assistant workspace.
    Watson(std::sync::Arc<crate::watson::Workspace>),
}

/// Runs one test file. Never panics on bad input: a file that cannot run reports why.
pub fn run_file(path: &Path, opts: RunOptions) -> (FileResult, Option<Target>) {
    let started = Instant::now();
    let (mut result, bot) = run_file_inner(path, &opts);
    result.time = started.elapsed();
    if result.error.is_some() || result.conversations.iter().any(|c| c.failed()) {
        opts.fail();
    }
    (result, bot)
}

fn run_file_inner(path: &Path, opts: &RunOptions) -> (FileResult, Option<Target>) {
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
    let selected: Vec<&Conversation> = file
        .conversations
        .iter()
        .filter(|c| opts.selects(path, &c.name))
        .collect();
    result.deselected = file.conversations.len() - selected.len();
    if selected.is_empty() && !file.conversations.is_empty() {
        // Nothing of this file is asked for: its flow is not even loaded.
        return (result, None);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let flow_path = dir.join(&file.flow);
    result.flow = flow_path.canonicalize().unwrap_or(flow_path.clone());
    let integ = file.integrations.as_ref().map(|i| dir.join(i));
    let target = match crate::watson::Workspace::load(&flow_path) {
        Some(Ok(ws)) => Target::Watson(std::sync::Arc::new(ws)),
        Some(Err(e)) => {
            result.error = Some(e);
            return (result, None);
        }
        None => match load(&flow_path, integ.as_deref()) {
            Ok(b) => Target::Flow(Box::new(b)),
            Err(e) => {
                result.error = Some(e);
                return (result, None);
            }
        },
    };
    let golden_path = file.golden.as_ref().map(|g| dir.join(g));
    let golden = golden_path
        .as_ref()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default());
    let sections = golden.as_deref().map(split_golden).unwrap_or_default();
    let mut names = BTreeSet::new();
    for conv in selected {
        if opts.stopped() {
            result.conversations.push(ConversationResult {
                name: conv.name.clone(),
                not_run: true,
                ..Default::default()
            });
            continue;
        }
        let started = Instant::now();
        let mut r = match &target {
            Target::Flow(bot) => {
                run_conversation(bot, conv, file.clock.as_deref(), &mut result.coverage)
            }
            Target::Watson(ws) => {
                run_watson_conversation(ws, conv, file.clock.as_deref(), &mut result.coverage)
            }
        };
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
        r.time = started.elapsed();
        if r.failed() {
            opts.fail();
        }
        result.conversations.push(r);
    }
    if let (Some(gp), true) = (&golden_path, opts.bless) {
        // Only a conversation whose expectations hold is recorded: a failing one keeps its old
        // section (a transcript of wrong behaviour must never become the reference). Sections
        // of conversations not run (filtered out, or stopped) are kept as they are.
        let mut parts = Vec::new();
        for conv in &file.conversations {
            let ran = result.conversations.iter().find(|c| c.name == conv.name);
            match ran {
                Some(c) if c.passed() => parts.push(format!("=== {}\n{}", c.name, c.transcript)),
                other => {
                    if other.is_some_and(ConversationResult::failed) {
                        result.bless_refused.push(conv.name.clone());
                    }
                    if let Some((old, _)) = sections.get(&conv.name) {
                        parts.push(format!("=== {}\n{old}", conv.name));
                    }
                }
            }
        }
        let text = parts.join("\n");
        if golden.as_deref() != Some(text.as_str()) {
            match std::fs::write(gp, &text) {
                Ok(()) => result.blessed = true,
                Err(e) => result.error = Some(format!("{}: {e}", gp.display())),
            }
        }
    }
    (result, Some(target))
}

/// Runs one conversation against a Watson workspace: `user` steps are `/message` turns
/// (with the step's `intent` and `entities` when it gives them, else the offline NLU's),
/// `action_result` answers a client action, `advance` moves the clock. Coverage counts the
/// nodes visited and the `jump_to` edges taken.
pub fn run_watson_conversation(
    ws: &crate::watson::Workspace,
    conv: &Conversation,
    file_clock: Option<&str>,
    cov: &mut Coverage,
) -> ConversationResult {
    let (mut r, mut now) = match begin(conv, file_clock) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut session = crate::watson::WatsonSession::new("test");
    let start = conv.start.clone().unwrap_or_default();
    let feed = |session: &mut crate::watson::WatsonSession,
                r: &mut ConversationResult,
                cov: &mut Coverage,
                ev: Event,
                now: i64| {
        r.transcript.push_str(&format!(
            "> {}\n",
            serde_json::to_string(&ev).unwrap_or_default()
        ));
        let out = session.handle(ws, ev, now);
        let mut prev: Option<&str> = None;
        for o in &out {
            r.transcript.push_str(&format!(
                "  {}\n",
                serde_json::to_string(o).unwrap_or_default()
            ));
            if let Output::NodeEntered { id } = o {
                cov.nodes.insert(id.clone());
                if let Some(p) = prev.filter(|p| ws.jumps_to(p, id)) {
                    cov.edges.insert(format!("{p} -> {id}"));
                }
                prev = Some(id);
            }
        }
        out
    };
    let first = Event::Start {
        channel: start.channel,
        context: start.context,
        contact: start.contact,
    };
    let mut last = feed(&mut session, &mut r, cov, first, now);
    let empty = Json::Object(serde_json::Map::new());
    for (i, step) in conv.steps.iter().enumerate() {
        match Step::parse(step) {
            Err(e) => r.failures.push(format!("step {}: {e}", i + 1)),
            Ok(Step::Expect(e)) => {
                let mut context = session.context.clone();
                if let Some(c) = context.as_object_mut() {
                    c.remove("system");
                }
                let focus = session
                    .context
                    .pointer("/system/dialog_stack")
                    .and_then(Json::as_array)
                    .and_then(|s| s.last())
                    .and_then(|t| t.get("dialog_node"))
                    .and_then(Json::as_str)
                    .map(str::to_owned);
                let view = View {
                    focus: focus.as_deref(),
                    context: &context,
                    contact: &empty,
                };
                for f in check(&e, &last, &view) {
                    r.failures.push(format!("step {} (expect): {f}", i + 1));
                }
            }
            Ok(Step::Event(ev)) => {
                now = ev.clock_after(now);
                last = feed(&mut session, &mut r, cov, ev, now);
            }
        }
    }
    r
}

/// Loads a flow and its integrations (default: `integrations.json` beside the flow). A flow
/// that cannot run is refused with every blocking finding, one per line, with its position.
pub fn load(flow: &Path, integrations: Option<&Path>) -> Result<Bot, String> {
    Bot::from_files(flow, integrations).map_err(|e| explain(&e))
}

/// An error with each of its findings on a line of its own.
pub(crate) fn explain(e: &Error) -> String {
    let mut msg = e.detail().to_owned();
    for f in e.findings() {
        msg.push_str(&format!(
            "\n  {}:{}:{}: {} [{}]",
            f.file, f.line, f.column, f.message, f.code
        ));
    }
    msg
}

/// A conversation's result, still empty, and its clock; or its result when the clock is
/// unreadable.
fn begin(
    conv: &Conversation,
    file_clock: Option<&str>,
) -> Result<(ConversationResult, i64), ConversationResult> {
    let mut r = ConversationResult {
        name: conv.name.clone(),
        ..Default::default()
    };
    match clock_ms(conv.clock.as_deref().or(file_clock)) {
        Ok(n) => Ok((r, n)),
        Err(e) => {
            r.failures.push(e);
            Err(r)
        }
    }
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
    let (mut r, mut now) = match begin(conv, file_clock) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut mocks = match Mocks::read(&conv.mocks) {
        Ok(m) => m,
        Err(e) => {
            r.failures.push(e);
            return r;
        }
    };
    let mut s = bot.new_session("test");
    let start = conv.start.clone().unwrap_or_default();
    let mut tracker = Tracker::default();
    let steps: Vec<Result<Step, String>> = conv.steps.iter().map(Step::parse).collect();
    // An action no mock answers is fine when the next event step answers it (`action_result`,
    // as `fluxo chat`'s `/result` records it).
    let answered_from = |i: usize| {
        steps
            .iter()
            .skip(i)
            .find(|s| !matches!(s, Ok(Step::Expect(_))))
            .is_some_and(|s| matches!(s, Ok(Step::Event(Event::ActionResult { .. }))))
    };
    let first = Event::Start {
        channel: start.channel,
        context: start.context,
        contact: start.contact,
    };
    let mut ctx = Feed {
        bot,
        mocks: &mut mocks,
        r: &mut r,
        t: &mut tracker,
    };
    let mut last = ctx.feed(&mut s, first, now, answered_from(0));
    for (i, step) in steps.iter().enumerate() {
        match step {
            Err(e) => ctx.r.failures.push(format!("step {}: {e}", i + 1)),
            Ok(Step::Expect(e)) => {
                for f in check(e, &last, &View::of(&s)) {
                    ctx.r.failures.push(format!("step {} (expect): {f}", i + 1));
                }
            }
            Ok(Step::Event(ev)) => {
                let mut ev = ev.clone();
                // A step without `id` answers whatever action the bot waits for.
                if let Event::ActionResult { id, .. } = &mut ev {
                    if id.is_empty() {
                        if let Some((waiting, _)) = s.awaiting_action() {
                            *id = waiting.to_owned();
                        }
                    }
                }
                now = ev.clock_after(now);
                last = ctx.feed(&mut s, ev, now, answered_from(i + 1));
            }
        }
    }
    tracker.into(cov);
    r
}

/// What feeding events needs besides the session.
struct Feed<'a> {
    bot: &'a Bot,
    mocks: &'a mut Mocks,
    r: &'a mut ConversationResult,
    t: &'a mut Tracker,
}

impl Feed<'_> {
    /// Feeds an event, answers host actions from the mocks, appends to the transcript.
    /// `answered`: the next event step is an `action_result`, so an action left unanswered
    /// here is answered there.
    fn feed(&mut self, s: &mut Session, ev: Event, now: i64, answered: bool) -> Vec<Output> {
        let mut pending = vec![ev];
        let mut all = Vec::new();
        // Each mock answer may trigger another action; bounded so a flow that loops on an
        // action cannot hang the run.
        for _ in 0..64 {
            let Some(ev) = pending.pop() else { break };
            self.r.transcript.push_str(&format!(
                "> {}\n",
                serde_json::to_string(&ev).unwrap_or_default()
            ));
            for o in self.bot.handle(s, ev, now) {
                self.r.transcript.push_str(&format!(
                    "  {}\n",
                    serde_json::to_string(&o).unwrap_or_default()
                ));
                self.t.see(self.bot, &o);
                if let Output::ActionRequested {
                    id,
                    name,
                    parameters,
                } = &o
                {
                    match self.mocks.answer(name, parameters) {
                        Ok(Some(result)) => pending.push(Event::ActionResult {
                            id: id.clone(),
                            result,
                        }),
                        Ok(None) if answered => {}
                        Ok(None) => self.r.failures.push(format!(
                            "the flow asked the host to run `{name}`, and the test has no mock for it (add it to `mocks`, or an `action_result` step right after)"
                        )),
                        Err(e) => self.r.failures.push(e),
                    }
                }
                all.push(o);
            }
        }
        all
    }
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

/// What an expectation reads of a conversation besides its outputs.
struct View<'a> {
    focus: Option<&'a str>,
    context: &'a Json,
    contact: &'a Json,
}

impl<'a> View<'a> {
    fn of(s: &'a Session) -> View<'a> {
        View {
            focus: s.focus.as_deref(),
            context: &s.context,
            contact: &s.contact,
        }
    }
}

/// Checks an expectation; returns what did not hold.
fn check(e: &Expect, out: &[Output], s: &View<'_>) -> Vec<String> {
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
    if let Some(x) = &e.bot_never {
        if let Some(b) = bot.iter().find(|b| b.contains(x.as_str())) {
            f.push(format!(
                "expected no bot message containing {x:?}; the bot said {b:?}"
            ));
        }
    }
    if let Some(x) = &e.bot_matches {
        match crate::expr::compile_regex(x, "") {
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
        if s.focus != Some(x.as_str()) {
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
        ("context", &e.context, s.context),
        ("contact", &e.contact, s.contact),
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
            .any(|o| matches!(o, Output::Error { code: c, .. } if c.code() == code))
        {
            f.push(format!("expected an error `{code}`"));
        }
    }
    f
}
