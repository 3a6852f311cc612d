//! `fluxo run`: events in (JSON lines), outputs out (JSON lines).

use clap::Args;
use fluxo::conversation::{AnyDialog, Dialog};
use fluxo::engine::{Bot, Event, Output};
use serde_json::{Map, Value as Json};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flow or workspace and how a conversation with it starts (shared by `run` and `chat`).
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// The flow.
    pub flow: PathBuf,
    /// The integrations file (default: `integrations.json` beside the flow, when there is one).
    #[arg(long, value_name = "FILE")]
    pub integrations: Option<PathBuf>,
    /// Channel key for channel-specific messages (`Whatsapp`, `Widget`, …).
    #[arg(long)]
    pub channel: Option<String>,
    /// Initial context, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// Start of the virtual clock (RFC 3339, default: now). Only `advance` events move it.
    #[arg(long, value_name = "RFC3339")]
    pub clock: Option<String>,
}

/// Arguments of `fluxo run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Flow, integrations, channel, context, clock.
    #[command(flatten)]
    pub target: FlowArgs,
    /// Events, one JSON object per line (`-` for standard input, the default).
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub events: String,
    /// The end user's id (what providers see as the consumer / identifier).
    #[arg(long, default_value = "fluxo-run")]
    pub session_id: String,
    /// Talk to the real providers of the integrations file (credentials from the environment).
    #[arg(long)]
    pub live: bool,
    /// With --live: serve provider webhooks on this address and wait for the chat to end.
    #[arg(long, value_name = "ADDR", requires = "live")]
    pub listen: Option<std::net::SocketAddr>,
}

/// Loads the dialog of `--flow`: a workspace, or a flow with its integrations (by default
/// `integrations.json` beside it).
pub(crate) fn load(target: &FlowArgs) -> Result<AnyDialog, String> {
    fluxo::conversation::load(&target.flow, target.integrations.as_deref())
        .map_err(|e| e.detail().to_owned())
}

/// The bot of a dialog that may go `--live` (a flow: a workspace never hands over).
pub(crate) fn live_bot(dialog: AnyDialog) -> Result<Bot, String> {
    match dialog {
        AnyDialog::Flow(bot) => Ok(*bot),
        _ => Err(
            "--live is for flows that hand over to a live chat; a Watson workspace runs offline"
                .into(),
        ),
    }
}

/// Milliseconds since the epoch for `--clock`, or now.
pub(crate) fn clock(arg: Option<&str>) -> Result<i64, String> {
    match arg {
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|e| format!("--clock {t}: not an RFC 3339 time ({e})")),
        None => Ok(jiff::Timestamp::now().as_millisecond()),
    }
}

pub(crate) fn context_arg(arg: Option<&str>) -> Result<Option<Map<String, Json>>, String> {
    arg.map(|c| {
        serde_json::from_str::<Map<String, Json>>(c)
            .map_err(|e| format!("--context: not a JSON object ({e})"))
    })
    .transpose()
}

pub(crate) fn run(args: RunArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let dialog = match load(&args.target) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut now = match clock(args.target.clock.as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    let context = match context_arg(args.target.context.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let reader = match events_reader(&args.events) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.live {
        return match live_bot(dialog) {
            Ok(bot) => run_live(bot, reader, &args, context),
            Err(e) => fail(e),
        };
    }
    let mut state = dialog.new_state(&args.session_id);
    let mut any_error = false;
    let emit = |outputs: Vec<Output>| -> bool {
        let mut err = false;
        for o in outputs {
            err |= matches!(o, Output::Error { .. });
            outln!("{}", serde_json::to_string(&o).unwrap_or_default());
        }
        err
    };
    let mut first = true;
    for event in events(reader, &args.events) {
        let event = match event {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
        let event = match (first, event) {
            // The flags fill what the first `start` leaves out.
            (
                true,
                Event::Start {
                    channel,
                    context: c,
                    contact,
                },
            ) => Event::Start {
                channel: channel.or_else(|| args.target.channel.clone()),
                context: c.or_else(|| context.clone()),
                contact,
            },
            (true, other) => {
                let start = Event::Start {
                    channel: args.target.channel.clone(),
                    context: context.clone(),
                    contact: None,
                };
                any_error |= emit(dialog.handle(&mut state, start, now));
                other
            }
            (false, other) => other,
        };
        first = false;
        now = event.clock_after(now);
        any_error |= emit(dialog.handle(&mut state, event, now));
    }
    if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(feature = "drivers")]
fn run_live(
    bot: Bot,
    reader: Box<dyn BufRead>,
    args: &RunArgs,
    context: Option<Map<String, Json>>,
) -> ExitCode {
    let mut events = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let Ok(line) = line else { break };
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        match serde_json::from_str::<Event>(t) {
            Ok(e) => events.push(e),
            Err(e) => {
                eprintln!("error: {}:{}: not an event: {e}", args.events, n + 1);
                return ExitCode::from(2);
            }
        }
    }
    // As without --live: the flags fill what the first `start` leaves out, or make one.
    match events.first_mut() {
        Some(Event::Start {
            channel,
            context: c,
            ..
        }) => {
            if channel.is_none() {
                channel.clone_from(&args.target.channel);
            }
            if c.is_none() {
                *c = context;
            }
        }
        _ => events.insert(
            0,
            Event::Start {
                channel: args.target.channel.clone(),
                context,
                contact: None,
            },
        ),
    }
    match super::live::run(bot, events, &args.session_id, args.listen) {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "drivers"))]
fn run_live(_: Bot, _: Box<dyn BufRead>, _: &RunArgs, _: Option<Map<String, Json>>) -> ExitCode {
    eprintln!("error: --live needs fluxo built with the `drivers` feature");
    ExitCode::from(2)
}

/// The events of a reader, one JSON object a line (blank lines and `//` comments skipped);
/// a line that is not an event is an error naming `name` and the line.
fn events(
    reader: Box<dyn BufRead>,
    name: &str,
) -> impl Iterator<Item = Result<Event, String>> + '_ {
    reader.lines().enumerate().filter_map(move |(n, line)| {
        let line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(format!("{name}:{}: {e}", n + 1))),
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") {
            return None;
        }
        Some(serde_json::from_str(t).map_err(|e| format!("{name}:{}: not an event: {e}", n + 1)))
    })
}

/// The events of `--events` (`-`: standard input).
fn events_reader(events: &str) -> Result<Box<dyn BufRead>, String> {
    if events == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    std::fs::File::open(events)
        .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn BufRead>)
        .map_err(|e| format!("{events}: {e}"))
}
