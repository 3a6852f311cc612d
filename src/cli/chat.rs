//! `fluxo chat`: talk to a flow or a Watson workspace in the terminal, and play the agent and
//! the clock with slash commands. A thin front end over [`fluxo::playground`]: this file reads
//! the keyboard and paints what the playground says to show.

use clap::Args;
use fluxo::engine::{Bot, Event, Output, Speaker};
use fluxo::playground::{Choice, Playground, Setup, Shown, Snapshot};
use fluxo::testing::Start;
use rustyline::error::ReadlineError;
use serde_json::Value as Json;
use std::io::IsTerminal;
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

pub(crate) fn run(args: ChatArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let dialog = match super::run::load(&args.target) {
        Ok(d) => d,
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
        return match super::run::live_bot(dialog) {
            Ok(bot) => live_chat(
                bot,
                style,
                ChatStart {
                    channel: args.target.channel,
                    context,
                },
                args.listen,
            ),
            Err(e) => fail(e),
        };
    }
    let start = Start {
        channel: args.target.channel.clone(),
        context,
        contact,
        node: None,
    };
    let mut playground = Playground::new(dialog, Setup::new(args.target.flow, now, start));
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot open the terminal: {e}")),
    };
    // On standard error, as a prompt is: standard output holds only the conversation.
    eprintln!(
        "{}",
        style.paint("2", "fluxo chat — /help for commands, Ctrl-D to leave")
    );
    show(&style, &playground.reset());
    // Ctrl-C once asks; twice in a row leaves (an unsaved conversation is easy to lose).
    let mut interrupted = false;
    loop {
        let line = match rl.readline("você> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) if !interrupted => {
                interrupted = true;
                outln!(
                    "{}",
                    style.paint(
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
        show(&style, &playground.line(&line));
    }
    ExitCode::SUCCESS
}

/// Prints what the playground says to show.
fn show(style: &Style, items: &[Shown]) {
    for item in items {
        for line in render(style, item) {
            outln!("{line}");
        }
    }
}

/// How one shown item looks in the terminal, line by line.
fn render(style: &Style, item: &Shown) -> Vec<String> {
    let p = |c: &str, s: &str| style.paint(c, s);
    match item {
        Shown::Picked { text } => vec![p("2", &format!("  → {text}"))],
        Shown::Output { output, options } => {
            let mut lines = match output {
                // A Watson response: its title, its options, its image.
                Output::Message {
                    from: Speaker::Bot,
                    text: None,
                    message: Some(m),
                    ..
                } if m.get("response_type").is_some() => response(style, m, options),
                o => show_output(style, o).into_iter().collect(),
            };
            if matches!(output, Output::HandoffRequested { .. }) {
                lines.push(p("2", "  (/request prints the full request)"));
            }
            lines
        }
        Shown::InputMask { mask } => vec![p("2", &format!("  (input mask: {mask})"))],
        Shown::Options { options } => options
            .iter()
            .map(|c| format!("  {}) {}", c.number, c.label))
            .collect(),
        Shown::Notice { text } => vec![p("1;35", text)],
        Shown::Request { request: Some(r) } => {
            vec![serde_json::to_string_pretty(r).unwrap_or_default()]
        }
        Shown::Request { request: None } => vec!["no hand-over yet".into()],
        Shown::State { state } => state_lines(state),
        Shown::Saved { path, appended } => {
            let what = match appended {
                Some(n) => format!("appended conversation {n} to {}", path.display()),
                None => format!("saved {}", path.display()),
            };
            vec![p(
                "2",
                &format!("{what}; run it with `fluxo test {}`", path.display()),
            )]
        }
        Shown::Warning { text } => vec![p("33", &format!("warning: {text}"))],
        Shown::Help { text } => vec![text.clone()],
        Shown::Error { message } => vec![p("31", &format!("error: {message}"))],
        _ => Vec::new(),
    }
}

/// A Watson response that is not plain text: its title, its numbered options, its image.
fn response(style: &Style, m: &Json, options: &[Choice]) -> Vec<String> {
    let bot = style.paint("1;36", "bot:");
    let mut lines = Vec::new();
    if let Some(title) = m.get("title").and_then(Json::as_str) {
        lines.push(format!("{bot} {title}"));
    }
    for c in options {
        lines.push(format!("  {}. {}", c.number, c.label));
    }
    if let Some(src) = m.get("source").and_then(Json::as_str) {
        lines.push(format!("{bot} [{src}]"));
    }
    lines
}

/// `/state`: context, contact, focus, live chat with its timers, the action awaited, clock.
fn state_lines(s: &Snapshot) -> Vec<String> {
    let secs = |t: Option<i64>| {
        t.map(|t| format!("in {} s", (t - s.clock) / 1000))
            .unwrap_or_else(|| "off".into())
    };
    let mut lines = vec![
        format!("context: {}", s.context),
        format!("contact: {}", s.contact),
        format!("focus:   {}", s.focus.as_deref().unwrap_or("(none)")),
    ];
    lines.push(match &s.live_chat {
        Some(c) => format!(
            "live chat: {:?} on {} (integration {}), agents {:?}, wait timeout {}, inactivity timeout {}",
            c.phase,
            c.provider.as_str(),
            c.integration_id,
            c.agents,
            secs(c.wait_deadline),
            secs(c.inactivity_deadline)
        ),
        None => "live chat: none".into(),
    });
    if let Some(a) = &s.awaiting_action {
        lines.push(format!("waiting for action `{}` ({})", a.name, a.id));
    }
    let clock = jiff::Timestamp::from_millisecond(s.clock)
        .map(|t| t.to_string())
        .unwrap_or_default();
    lines.push(format!("clock:   {clock}"));
    lines
}

/// How an output looks in the terminal (`None`: not shown).
fn show_output(style: &Style, o: &Output) -> Option<String> {
    let p = |c: &str, s: &str| style.paint(c, s);
    Some(match o {
        Output::Message {
            from: Speaker::Bot,
            text: Some(t),
            ..
        } => format!("{} {t}", p("1;36", "bot:")),
        Output::Message {
            from: Speaker::Bot,
            message: Some(m),
            ..
        } => format!(
            "{} {}",
            p("1;36", "bot:"),
            serde_json::to_string(m).unwrap_or_default()
        ),
        Output::Message {
            from: Speaker::Agent,
            text,
            agent,
            ..
        } => {
            format!(
                "{} {}",
                p(
                    "1;32",
                    &format!("agent {}:", agent.as_deref().unwrap_or(""))
                ),
                text.as_deref().unwrap_or("")
            )
        }
        Output::Message {
            from: Speaker::System,
            text,
            ..
        } => format!("{} {}", p("1;33", "system:"), text.as_deref().unwrap_or("")),
        Output::Message { .. } => return None,
        Output::RelayToAgent { text } => p("2", &format!("  → to the agent: {text}")),
        Output::HandoffRequested {
            integration_id,
            provider,
            request,
            ..
        } => p(
            "1;35",
            &format!(
                "[hand-over → {provider} (integration {integration_id})] {} {}",
                request.method.as_str(),
                request.url
            ),
        ),
        Output::RepresentativeJoined { name, .. } => {
            p("1;35", &format!("[{name} joined the chat]"))
        }
        Output::RepresentativeLeft { name, .. } => p("1;35", &format!("[{name} left the chat]")),
        Output::LiveChatClosed { status, reason } => p(
            "1;35",
            &format!(
                "[live chat closed: {}{}]",
                status.as_str(),
                reason
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            ),
        ),
        Output::CloseProviderConversation { .. } => {
            p("2", "  (the provider's conversation is closed)")
        }
        Output::ActionRequested {
            id,
            name,
            parameters,
        } => p(
            "1;35",
            &format!(
                "[the bot waits for action `{name}` ({id}): {parameters}] answer with /result JSON"
            ),
        ),
        Output::EventEmitted { event_name, .. } => p("2", &format!("  (event {event_name})")),
        Output::Error { code, message, .. } => p("31", &format!("error[{code}]: {message}")),
        _ => return None,
    })
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
        if let Some(line) = show_output(&shown, o) {
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
