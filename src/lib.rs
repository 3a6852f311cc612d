//! fluxo: interpreter, linter and test runner for builder flows — the JSON node graphs of the
//! ALTU / Zenvia NLU builder — and for Watson Assistant dialog skills, with the hand-over of a
//! conversation to a human agent on a live-chat provider and the return to the bot.
//!
//! The modules read one way, each using only those above it:
//! vocabulary (`domain`, `error`, `diagnostic`) → source and JSON → schema → model →
//! expressions → compile (the loader both the linter and the engine use) → [`lint`] |
//! [`engine`] (with the provider request builders) → [`drivers`] → [`runtime`]; the command
//! line lives in the binary.
//!
//! The embedder's path: load a [`Bot`] once, keep a [`Session`] per conversation, feed it
//! [`Event`]s, perform the [`Output`]s it asks for:
//!
//! ```
//! use fluxo::{Bot, Event, Output};
//!
//! let bot = Bot::from_json(r#"{ "nodes": [ { "id": "oi", "condition": "start",
//!     "output": [ { "default": { "type": "text", "text": "Olá!" } } ] } ] }"#, None)?;
//! let mut session = bot.new_session("user-42");
//! let outputs = bot.handle(&mut session, Event::Start { channel: None, context: None, contact: None }, 0);
//! assert!(outputs.iter().any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "Olá!")));
//! let saved = serde_json::to_string(&session)?;           // store it between webhooks
//! let session = bot.restore(&saved)?;                      // and resume it anywhere
//! assert_eq!(bot.next_deadline(&session), None);           // no timer pending
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod compile;
mod diagnostic;
mod domain;
mod error;
mod model;
mod provider;
mod schema;
mod source;
mod text;

pub mod conversation;
#[cfg(feature = "drivers")]
pub mod drivers;
pub mod engine;
pub mod expr;
pub mod graph;
pub mod lint;
#[cfg(feature = "lsp")]
pub mod lsp;
pub mod playground;
#[cfg(feature = "drivers")]
pub mod runtime;
#[cfg(feature = "studio")]
pub mod studio;
pub mod testing;
pub mod watson;

pub use domain::http::{HeaderValue, HttpRequest, Method};
pub use domain::{
    AwaitedInput, BuiltinAction, CloseStatus, Event, InputOption, Output, Provider,
    RepresentativeType, Speaker, INPUT_FIELDS, LIVE_CHAT_FIELDS,
};
pub use engine::{Bot, LiveChat, Phase, Session};
pub use error::{Error, ErrorKind, Result};
pub use model::{
    normalise_id, BusinessHours, FileKind, Integration, IntegrationsFile, QueueMessage, WaitNotice,
    MAX_TIMEOUT_S,
};

/// The JSON Schemas fluxo ships, for editors and other tools.
pub mod schemas {
    pub use crate::schema::{
        FLOW_SCHEMA as FLOW, INTEGRATIONS_SCHEMA as INTEGRATIONS, TEST_SCHEMA as TEST,
    };
}
