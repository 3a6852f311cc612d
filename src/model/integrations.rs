//! The integrations file: the builder's "Live Chat" menu (SPEC §2.2).

use crate::domain::Provider;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// A file of live-chat integrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationsFile {
    /// Editor hint.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The integrations.
    pub integrations: Vec<Integration>,
}

/// How often Omni tells the user the estimated wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WaitNotice {
    /// Never.
    Never,
    /// Once, when the chat is queued.
    Once,
}

/// Opening hours of the human team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone, e.g. `America/Sao_Paulo`.
    pub timezone: String,
    /// Day (`mon`…`sun`) → list of `["HH:MM", "HH:MM"]` intervals.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    /// Dates (`YYYY-MM-DD`) with no service.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// The longest timeout an integration may set: 7 days. A larger value is a typo (or a
/// `18446744073709551615` that would wrap a deadline into the past), refused with a sentence.
pub const MAX_TIMEOUT_S: u64 = 7 * 24 * 3600;

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<u64>::deserialize(d)?;
    match v {
        Some(s) if s > MAX_TIMEOUT_S => Err(serde::de::Error::custom(format!(
            "a timeout of {s} s is longer than 7 days ({MAX_TIMEOUT_S} s)"
        ))),
        other => Ok(other),
    }
}

fn delay<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    timeout(d)?.ok_or_else(|| serde::de::Error::custom("a delay in seconds is required"))
}

/// A message sent to the user while the chat waits in the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMessage {
    /// Seconds after the request (at most [`MAX_TIMEOUT_S`]).
    #[serde(deserialize_with = "delay")]
    pub after_s: u64,
    /// Text.
    pub text: String,
}

/// One live-chat integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Id matched loosely against `integration_id` (`7` and `"7"` are the same).
    #[serde(deserialize_with = "loose_id")]
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider.
    pub provider: Provider,
    /// Seconds to wait for an agent (0 disables; at most [`MAX_TIMEOUT_S`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timeout"
    )]
    pub wait_timeout_s: Option<u64>,
    /// Seconds of user silence after the agent spoke (0 disables; at most [`MAX_TIMEOUT_S`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timeout"
    )]
    pub user_inactivity_timeout_s: Option<u64>,
    /// ALTU Connector: send the conversation so far in OPEN_CONVERSATION.
    #[serde(default)]
    pub include_history: bool,
    /// Omni: tell the user the estimated wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_notice: Option<WaitNotice>,
    /// Opening hours; outside them the chat closes with `out_of_hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    /// Messages sent while queued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue_messages: Vec<QueueMessage>,
    /// Webex: mask personal data in what the agent sees.
    #[serde(default)]
    pub mask_pii: bool,
    /// Webex: longest agent message accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_agent_message_chars: Option<u64>,
    /// Provider settings (`base_url`, account ids, `{ "env": "NAME" }` secrets).
    #[serde(default)]
    pub settings: Map<String, Json>,
}

fn loose_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Json::deserialize(d)? {
        Json::String(s) => Ok(s),
        Json::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "integration id must be a number or a string, found {other}"
        ))),
    }
}

/// Normalises an `integration_id` parameter value for matching (`7`, `"7"`, `" 7 "` → `"7"`).
pub fn normalise_id(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.trim().to_owned()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl IntegrationsFile {
    /// The integration whose id matches `id` loosely.
    pub fn find(&self, id: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id == id)
    }
}

/// How a `webex_cc` integration hands over (`settings.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebexMode {
    /// A chat task in Cisco's private BYO-channel beta (assumed shapes). The default.
    Digital,
    /// A telephony callback task through the public Create Task API.
    Callback,
}

impl WebexMode {
    /// The mode an integration's settings name, or `None` for a value fluxo does not know.
    pub fn of(settings: &Map<String, Json>) -> Option<WebexMode> {
        match settings.get("mode") {
            None | Some(Json::Null) => Some(WebexMode::Digital),
            Some(Json::String(s)) if s == "digital" => Some(WebexMode::Digital),
            Some(Json::String(s)) if s == "callback" => Some(WebexMode::Callback),
            Some(_) => None,
        }
    }
}
