//! The runner behind `fluxo test`: each conversation on a fresh session, host actions answered
//! from the test's mocks, expectations checked, the transcript compared with its golden file.

use super::format::{Conversation, Expect, Step, TestFile};
use super::golden::{diff, split_golden, GoldenDiff};
use super::mocks::Mocks;
use crate::conversation::{Coverage, Dialog, Trace, View};
use crate::domain::{CloseStatus, Event, Output, Speaker};
use crate::engine::Bot;
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
    /// When the transcript differs from its golden section: that section, to show side by
    /// side with [`ConversationResult::transcript`].
    pub golden_diff: Option<Box<GoldenDiff>>,
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

/// What a test file runs against: a builder flow or a Watson workspace.
pub use crate::conversation::AnyDialog as Target;

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
    let target = match crate::conversation::load(&flow_path, integ.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            result.error = Some(e.detail().to_owned());
            return (result, None);
        }
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
        let mut r = run_conversation(&target, conv, file.clock.as_deref(), &mut result.coverage);
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
                        r.golden_diff = Some(Box::new(GoldenDiff {
                            golden: gp.clone(),
                            expected: expected.clone(),
                            first_line: *first_line,
                        }));
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

/// Loads a flow and its integrations (default: `integrations.json` beside the flow). A flow
/// that cannot run is refused with every blocking finding, one per line, with its position.
pub fn load(flow: &Path, integrations: Option<&Path>) -> Result<Bot, String> {
    crate::conversation::load_flow(flow, integrations).map_err(|e| e.detail().to_owned())
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

/// Runs one conversation on a fresh state of `dialog` (a flow, a workspace, or either),
/// recording coverage: host actions are answered from the conversation's mocks, or by the
/// `action_result` step that follows; `expect` steps check the outputs of the step before.
pub fn run_conversation<D: Dialog + ?Sized>(
    dialog: &D,
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
    let mut s = dialog.new_state("test");
    let start = conv.start.clone().unwrap_or_default();
    let mut trace = Trace::default();
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
    let first = start.event();
    let mut ctx = Feed {
        dialog,
        mocks: &mut mocks,
        r: &mut r,
        trace: &mut trace,
    };
    let mut last = ctx.feed(&mut s, first, now, answered_from(0));
    for (i, step) in steps.iter().enumerate() {
        match step {
            Err(e) => ctx.r.failures.push(format!("step {}: {e}", i + 1)),
            Ok(Step::Expect(e)) => {
                for f in check(e, &last, &dialog.view(&s)) {
                    ctx.r.failures.push(format!("step {} (expect): {f}", i + 1));
                }
            }
            Ok(Step::Event(ev)) => {
                let mut ev = ev.clone();
                // A step without `id` answers whatever action the conversation waits for.
                if let Event::ActionResult { id, .. } = &mut ev {
                    if id.is_empty() {
                        if let Some((waiting, _)) = dialog.view(&s).awaiting_action {
                            *id = waiting.to_owned();
                        }
                    }
                }
                now = ev.clock_after(now);
                last = ctx.feed(&mut s, ev, now, answered_from(i + 1));
            }
        }
    }
    trace.finish(cov);
    r
}

/// What feeding events needs besides the state.
struct Feed<'a, D: ?Sized> {
    dialog: &'a D,
    mocks: &'a mut Mocks,
    r: &'a mut ConversationResult,
    trace: &'a mut Trace,
}

impl<D: Dialog + ?Sized> Feed<'_, D> {
    /// Feeds an event, answers host actions from the mocks, appends to the transcript.
    /// `answered`: the next event step is an `action_result`, so an action left unanswered
    /// here is answered there.
    fn feed(&mut self, s: &mut D::State, ev: Event, now: i64, answered: bool) -> Vec<Output> {
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
            let out = self.dialog.handle(s, ev, now);
            self.dialog.trace(self.trace, &out);
            for o in out {
                self.r.transcript.push_str(&format!(
                    "  {}\n",
                    serde_json::to_string(&o).unwrap_or_default()
                ));
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
        ("context", &e.context, &*s.context),
        ("contact", &e.contact, &*s.contact),
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
