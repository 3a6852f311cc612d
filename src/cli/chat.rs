//! `fluxo chat`: talk to a flow in the terminal, and play the agent and the clock with slash
//! commands.

use clap::Args;
use fluxo::engine::{Bot, Event, Output, Session, Speaker};
use fluxo::testing::{conversation_from_events, Start, TestFile};
use rustyline::error::ReadlineError;
use serde_json::Value as Json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `fluxo chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Flow, integrations, channel, context, clock.
    #[command(flatten)]
    pub target: super::run::FlowArgs,
    /// Talk to the real providers of the integrations file: the provider plays the agent.
    #[arg(long)]
    pub live: bool,
    /// With --live: serve provider webhooks on this address.
    #[arg(long, value_name = "ADDR", requires = "live")]
    pub listen: Option<std::net::SocketAddr>,
    /// The contact of the `start` event, as a JSON object (e.g. `{"name": "Maria"}`).
    #[arg(long, value_name = "JSON")]
    pub contact: Option<String>,
}

const HELP: &str = "\
You are the customer: type a message and press Enter. Slash commands play the other side:
  /agent join NAME        an agent accepts the chat
  /agent say TEXT         the agent writes to the customer
  /agent transfer TO      the agent moves the chat to another queue or agent
  /agent close [WRAP]     the agent ends the chat
  /user close             the customer ends the chat
  /provider opened ID     the provider accepts the hand-over
  /provider error MSG     the provider fails
  /result JSON            the result of the action the bot is waiting for
  /request                the full wire request of the last hand-over
  /advance 5m             move the clock (s, m, h, d)
  /state                  context, contact, focus node, live chat and timers
  /reset                  start the conversation again
  /save FILE              save this conversation as a test (FILE.test.json + transcript);
                          an existing FILE gets it appended, never overwritten
  /help                   this text
  /quit                   leave (Ctrl-D too; Ctrl-C asks first)
When the bot offers options, they are numbered: type the number to pick one.";

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

struct Chat {
    bot: Bot,
    session: Session,
    now: i64,
    clock0: i64,
    start: Start,
    events: Vec<Event>,
    flow: PathBuf,
    style: Style,
    /// The options the bot offers now (typing their number picks one).
    options: Vec<String>,
    /// The wire request of the last hand-over, for `/request`.
    last_request: Option<Json>,
}

pub(crate) fn run(args: ChatArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    if let Some(ws) = fluxo::watson::Workspace::load(&args.target.flow) {
        return match ws {
            Ok(ws) => watson_chat(&ws, &args),
            Err(e) => fail(e),
        };
    }
    let bot = match super::run::load_bot(&args.target.flow, args.target.integrations.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let now = match super::run::clock(args.target.clock.as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let context = match super::run::context_arg(args.target.context.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let contact = match args.contact.as_deref().map(|c| {
        serde_json::from_str::<serde_json::Map<String, Json>>(c)
            .map_err(|e| format!("--contact: not a JSON object ({e})"))
    }) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return fail(e),
    };
    let style = Style {
        on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    if args.live {
        return live_chat(
            bot,
            style,
            ChatStart {
                channel: args.target.channel,
                context,
            },
            args.listen,
        );
    }
    let session = bot.new_session("fluxo-chat");
    let mut chat = Chat {
        bot,
        session,
        now,
        clock0: now,
        start: Start {
            channel: args.target.channel,
            context,
            contact,
        },
        events: Vec::new(),
        flow: args.target.flow,
        style,
        options: Vec::new(),
        last_request: None,
    };
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot open the terminal: {e}")),
    };
    outln!(
        "{}",
        chat.style
            .paint("2", "fluxo chat — /help for commands, Ctrl-D to leave")
    );
    chat.reset();
    // Ctrl-C once asks; twice in a row leaves (an unsaved conversation is easy to lose).
    let mut interrupted = false;
    loop {
        let line = match rl.readline("você> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) if !interrupted => {
                interrupted = true;
                outln!(
                    "{}",
                    chat.style.paint(
                        "33",
                        "leave? Ctrl-C again leaves without saving (/save FILE keeps this conversation; Ctrl-D leaves too)"
                    )
                );
                continue;
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return fail(e.to_string()),
        };
        interrupted = false;
        let line = line.trim().to_owned();
        if line.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        if line == "/quit" || line == "/exit" {
            break;
        }
        match chat.command(&line) {
            Ok(Some(event)) => {
                let note = feedback(&event);
                chat.feed(event);
                if let Some(n) = note {
                    outln!("{}", chat.style.paint("1;35", &n));
                }
            }
            Ok(None) => {}
            Err(e) => outln!("{}", chat.style.paint("31", &format!("error: {e}"))),
        }
    }
    ExitCode::SUCCESS
}

impl Chat {
    fn reset(&mut self) {
        self.session = self.bot.new_session("fluxo-chat");
        self.events.clear();
        self.options.clear();
        self.last_request = None;
        self.now = self.clock0;
        let s = &self.start;
        self.feed(Event::Start {
            channel: s.channel.clone(),
            context: s.context.clone(),
            contact: s.contact.clone(),
        });
    }

    fn feed(&mut self, e: Event) {
        self.now = e.clock_after(self.now);
        let out = self.bot.handle(&mut self.session, e.clone(), self.now);
        self.events.push(e);
        let mut options = Vec::new();
        for o in &out {
            if let Some(line) = self.show(o) {
                outln!("{line}");
            }
            match o {
                Output::HandoffRequested { request, .. } => {
                    self.last_request = serde_json::to_value(request).ok();
                    outln!(
                        "{}",
                        self.style
                            .paint("2", "  (/request prints the full request)")
                    );
                }
                Output::Message {
                    from: Speaker::Bot,
                    message: Some(m),
                    ..
                } => {
                    let found = m
                        .get("options")
                        .or_else(|| m.get("replies"))
                        .or_else(|| m.get("payload").and_then(|p| p.get("options")))
                        .map(option_titles)
                        .unwrap_or_default();
                    if !found.is_empty() {
                        options = found;
                    }
                }
                _ => {}
            }
        }
        if out
            .iter()
            .any(|o| matches!(o, Output::AwaitingInput { .. }))
        {
            if let Some(payload) = self.bot.awaited_input(&self.session, self.now) {
                let found = payload
                    .get("options")
                    .or_else(|| payload.get("replies"))
                    .map(option_titles)
                    .unwrap_or_default();
                if !found.is_empty() {
                    options = found;
                }
                if let Some(mask) = payload.get("mask").and_then(Json::as_str) {
                    outln!(
                        "{}",
                        self.style.paint("2", &format!("  (input mask: {mask})"))
                    );
                }
            }
        }
        for (i, o) in options.iter().enumerate() {
            outln!("  {}) {o}", i + 1);
        }
        self.options = options;
    }

    fn show(&self, o: &Output) -> Option<String> {
        show(&self.style, o)
    }
}

/// How an output looks in the terminal (`None`: not shown).
fn show(style: &Style, o: &Output) -> Option<String> {
    {
        let p = |c: &str, s: &str| style.paint(c, s);
        Some(match o {
            Output::Message { from: Speaker::Bot, text: Some(t), .. } => format!("{} {t}", p("1;36", "bot:")),
            Output::Message { from: Speaker::Bot, message: Some(m), .. } => format!("{} {}", p("1;36", "bot:"), serde_json::to_string(m).unwrap_or_default()),
            Output::Message { from: Speaker::Agent, text, agent, .. } => {
                format!("{} {}", p("1;32", &format!("agent {}:", agent.as_deref().unwrap_or(""))), text.as_deref().unwrap_or(""))
            }
            Output::Message { from: Speaker::System, text, .. } => format!("{} {}", p("1;33", "system:"), text.as_deref().unwrap_or("")),
            Output::Message { .. } => return None,
            Output::RelayToAgent { text } => p("2", &format!("  → to the agent: {text}")),
            Output::HandoffRequested { integration_id, provider, request, .. } => p(
                "1;35",
                &format!("[hand-over → {provider} (integration {integration_id})] {} {}", request.method.as_str(), request.url),
            ),
            Output::RepresentativeJoined { name, .. } => p("1;35", &format!("[{name} joined the chat]")),
            Output::RepresentativeLeft { name, .. } => p("1;35", &format!("[{name} left the chat]")),
            Output::LiveChatClosed { status, reason } => p(
                "1;35",
                &format!("[live chat closed: {}{}]", status.as_str(), reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default()),
            ),
            Output::CloseProviderConversation { .. } => p("2", "  (the provider's conversation is closed)"),
            Output::ActionRequested { id, name, parameters } => p(
                "1;35",
                &format!("[the bot waits for action `{name}` ({id}): {parameters}] answer with /result JSON"),
            ),
            Output::EventEmitted { event_name, .. } => p("2", &format!("  (event {event_name})")),
            Output::Error { code, message, .. } => p("31", &format!("error[{code}]: {message}")),
            _ => return None,
        })
    }
}

impl Chat {
    fn command(&mut self, line: &str) -> Result<Option<Event>, String> {
        let Some(cmd) = line.strip_prefix('/') else {
            // A number picks one of the options on offer.
            let picked = line
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.options.get(i))
                .cloned();
            if let Some(title) = &picked {
                outln!("{}", self.style.paint("2", &format!("  → {title}")));
            }
            return Ok(Some(Event::User {
                text: picked.unwrap_or_else(|| line.to_owned()),
                intent: None,
                entities: None,
                confidence: None,
            }));
        };
        let (word, rest) = cmd
            .split_once(' ')
            .map_or((cmd, ""), |(a, b)| (a, b.trim()));
        let (sub, arg) = rest
            .split_once(' ')
            .map_or((rest, ""), |(a, b)| (a, b.trim()));
        let need = |what: &str| {
            if arg.is_empty() {
                Err(format!("/{word} {sub} needs {what}"))
            } else {
                Ok(arg.to_owned())
            }
        };
        Ok(Some(match (word, sub) {
            ("agent", "join") => Event::AgentJoin {
                name: need("a name")?,
                avatar: None,
                representative_type: None,
            },
            ("agent", "say") => Event::AgentMessage {
                text: need("a text")?,
                content: None,
            },
            ("agent", "transfer") => Event::AgentTransfer {
                to: need("a queue or agent")?,
            },
            ("agent", "close") => Event::AgentClose {
                wrap_up: (!arg.is_empty()).then(|| arg.to_owned()),
            },
            ("user", "close") => Event::UserClose { reason: None },
            ("provider", "opened") => Event::ProviderOpened {
                remote_id: need("the provider's conversation id")?,
                result: None,
            },
            ("provider", "error") => Event::ProviderError {
                message: need("a message")?,
            },
            ("result", _) => {
                let id = self
                    .session
                    .awaiting_action()
                    .map(|(id, _)| id.to_owned())
                    .ok_or("the bot is not waiting for an action")?;
                let result: Json =
                    serde_json::from_str(rest).map_err(|e| format!("/result takes JSON: {e}"))?;
                Event::ActionResult { id, result }
            }
            ("advance", _) => Event::Advance {
                seconds: fluxo::testing::parse_duration(&Json::String(rest.to_owned()))?,
            },
            ("request", _) => {
                match &self.last_request {
                    Some(r) => outln!("{}", serde_json::to_string_pretty(r).unwrap_or_default()),
                    None => outln!("no hand-over yet"),
                }
                return Ok(None);
            }
            ("state", _) => {
                self.state();
                return Ok(None);
            }
            ("reset", _) => {
                self.reset();
                return Ok(None);
            }
            ("save", _) if !rest.is_empty() => {
                let (path, appended) = self.save(Path::new(rest))?;
                let what = match appended {
                    Some(n) => format!("appended conversation {n} to {}", path.display()),
                    None => format!("saved {}", path.display()),
                };
                outln!(
                    "{}",
                    self.style.paint(
                        "2",
                        &format!("{what}; run it with `fluxo test {}`", path.display())
                    )
                );
                return Ok(None);
            }
            ("help", _) => {
                outln!("{HELP}");
                return Ok(None);
            }
            _ => return Err(format!("unknown command `{line}`; /help lists them")),
        }))
    }

    fn state(&self) {
        let s = &self.session;
        let secs = |t: Option<i64>| {
            t.map(|t| format!("in {} s", (t - self.now) / 1000))
                .unwrap_or_else(|| "off".into())
        };
        outln!("context: {}", s.context());
        outln!("contact: {}", s.contact());
        outln!("focus:   {}", s.focus().unwrap_or("(none)"));
        match s.live_chat() {
            Some(c) => outln!(
                "live chat: {:?} on {} (integration {}), agents {:?}, wait timeout {}, inactivity timeout {}",
                c.phase(),
                c.provider().as_str(),
                c.integration_id(),
                c.agents(),
                secs(c.wait_deadline()),
                secs(c.inactivity_deadline())
            ),
            None => outln!("live chat: none"),
        }
        if let Some((id, name)) = s.awaiting_action() {
            outln!("waiting for action `{name}` ({id})");
        }
        let clock = jiff::Timestamp::from_millisecond(self.now)
            .map(|t| t.to_string())
            .unwrap_or_default();
        outln!("clock:   {clock}");
    }

    /// Writes `FILE` (a `.test.json` is added when missing) and its golden transcript. An
    /// existing FILE is never overwritten: the conversation is appended to it, under a name no
    /// other conversation of the file has (returned: its number in the file).
    fn save(&self, file: &Path) -> Result<(PathBuf, Option<usize>), String> {
        let mut path = file.to_path_buf();
        if !path.to_string_lossy().ends_with(".test.json") {
            path = PathBuf::from(format!("{}.test.json", path.display()));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let stem = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches(".test.json")
                    .to_owned()
            })
            .unwrap_or_default();
        let clock = jiff::Timestamp::from_millisecond(self.clock0)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())?;
        // Answers given with /result replay as `action_result` steps: action ids are
        // deterministic, so the saved test needs no mocks.
        let mut conv = conversation_from_events(
            &format!("saved from fluxo chat: {stem}"),
            self.start.clone(),
            self.events.get(1..).unwrap_or_default(),
        );
        let (test, appended) = if path.exists() {
            let mut test = self.existing(&path, dir)?;
            let taken = |n: &str| test.conversations.iter().any(|c| c.name == n);
            let base = conv.name.clone();
            let mut k = 2;
            while taken(&conv.name) {
                conv.name = format!("{base} ({k})");
                k += 1;
            }
            if test.clock.as_deref() != Some(clock.as_str()) {
                conv.clock = Some(clock);
            }
            test.conversations.push(conv);
            let n = test.conversations.len();
            (test, Some(n))
        } else {
            let test = TestFile {
                schema: None,
                flow: relative(&self.flow, dir),
                integrations: None,
                clock: Some(clock),
                golden: Some(format!("{stem}.transcript")),
                conversations: vec![conv],
            };
            (test, None)
        };
        let text = serde_json::to_string_pretty(&test).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        let (r, _) = fluxo::testing::run_file(
            &path,
            fluxo::testing::RunOptions {
                bless: true,
                ..Default::default()
            },
        );
        if let Some(e) = r.error {
            return Err(e);
        }
        // Said now rather than at the next `fluxo test`: the conversation was saved, but it
        // does not replay as it went (e.g. it ends while the bot waits for an action result).
        if let Some(f) = r
            .conversations
            .last()
            .and_then(|c| c.failures.first())
            .and_then(|f| f.lines().next())
        {
            outln!(
                "{}",
                self.style.paint(
                    "33",
                    &format!("warning: the saved conversation fails when replayed: {f}")
                )
            );
        }
        Ok((path, appended))
    }

    /// An existing test file to append to: it must be a test of the flow being chatted with.
    fn existing(&self, path: &Path, dir: &Path) -> Result<TestFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let test = serde_json::from_str::<Json>(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| TestFile::from_value(&v))
            .map_err(|e| {
                format!(
                    "{} exists and is not a conversation test ({e}); it was left as it is, choose another name",
                    path.display()
                )
            })?;
        let theirs = dir.join(&test.flow).canonicalize().ok();
        if theirs.is_none() || theirs != self.flow.canonicalize().ok() {
            return Err(format!(
                "{} tests another flow (`{}`); it was left as it is, choose another name",
                path.display(),
                test.flow
            ));
        }
        Ok(test)
    }
}

/// The titles of a list of options (strings, or objects with `title`, `label`, `text` or
/// `value`).
fn option_titles(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| match o {
            Json::String(s) => Some(s.clone()),
            Json::Object(m) => ["title", "label", "text", "value"]
                .iter()
                .find_map(|k| m.get(*k))
                .map(|t| match t {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                }),
            _ => None,
        })
        .collect()
}

/// A line that confirms what a slash command did, when the bot itself may say nothing.
fn feedback(e: &Event) -> Option<String> {
    match e {
        Event::ProviderOpened { remote_id, .. } => Some(format!(
            "[the provider accepted the hand-over: its conversation is {remote_id}]"
        )),
        Event::AgentTransfer { to } => Some(format!("[the agent transferred the chat to {to}]")),
        _ => None,
    }
}

/// `target` relative to `dir` when both resolve (else `target` made absolute).
fn relative(target: &Path, dir: &Path) -> String {
    let (Ok(t), Ok(d)) = (target.canonicalize(), dir.canonicalize()) else {
        return target.display().to_string();
    };
    let tc: Vec<_> = t.components().collect();
    let dc: Vec<_> = d.components().collect();
    let common = tc.iter().zip(&dc).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), dc.len() - common).collect();
    parts.extend(
        tc[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// The `start` fields of a live chat.
#[cfg_attr(not(feature = "drivers"), allow(dead_code))]
struct ChatStart {
    channel: Option<String>,
    context: Option<serde_json::Map<String, Json>>,
}

/// `fluxo chat --live`: the customer types here; the provider's agent answers through webhooks.
#[cfg(feature = "drivers")]
fn live_chat(
    bot: Bot,
    style: Style,
    start: ChatStart,
    listen: Option<std::net::SocketAddr>,
) -> ExitCode {
    let Ok(tokio) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("error: cannot start the async runtime");
        return ExitCode::from(2);
    };
    let style = std::sync::Arc::new(style);
    let shown = style.clone();
    let started = tokio.block_on(super::live::start(bot, listen, move |o| {
        if let Some(line) = show(&shown, o) {
            outln!("{line}");
        }
    }));
    let (rt, _printer) = match started {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let id = "fluxo-chat";
    tokio.block_on(rt.event(
        id,
        Event::Start {
            channel: start.channel,
            context: start.context,
            contact: None,
        },
    ));
    let Ok(mut rl) = rustyline::DefaultEditor::new() else {
        return ExitCode::from(2);
    };
    outln!(
        "{}",
        style.paint(
            "2",
            "fluxo chat --live — the provider plays the agent; /user close, /state, /quit"
        )
    );
    while let Ok(line) = rl.readline("você> ") {
        let line = line.trim().to_owned();
        if line.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        let event = match line.as_str() {
            "/quit" | "/exit" => break,
            "/user close" => Event::UserClose { reason: None },
            "/state" => {
                if let Some(s) = tokio.block_on(rt.session(id)) {
                    outln!(
                        "context: {}\nfocus: {}\nlive chat: {}",
                        s.context(),
                        s.focus().unwrap_or("(none)"),
                        s.live_chat().map_or("none".into(), |c| format!(
                            "{:?} on {}",
                            c.phase(),
                            c.provider().as_str()
                        ))
                    );
                }
                continue;
            }
            l if l.starts_with('/') => {
                outln!("{}", style.paint("31", "error: with --live the provider plays the agent and the clock is real; use /user close, /state, /quit"));
                continue;
            }
            text => Event::User {
                text: text.to_owned(),
                intent: None,
                entities: None,
                confidence: None,
            },
        };
        tokio.block_on(rt.event(id, event));
    }
    tokio.block_on(super::live::close_on_exit(&rt, id));
    ExitCode::SUCCESS
}

#[cfg(not(feature = "drivers"))]
fn live_chat(_: Bot, _: Style, _: ChatStart, _: Option<std::net::SocketAddr>) -> ExitCode {
    eprintln!("error: --live needs fluxo built with the `drivers` feature");
    ExitCode::from(2)
}

/// `fluxo chat` on a Watson workspace: each line is one `/message` turn; the offline NLU
/// reads it unless it starts with `#intent` (then that intent, at confidence 1).
fn watson_chat(ws: &fluxo::watson::Workspace, args: &ChatArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let (mut now, context) = match super::run::watson_start(&args.target, args.live) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let style = Style {
        on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let start = || Event::Start {
        channel: None,
        context: context.clone(),
        contact: None,
    };
    let mut session = fluxo::watson::WatsonSession::new("fluxo-chat");
    let mut options: Vec<String> = Vec::new();
    let show = |outputs: Vec<Output>, options: &mut Vec<String>| {
        options.clear();
        for o in outputs {
            match o {
                Output::Message { text: Some(t), .. } => {
                    outln!("{} {t}", style.paint("1;36", "bot:"));
                }
                Output::Message {
                    message: Some(m), ..
                } => {
                    if let Some(title) = m.get("title").and_then(Json::as_str) {
                        outln!("{} {title}", style.paint("1;36", "bot:"));
                    }
                    for o in m
                        .get("options")
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let label = o.get("label").and_then(Json::as_str).unwrap_or("?");
                        let text = o
                            .pointer("/value/input/text")
                            .and_then(Json::as_str)
                            .unwrap_or(label);
                        options.push(text.to_owned());
                        outln!("  {}. {label}", options.len());
                    }
                    if let Some(src) = m.get("source").and_then(Json::as_str) {
                        outln!("{} [{src}]", style.paint("1;36", "bot:"));
                    }
                }
                Output::ActionRequested {
                    name, parameters, ..
                } => outln!(
                    "{}",
                    style.paint(
                        "2",
                        &format!("[action {name} {parameters}; answer with /result JSON]")
                    )
                ),
                Output::Error { message, .. } => {
                    outln!("{}", style.paint("31", &format!("log: {message}")));
                }
                _ => {}
            }
        }
    };
    show(session.handle(ws, start(), now), &mut options);
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot read the terminal: {e}")),
    };
    loop {
        let line = match rl.readline("você> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                outln!("(Ctrl-C: type /quit or press Ctrl-D to leave)");
                continue;
            }
            Err(_) => break,
        };
        let line = line.trim().to_owned();
        if line.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        let event = match line.as_str() {
            "/quit" | "/exit" => break,
            "/help" => {
                outln!("Type what the user says. `#intent text` sends that intent with the text; a number picks an offered option.\n  /state     the context (the dialog's whole state)\n  /result J  the result of the client action the dialog waits for\n  /advance 5m move the clock\n  /reset     start again\n  /quit      leave");
                continue;
            }
            "/state" => {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&session.context).unwrap_or_default()
                );
                continue;
            }
            "/reset" => {
                session = fluxo::watson::WatsonSession::new("fluxo-chat");
                show(session.handle(ws, start(), now), &mut options);
                continue;
            }
            l if l.starts_with("/result ") => match serde_json::from_str(&l["/result ".len()..]) {
                Ok(result) => Event::ActionResult {
                    id: String::new(),
                    result,
                },
                Err(e) => {
                    outln!(
                        "{}",
                        style.paint("31", &format!("error: /result takes JSON ({e})"))
                    );
                    continue;
                }
            },
            l if l.starts_with("/advance ") => match fluxo::testing::parse_duration(&Json::String(
                l["/advance ".len()..].trim().to_owned(),
            )) {
                Ok(secs) => {
                    now = now.saturating_add(
                        i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000),
                    );
                    continue;
                }
                Err(_) => {
                    outln!(
                        "{}",
                        style.paint("31", "error: /advance takes a duration such as 90s, 5m, 1h")
                    );
                    continue;
                }
            },
            l if l.starts_with('/') => {
                outln!(
                    "{}",
                    style.paint("31", "error: unknown command; /help lists them")
                );
                continue;
            }
            text => {
                let picked = text
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|n| options.get(n).cloned());
                let text = picked.unwrap_or_else(|| text.to_owned());
                match text.strip_prefix('#') {
                    Some(rest) => {
                        let (intent, said) = rest.split_once(' ').unwrap_or((rest, ""));
                        Event::User {
                            text: said.to_owned(),
                            intent: Some(intent.to_owned()),
                            entities: None,
                            confidence: Some(1.0),
                        }
                    }
                    None => Event::User {
                        text,
                        intent: None,
                        entities: None,
                        confidence: None,
                    },
                }
            }
        };
        show(session.handle(ws, event, now), &mut options);
    }
    ExitCode::SUCCESS
}
