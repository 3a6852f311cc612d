//! A playground: talk to a flow or a workspace as its customer, and play everything else — the
//! agent, the provider, the host's actions and the clock — then keep the conversation as a
//! test.
//!
//! Everything `fluxo chat` does besides reading the keyboard lives here, so every front end
//! (the terminal, a web page) is a thin layer over it: [`Command`]s go in (typed, or read from
//! a line with [`Command::parse`]), and what the front end should show comes out as [`Shown`]
//! items, in order. [`Playground::snapshot`] describes the state at any time. Commands, shown
//! items and snapshots are plain serde data, so they cross a wire as JSON.
//!
//! The clock is virtual: it starts where [`Setup::clock`] says and moves only with
//! [`Command::Advance`], so timers (a queue's wait, an inactivity timeout) fire when the person
//! says so. Providers are simulated by the commands: nothing leaves the process.
//!
//! ```
//! use fluxo::conversation::AnyDialog;
//! use fluxo::playground::{Command, Playground, Setup, Shown};
//! use fluxo::{Bot, Output};
//!
//! let bot = Bot::from_json(r#"{ "nodes": [
//!   { "id": "menu", "condition": "start",
//!     "output": [ { "default": { "type": "text", "text": "Escolha:" } } ],
//!     "input": { "default": { "type": "select", "payload": { "options": [ { "title": "Boleto" }, { "title": "Atendente" } ] } } },
//!     "next": [ { "goto": "fim" } ] },
//!   { "id": "fim", "output": [ { "default": { "type": "text", "text": "Você escolheu <? input.text ?>." } } ] } ] }"#, None)?;
//! let mut playground = Playground::new(AnyDialog::from(bot), Setup::default());
//! let shown = playground.reset();
//! assert!(shown.iter().any(|s| matches!(s, Shown::Options { options } if options[1].label == "Atendente")));
//! let shown = playground.command(Command::Pick { number: 2 });
//! assert!(shown.iter().any(|s| matches!(s, Shown::Output { output: Output::Message { text: Some(t), .. }, .. }
//!     if t == "Você escolheu Atendente.")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
mod save;

pub use command::{Command, HELP};
pub use save::Saved;

use crate::conversation::{AnyDialog, Dialog};
use crate::domain::{Event, Output, Provider, Speaker};
use crate::engine::Phase;
use crate::error::ErrorKind;
use crate::testing::Start;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::path::PathBuf;

/// How a playground's conversation starts.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Setup {
    /// The file the dialog was read from: a saved test names it. Empty: the conversation can
    /// be played but not saved.
    pub source: PathBuf,
    /// Start of the virtual clock, in milliseconds since the epoch.
    pub clock: i64,
    /// The `start` event's channel, context and contact.
    pub start: Start,
    /// The conversation's id (default `fluxo-chat`).
    pub id: Option<String>,
}

impl Setup {
    /// A setup for the dialog in file `source`, its clock starting at `clock` (milliseconds
    /// since the epoch) and its `start` event carrying `start`.
    pub fn new(source: impl Into<PathBuf>, clock: i64, start: Start) -> Setup {
        Setup {
            source: source.into(),
            clock,
            start,
            id: None,
        }
    }
}

/// An option on offer: typing its number sends its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Its number, from 1.
    pub number: usize,
    /// What the option shows.
    pub label: String,
    /// What picking it sends.
    pub text: String,
}

/// One thing a front end shows, in the order the playground gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
// Most items are outputs, and they are short-lived: boxing them would only make them harder
// to match.
#[allow(clippy::large_enum_variant)]
pub enum Shown {
    /// The customer picked an option: what was sent.
    Picked {
        /// The option's text.
        text: String,
    },
    /// An output of the dialog, as it gave it.
    Output {
        /// The output.
        output: Output,
        /// The options this message offers itself (a Watson `option` response), numbered.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<Choice>,
    },
    /// The input the conversation waits for has a mask (`cpf`, `phone`…).
    InputMask {
        /// The mask.
        mask: String,
    },
    /// The options the awaited input offers, numbered.
    Options {
        /// The options.
        options: Vec<Choice>,
    },
    /// What a command did, when the dialog itself may say nothing.
    Notice {
        /// In words.
        text: String,
    },
    /// The wire request of the last hand-over (`None`: no hand-over yet).
    Request {
        /// The request.
        request: Option<Json>,
    },
    /// The conversation's state.
    State {
        /// The state.
        state: Box<Snapshot>,
    },
    /// The conversation was saved as a test.
    Saved {
        /// The test file.
        path: PathBuf,
        /// When the file existed: the conversation's number in it.
        appended: Option<usize>,
    },
    /// Something the person should know (a saved conversation that fails when replayed).
    Warning {
        /// In words.
        text: String,
    },
    /// What the commands do.
    Help {
        /// [`HELP`].
        text: String,
    },
    /// A command that could not be done; nothing changed.
    Error {
        /// Why.
        message: String,
    },
}

/// The state of a playground's conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The virtual clock, in milliseconds since the epoch.
    pub clock: i64,
    /// The conversation's variables.
    pub context: Json,
    /// The contact's attributes.
    pub contact: Json,
    /// The node the conversation waits at.
    pub focus: Option<String>,
    /// The open live chat.
    pub live_chat: Option<LiveChatSnapshot>,
    /// The action the conversation waits for.
    pub awaiting_action: Option<AwaitedAction>,
    /// When the next timer fires (milliseconds since the epoch).
    pub next_deadline: Option<i64>,
    /// The options on offer.
    pub options: Vec<Choice>,
    /// What a workspace understood of the last message (`intents`, `entities` with their
    /// confidences, `nodes_visited`); `None` for a flow.
    pub understood: Option<Json>,
}

/// An open live chat, as [`Snapshot`] shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LiveChatSnapshot {
    /// Waiting for an agent, or with one.
    pub phase: Phase,
    /// The provider.
    pub provider: Provider,
    /// The integration the chat runs on.
    pub integration_id: String,
    /// The agents in the chat.
    pub agents: Vec<String>,
    /// When waiting for an agent times out (milliseconds since the epoch).
    pub wait_deadline: Option<i64>,
    /// When the customer's silence ends the chat (milliseconds since the epoch).
    pub inactivity_deadline: Option<i64>,
}

/// An action the conversation waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwaitedAction {
    /// What its result must name.
    pub id: String,
    /// The action.
    pub name: String,
}

/// A conversation with a flow or a workspace, its virtual clock, and what it recorded.
#[derive(Debug)]
pub struct Playground<D: Dialog = AnyDialog> {
    dialog: D,
    state: D::State,
    setup: Setup,
    now: i64,
    /// Every event fed since the last reset, the `start` first.
    events: Vec<Event>,
    options: Vec<Choice>,
    /// Whether a bare number picks an option (false when the awaited input's options are
    /// numbers themselves).
    numbered: bool,
    last_request: Option<Json>,
}

impl<D: Dialog> Playground<D> {
    /// A playground on `dialog`; the conversation starts with [`Playground::reset`].
    pub fn new(dialog: D, setup: Setup) -> Playground<D> {
        let state = dialog.new_state(setup.id.as_deref().unwrap_or("fluxo-chat"));
        Playground {
            dialog,
            state,
            now: setup.clock,
            setup,
            events: Vec::new(),
            options: Vec::new(),
            numbered: true,
            last_request: None,
        }
    }

    /// The dialog.
    pub fn dialog(&self) -> &D {
        &self.dialog
    }

    /// The virtual clock, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The events fed since the conversation started, the `start` first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The options on offer now.
    pub fn options(&self) -> &[Choice] {
        &self.options
    }

    /// The wire request of the last hand-over.
    pub fn last_request(&self) -> Option<&Json> {
        self.last_request.as_ref()
    }

    /// Where the next [`Playground::reset`] starts: node `node`, or the `start` node (`None`).
    /// A saved test records it (`start.node`), so it replays the same way.
    pub fn set_start_node(&mut self, node: Option<String>) {
        self.setup.start.node = node;
    }

    /// The node the conversation starts at, when not the `start` node.
    pub fn start_node(&self) -> Option<&str> {
        self.setup.start.node.as_deref()
    }

    /// Starts the conversation (again): a new state, the clock back at its start, the `start`
    /// event fed.
    pub fn reset(&mut self) -> Vec<Shown> {
        self.state = self
            .dialog
            .new_state(self.setup.id.as_deref().unwrap_or("fluxo-chat"));
        self.events.clear();
        self.options.clear();
        self.last_request = None;
        self.now = self.setup.clock;
        self.feed(self.setup.start.event())
    }

    /// Reads `line` with [`Command::parse`] and does it; a line that is no command shows an
    /// [`Shown::Error`].
    pub fn line(&mut self, line: &str) -> Vec<Shown> {
        match Command::parse(line) {
            Ok(c) => self.command(c),
            Err(e) => vec![Shown::Error {
                message: e.detail().to_owned(),
            }],
        }
    }

    /// Does one command and returns what to show.
    pub fn command(&mut self, command: Command) -> Vec<Shown> {
        match command {
            Command::Say { text } => {
                // A number picks the option it names, when there is one and the options are
                // not numbers themselves (the engine's rule, so every channel agrees).
                match text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| self.numbered && self.choice(*n).is_some())
                {
                    Some(number) => self.command(Command::Pick { number }),
                    None => self.feed(user(text, None)),
                }
            }
            Command::Pick { number } => {
                let Some(text) = self.choice(number).map(|c| c.text.clone()) else {
                    return vec![Shown::Error {
                        message: format!("there is no option {number} on offer"),
                    }];
                };
                let (said, intent) = command::said(&text);
                let mut shown = vec![Shown::Picked { text }];
                shown.extend(self.feed(user(said, intent)));
                shown
            }
            Command::Request => vec![Shown::Request {
                request: self.last_request.clone(),
            }],
            Command::State => vec![Shown::State {
                state: Box::new(self.snapshot()),
            }],
            Command::Reset => self.reset(),
            Command::Save { file } => match self.save(&file) {
                Ok(saved) => {
                    let mut shown = Vec::new();
                    if let Some(f) = saved.replay_failure {
                        shown.push(Shown::Warning {
                            text: format!("the saved conversation fails when replayed: {f}"),
                        });
                    }
                    shown.push(Shown::Saved {
                        path: saved.path,
                        appended: saved.appended,
                    });
                    shown
                }
                Err(e) => vec![Shown::Error {
                    message: e.detail().to_owned(),
                }],
            },
            Command::Help => vec![Shown::Help {
                text: HELP.to_owned(),
            }],
            other => match self.event(other) {
                Ok(event) => {
                    let notice = notice(&event);
                    let mut shown = self.feed(event);
                    shown.extend(notice.map(|text| Shown::Notice { text }));
                    shown
                }
                Err(message) => vec![Shown::Error { message }],
            },
        }
    }

    /// The event a command that plays the customer, the agent, the provider, the host or the
    /// clock sends; why not, when it cannot be sent now.
    fn event(&self, command: Command) -> Result<Event, String> {
        Ok(match command {
            Command::Say { text } => user(text, None),
            Command::Intent { intent, text } => user(text, Some(intent)),
            Command::AgentJoin { name } => Event::AgentJoin {
                name,
                avatar: None,
                representative_type: None,
            },
            Command::AgentSay { text } => Event::AgentMessage {
                text,
                content: None,
            },
            Command::AgentTransfer { to } => Event::AgentTransfer { to },
            Command::AgentClose { wrap_up } => Event::AgentClose { wrap_up },
            Command::UserClose => Event::UserClose { reason: None },
            Command::ProviderOpened { remote_id } => Event::ProviderOpened {
                remote_id,
                result: None,
            },
            Command::ProviderError { message } => Event::ProviderError { message },
            Command::Result { result } => {
                let Some((id, _)) = self.dialog.view(&self.state).awaiting_action else {
                    return Err("the bot is not waiting for an action".into());
                };
                Event::ActionResult {
                    id: id.to_owned(),
                    result,
                }
            }
            Command::Advance { seconds } => Event::Advance { seconds },
            Command::Set { context, contact } => {
                if context.as_ref().is_none_or(serde_json::Map::is_empty)
                    && contact.as_ref().is_none_or(serde_json::Map::is_empty)
                {
                    return Err("set: name at least one context or contact variable".into());
                }
                Event::Set { context, contact }
            }
            other => return Err(format!("{other:?} is not an event")),
        })
    }

    /// Option `number` of those on offer.
    fn choice(&self, number: usize) -> Option<&Choice> {
        number.checked_sub(1).and_then(|i| self.options.get(i))
    }

    /// The state now.
    pub fn snapshot(&self) -> Snapshot {
        let v = self.dialog.view(&self.state);
        Snapshot {
            clock: self.now,
            context: v.context.into_owned(),
            contact: v.contact.into_owned(),
            focus: v.focus.map(str::to_owned),
            live_chat: v.live_chat.map(|c| LiveChatSnapshot {
                phase: c.phase(),
                provider: c.provider(),
                integration_id: c.integration_id().to_owned(),
                agents: c.agents().to_vec(),
                wait_deadline: c.wait_deadline(),
                inactivity_deadline: c.inactivity_deadline(),
            }),
            awaiting_action: v.awaiting_action.map(|(id, name)| AwaitedAction {
                id: id.to_owned(),
                name: name.to_owned(),
            }),
            next_deadline: self.dialog.next_deadline(&self.state),
            options: self.options.clone(),
            understood: v.understood,
        }
    }

    /// Feeds one event at the clock it sets, and says what to show: the outputs, the mask of
    /// the input awaited, the options on offer.
    fn feed(&mut self, e: Event) -> Vec<Shown> {
        self.now = e.clock_after(self.now);
        let out = self.dialog.handle(&mut self.state, e.clone(), self.now);
        // An event the engine refused changed nothing (a message while the turn waits for an
        // action's result, an event that makes no sense now): a saved test does not replay it.
        let refused = out.iter().any(|o| {
            matches!(
                o,
                Output::Error {
                    code: ErrorKind::AwaitingActionResult | ErrorKind::UnexpectedEvent,
                    ..
                }
            )
        });
        if !refused {
            self.events.push(e);
        }
        let mut shown = Vec::new();
        let mut options: Vec<Choice> = Vec::new();
        // The options of the awaited input, or of a message that lists them (the last wins).
        let mut offered: Vec<(String, String)> = Vec::new();
        // What the awaited input offers, as every channel reads it from `awaiting_input`.
        let awaited = out.iter().rev().find_map(|o| match o {
            Output::AwaitingInput { input, .. } => Some(input.clone()),
            _ => None,
        });
        self.numbered = true;
        for o in out {
            let mut own = Vec::new();
            match &o {
                Output::HandoffRequested { request, .. } => {
                    self.last_request = serde_json::to_value(request).ok();
                }
                Output::Message {
                    from: Speaker::Bot,
                    message: Some(m),
                    ..
                } if m.get("response_type").is_some() => {
                    // A Watson response offers its options itself.
                    for (label, text) in response_options(m) {
                        own.push(Choice {
                            number: options.len() + own.len() + 1,
                            label,
                            text,
                        });
                    }
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
                        offered = found;
                    }
                }
                _ => {}
            }
            options.extend(own.iter().cloned());
            shown.push(Shown::Output {
                output: o,
                options: own,
            });
        }
        if let Some(Some(input)) = awaited {
            if !input.options.is_empty() {
                offered = input
                    .options
                    .iter()
                    .map(|o| (o.title.clone(), o.title.clone()))
                    .collect();
                // The engine's number rule: options that are numbers themselves are not
                // picked by their number.
                self.numbered = input.numbered;
            }
            if let Some(mask) = input.mask {
                shown.push(Shown::InputMask { mask });
            }
        }
        if !offered.is_empty() {
            let first = options.len();
            let listed: Vec<Choice> = offered
                .into_iter()
                .enumerate()
                .map(|(i, (label, text))| Choice {
                    number: first + i + 1,
                    label,
                    text,
                })
                .collect();
            options.extend(listed.iter().cloned());
            shown.push(Shown::Options { options: listed });
        }
        self.options = options;
        shown
    }
}

/// A customer's message.
fn user(text: String, intent: Option<String>) -> Event {
    let confidence = intent.is_some().then_some(1.0);
    Event::User {
        text,
        intent,
        entities: None,
        confidence,
    }
}

/// The options of a Watson `option` response: (label, the text picking it sends).
fn response_options(m: &Json) -> Vec<(String, String)> {
    m.get("options")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|o| {
            let label = o.get("label").and_then(Json::as_str).unwrap_or("?");
            let text = o
                .pointer("/value/input/text")
                .and_then(Json::as_str)
                .unwrap_or(label);
            (label.to_owned(), text.to_owned())
        })
        .collect()
}

/// The titles of a list of options (strings, or objects with `title`, `label`, `text` or
/// `value`), each sent as it is shown.
fn option_titles(v: &Json) -> Vec<(String, String)> {
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
        .map(|t| (t.clone(), t))
        .collect()
}

/// A line that confirms what a command did, when the bot itself may say nothing.
fn notice(e: &Event) -> Option<String> {
    match e {
        Event::ProviderOpened { remote_id, .. } => Some(format!(
            "[the provider accepted the hand-over: its conversation is {remote_id}]"
        )),
        Event::AgentTransfer { to } => Some(format!("[the agent transferred the chat to {to}]")),
        Event::Set { context, contact } => {
            let named: Vec<String> = [("context", context), ("contact", contact)]
                .into_iter()
                .flat_map(|(scope, vars)| {
                    vars.iter()
                        .flatten()
                        .map(move |(k, v)| format!("{scope}.{k} = {v}"))
                })
                .collect();
            Some(format!("[set {}]", named.join(", ")))
        }
        _ => None,
    }
}
