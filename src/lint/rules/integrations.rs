//! Rules about integrations: `integrations-simulated`, `duplicate-integration-id`, `inline-secret`,
//! `experimental-provider`.

use super::{live_chats, FlowRule, IntegrationsRule};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;
use crate::model::normalise_id;
use crate::source::json::push_segment;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value as Json;

declare_rule! {
    /// ## What it does
    /// Says, once, that a flow hands over to a live chat but no integrations file was given
    /// (`--integrations FILE`), so every `integration_id` runs on the simulator and the
    /// provider-specific rules are skipped.
    ///
    /// ## Why it matters
    /// Without the integrations file fluxo cannot check ids, provider parameters or
    /// `extra_info` limits.
    ///
    /// ## Example
    /// `fluxo lint flows/` instead of `fluxo lint --integrations flows/integrations.json flows/`.
    pub struct IntegrationsSimulated => "integrations-simulated", Info;
}

declare_rule! {
    /// ## What it does
    /// Reports two integrations with the same id (ids match loosely: `7` and `"7"`).
    ///
    /// ## Why it matters
    /// A flow's `integration_id` can name only one of them; the other is dead configuration.
    ///
    /// ## Example
    /// ```json
    /// { "integrations": [ { "id": 7, "provider": "liveperson" }, { "id": "7", "provider": "zendesk" } ] }
    /// ```
    pub struct DuplicateIntegrationId => "duplicate-integration-id", Error;
}

declare_rule! {
    /// ## What it does
    /// Reports a secret written inline in an integration's `settings` (`client_secret`,
    /// `access_key`, `api_token`, `password`, …) instead of `{ "env": "NAME" }`.
    ///
    /// ## Why it matters
    /// Flow and integration files are committed and shared; a secret in them leaks.
    ///
    /// ## Example
    /// ```json
    /// "settings": { "access_key": "s3cr3t" }
    /// ```
    /// Write `"access_key": { "env": "ALTU_ACCESS_KEY" }`.
    pub struct InlineSecret => "inline-secret", Error;
}

declare_rule! {
    /// ## What it does
    /// Notes an integration whose provider API is not public: a Webex Contact Center
    /// integration in `digital` mode (the default when `settings.mode` is absent). Its chat tasks
    /// (`mediaType: chat`, `/v1/tasks/{id}/messages`) exist only in Cisco's private "Bring Your
    /// Own Custom Messaging Channel" beta. `"mode": "callback"` uses the public Create Task API
    /// (a telephony callback) and is not noted.
    ///
    /// ## Why it matters
    /// The request shapes fluxo sends in `digital` mode are assumed (see `docs/providers.md`),
    /// and they can change without notice: check them against your beta documentation before
    /// going live.
    ///
    /// ## Example
    /// ```json
    /// { "integrations": [ { "id": 4, "provider": "webex_cc", "settings": { "mode": "digital" } } ] }
    /// ```
    pub struct ExperimentalProvider => "experimental-provider", Info;
}

impl IntegrationsRule for ExperimentalProvider {
    fn check(value: &Json, out: &mut Vec<Diagnostic>) {
        use crate::model::WebexMode as Mode;
        let no_settings = serde_json::Map::new();
        for (i, it) in integrations(value).iter().enumerate() {
            if it.get("provider").and_then(Json::as_str) != Some("webex_cc") {
                continue;
            }
            let settings = it
                .get("settings")
                .and_then(Json::as_object)
                .unwrap_or(&no_settings);
            if Mode::of(settings) == Some(Mode::Digital) {
                out.push(
                    Diagnostic::new::<ExperimentalProvider>(
                        Location::Value(format!("/integrations/{i}/provider")),
                        "experimental: Webex Contact Center's digital-channel tasks (`mode: digital`, the default) are a private beta",
                    )
                    .help("the requests fluxo sends are assumed; check them against Cisco's beta documentation, or use `\"mode\": \"callback\"` (the public Create Task API: an agent calls the customer back)"),
                );
            }
        }
    }
}

/// Setting names that hold secrets.
pub const SECRET_SETTINGS: &[&str] = &[
    // Not a secret to LivePerson, but its driver reads it from the environment like one.
    "client_id",
    "client_secret",
    "access_key",
    "access_token",
    "api_token",
    "token",
    "password",
    "secret",
    "app_secret",
    "key_secret",
    "webhook_secret",
    "signing_secret",
    "api_key",
    "refresh_token",
];

impl FlowRule for IntegrationsSimulated {
    /// Emits one finding at the first hand-over when no integrations file is given.
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        if ctx.integrations.is_some() {
            return;
        }
        if let Some(lc) = live_chats(ctx).next() {
            out.push(
                Diagnostic::new::<IntegrationsSimulated>(
                    Location::Value(format!("{}/name", lc.pointer)),
                    "no integrations file given: every `integration_id` runs on the simulator",
                )
                .help("pass `--integrations FILE` to check ids and provider rules"),
            );
        }
    }
}

fn integrations(value: &Json) -> &[Json] {
    value
        .get("integrations")
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

impl IntegrationsRule for DuplicateIntegrationId {
    fn check(value: &Json, out: &mut Vec<Diagnostic>) {
        let mut seen: HashMap<String, usize> = HashMap::default();
        for (i, it) in integrations(value).iter().enumerate() {
            let Some(id) = it.get("id").and_then(normalise_id) else {
                continue;
            };
            if let Some(first) = seen.insert(id.clone(), i) {
                out.push(
                    Diagnostic::new::<DuplicateIntegrationId>(
                        Location::Value(format!("/integrations/{i}/id")),
                        format!("integration id `{id}` is already used by integration #{first}"),
                    )
                    .also(
                        Location::Value(format!("/integrations/{first}/id")),
                        "first used here",
                    )
                    .help("ids must be unique"),
                );
            }
        }
    }
}

impl IntegrationsRule for InlineSecret {
    fn check(value: &Json, out: &mut Vec<Diagnostic>) {
        for (i, it) in integrations(value).iter().enumerate() {
            let Some(settings) = it.get("settings").and_then(Json::as_object) else {
                continue;
            };
            for (k, v) in settings {
                let secret = SECRET_SETTINGS.contains(&k.to_ascii_lowercase().as_str());
                if secret && v.is_string() {
                    let mut p = format!("/integrations/{i}/settings");
                    push_segment(&mut p, k);
                    out.push(
                        Diagnostic::new::<InlineSecret>(
                            Location::Value(p),
                            format!("`{k}` holds a secret written inline"),
                        )
                        .help(format!(
                            "read it from the environment: `\"{k}\": {{ \"env\": \"NAME\" }}`"
                        )),
                    );
                }
            }
        }
    }
}
