//! `extra-info-too-long`

use super::FlowRule;
use super::{integration_of, live_chats, minimal_text};
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::domain::Provider;
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Measures `extra_info` (and, for ALTU Connector, `contact_info`) as the JSON text the
    /// provider receives. LivePerson accepts at most 256 characters; ALTU Connector at most
    /// 1024. Templates count with their literal text only, so the figure is the shortest the
    /// value can be: when even that is over the limit, the value is certainly too long.
    ///
    /// ## Why it matters
    /// LivePerson does not reject a longer `extra_info`: the builder sends it **empty**, and
    /// the agent loses the context the author meant to pass.
    ///
    /// ## Example
    /// ```json
    /// "extra_info": { "historico": "<? $historico ?>", "observacoes": "…300 characters…" }
    /// ```
    pub struct ExtraInfoTooLong => "extra-info-too-long", Warning;
}

impl FlowRule for ExtraInfoTooLong {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for lc in live_chats(ctx) {
            let Some(integration) = integration_of(ctx, lc.action) else {
                continue;
            };
            for (param, max) in ["extra_info", "contact_info"]
                .into_iter()
                .filter_map(|p| Some((p, integration.provider.info_limit(p)?)))
            {
                let Some(v) = lc.action.param(param) else {
                    continue;
                };
                let text = match v.literal() {
                    Some(serde_json::Value::String(s)) => s,
                    Some(j) => j.to_string(),
                    None => minimal_text(v),
                };
                let len = text.chars().count();
                if len > max {
                    let at_least = if matches!(v, crate::compile::CValue::Lit(_)) {
                        ""
                    } else {
                        "at least "
                    };
                    out.push(
                        Diagnostic::new::<ExtraInfoTooLong>(Location::Value(format!("{}/parameters/{param}", lc.pointer)),
                            format!(
                                "`{param}` is {at_least}{len} characters as JSON; {} accepts at most {max}{}",
                                integration.provider.as_str(),
                                if integration.provider == Provider::Liveperson { " and sends a longer one empty" } else { "" }
                            ),
                        )
                        .help("send less: keep ids and let the agent look the rest up"),
                    );
                }
            }
        }
    }
}
