//! The commands of a playground, and the line language `fluxo chat` reads them in.

use crate::error::{Error, ErrorKind};
use crate::testing::parse_duration;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::path::PathBuf;

/// What the slash commands do, in the words `fluxo chat` prints for `/help`.
pub const HELP: &str = "\
You are the customer: type a message and press Enter. Slash commands play the other side:
  #INTENT TEXT            say TEXT with that intent (confidence 1) instead of the NLU's
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
  /set context.NAME VALUE set a variable (VALUE is JSON, or plain text); contact.NAME too
  /state                  context, contact, focus node, live chat and timers
  /reset                  start the conversation again
  /save FILE              save this conversation as a test (FILE.test.json + transcript);
                          an existing FILE gets it appended, never overwritten
  /help                   this text
  /quit                   leave (Ctrl-D too; Ctrl-C asks first)
When the bot offers options, they are numbered: type the number to pick one.";

/// One thing the person at the playground does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// The customer writes `text` (the dialog's own NLU reads it); a number picks the option
    /// it names when one is on offer, as in `fluxo chat`.
    Say {
        /// What the customer writes.
        text: String,
    },
    /// The customer picks option `number` (from 1) of those on offer.
    Pick {
        /// The option's number.
        number: usize,
    },
    /// The customer writes `text` with intent `intent`, at confidence 1.
    Intent {
        /// The intent's name, without `#`.
        intent: String,
        /// What the customer writes.
        text: String,
    },
    /// An agent accepts the chat.
    AgentJoin {
        /// The agent's name.
        name: String,
    },
    /// The agent writes to the customer.
    AgentSay {
        /// The message.
        text: String,
    },
    /// The agent moves the chat to another queue or agent.
    AgentTransfer {
        /// The queue or agent.
        to: String,
    },
    /// The agent ends the chat.
    AgentClose {
        /// The wrap-up code.
        #[serde(default)]
        wrap_up: Option<String>,
    },
    /// The customer ends the chat.
    UserClose,
    /// The provider accepts the hand-over.
    ProviderOpened {
        /// The provider's conversation id.
        remote_id: String,
    },
    /// The provider fails.
    ProviderError {
        /// What went wrong.
        message: String,
    },
    /// The result of the action the conversation waits for.
    Result {
        /// The result.
        result: Json,
    },
    /// Set variables by hand: each key of `context` and `contact` replaces that variable. It
    /// is an event of the conversation (`set`), so a saved test replays it.
    Set {
        /// Context variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<serde_json::Map<String, Json>>,
        /// Contact attributes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<serde_json::Map<String, Json>>,
    },
    /// Move the clock.
    Advance {
        /// By this many seconds.
        seconds: u64,
    },
    /// Show the wire request of the last hand-over.
    Request,
    /// Show the conversation's state.
    State,
    /// Start the conversation again.
    Reset,
    /// Save the conversation as a test: `FILE.test.json` and its golden transcript.
    Save {
        /// The test file (`.test.json` is added when missing).
        file: PathBuf,
    },
    /// Show what the commands do ([`HELP`]).
    Help,
}

fn refuse(message: String) -> Error {
    Error::new(ErrorKind::BadRequest, message)
}

impl Command {
    /// Reads a line as `fluxo chat` does: `/command …`, `#intent text`, or what the customer
    /// writes (a number picks an option). `/quit` is the front end's, not a command.
    pub fn parse(line: &str) -> Result<Command, Error> {
        let Some(cmd) = line.strip_prefix('/') else {
            return Ok(match said(line) {
                (text, Some(intent)) => Command::Intent { intent, text },
                (text, None) => Command::Say { text },
            });
        };
        let (word, rest) = cmd
            .split_once(' ')
            .map_or((cmd, ""), |(a, b)| (a, b.trim()));
        let (sub, arg) = rest
            .split_once(' ')
            .map_or((rest, ""), |(a, b)| (a, b.trim()));
        let need = |what: &str| {
            if arg.is_empty() {
                Err(refuse(format!("/{word} {sub} needs {what}")))
            } else {
                Ok(arg.to_owned())
            }
        };
        Ok(match (word, sub) {
            ("agent", "join") => Command::AgentJoin {
                name: need("a name")?,
            },
            ("agent", "say") => Command::AgentSay {
                text: need("a text")?,
            },
            ("agent", "transfer") => Command::AgentTransfer {
                to: need("a queue or agent")?,
            },
            ("agent", "close") => Command::AgentClose {
                wrap_up: (!arg.is_empty()).then(|| arg.to_owned()),
            },
            ("user", "close") => Command::UserClose,
            ("provider", "opened") => Command::ProviderOpened {
                remote_id: need("the provider's conversation id")?,
            },
            ("provider", "error") => Command::ProviderError {
                message: need("a message")?,
            },
            ("result", _) => Command::Result {
                result: serde_json::from_str(rest)
                    .map_err(|e| refuse(format!("/result takes JSON: {e}")))?,
            },
            ("set", _) => {
                let (scope, key) = sub.split_once('.').unwrap_or((sub, ""));
                if key.is_empty() || arg.is_empty() || !matches!(scope, "context" | "contact") {
                    return Err(refuse(
                        "/set takes context.NAME or contact.NAME and a value (JSON, or plain text)"
                            .into(),
                    ));
                }
                // A value that is not JSON is the text as it is.
                let value = serde_json::from_str(arg).unwrap_or_else(|_| Json::String(arg.into()));
                let vars = Some(serde_json::Map::from_iter([(key.to_owned(), value)]));
                if scope == "context" {
                    Command::Set {
                        context: vars,
                        contact: None,
                    }
                } else {
                    Command::Set {
                        context: None,
                        contact: vars,
                    }
                }
            }
            ("advance", _) => Command::Advance {
                seconds: parse_duration(&Json::String(rest.to_owned())).map_err(refuse)?,
            },
            ("request", _) => Command::Request,
            ("state", _) => Command::State,
            ("reset", _) => Command::Reset,
            ("save", _) if !rest.is_empty() => Command::Save {
                file: PathBuf::from(rest),
            },
            ("help", _) => Command::Help,
            _ => {
                return Err(refuse(format!(
                    "unknown command `{line}`; /help lists them"
                )))
            }
        })
    }
}

/// What the customer writes, and the intent it names: `#intent text` names the intent,
/// anything else is text.
pub(super) fn said(line: &str) -> (String, Option<String>) {
    match line.strip_prefix('#') {
        Some(rest) if !rest.is_empty() && !rest.starts_with(' ') => {
            let (intent, text) = rest.split_once(' ').unwrap_or((rest, ""));
            (text.to_owned(), Some(intent.to_owned()))
        }
        _ => (line.to_owned(), None),
    }
}
