//! The rules: one unit per file, each with its stable name, default severity and documentation.
//!
//! Stage rules (`json-syntax`, `duplicate-key`, `schema`, `expression-syntax`,
//! `unsupported-regex`, `template-in-condition`) are reported by the pipeline stage that
//! detects them; their units here carry the documentation. Semantic rules run in [`run_all`].

use super::{LintContext, RuleMeta};
use crate::compile::{CAction, CValue};
use crate::diagnostic::Diagnostic;
use crate::integrations::{normalise_id, Integration};

pub mod constant_condition;
pub mod duplicate_key;
pub mod duplicate_node_id;
pub mod expression_syntax;
pub mod extra_info_too_long;
pub mod integrations;
pub mod json_syntax;
pub mod live_chat_without_open_input;
pub mod loop_without_input;
pub mod missing_integration_id;
pub mod missing_start_node;
pub mod schema;
pub mod template_in_condition;
pub mod unhandled_live_chat_status;
pub mod unknown_action;
pub mod unknown_goto_target;
pub mod unknown_integration;
pub mod unknown_live_chat_status;
pub mod unknown_method;
pub mod unknown_variable_root;
pub mod unreachable_node;
pub mod unsupported_parameter;
pub mod unsupported_regex;
pub mod variable_maybe_unset;

/// Marks a diagnostic whose position is the *key* at its pointer, not the value.
pub const KEY_LABEL: &str = "\u{0}key";

/// Every rule, sorted by name.
pub fn all() -> Vec<RuleMeta> {
    let mut v = vec![
        constant_condition::ConstantCondition::META,
        duplicate_key::DuplicateKey::META,
        duplicate_node_id::DuplicateNodeId::META,
        expression_syntax::ExpressionSyntax::META,
        extra_info_too_long::ExtraInfoTooLong::META,
        integrations::DuplicateIntegrationId::META,
        integrations::InlineSecret::META,
        integrations::IntegrationsSimulated::META,
        json_syntax::JsonSyntax::META,
        live_chat_without_open_input::LiveChatWithoutOpenInput::META,
        loop_without_input::LoopWithoutInput::META,
        missing_integration_id::MissingIntegrationId::META,
        missing_start_node::MissingStartNode::META,
        schema::Schema::META,
        template_in_condition::TemplateInCondition::META,
        unhandled_live_chat_status::UnhandledLiveChatStatus::META,
        unknown_action::UnknownAction::META,
        unknown_goto_target::UnknownGotoTarget::META,
        unknown_integration::UnknownIntegration::META,
        unknown_live_chat_status::UnknownLiveChatStatus::META,
        unknown_method::UnknownMethod::META,
        unknown_variable_root::UnknownVariableRoot::META,
        unreachable_node::UnreachableNode::META,
        unsupported_parameter::UnsupportedParameter::META,
        unsupported_regex::UnsupportedRegex::META,
        variable_maybe_unset::VariableMaybeUnset::META,
    ];
    v.sort_by_key(|m| m.code);
    v
}

/// The rule named `code`.
pub fn find(code: &str) -> Option<RuleMeta> {
    all().into_iter().find(|m| m.code == code)
}

/// Runs every semantic rule.
pub fn run_all(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
    duplicate_node_id::check(ctx, out);
    unknown_goto_target::check(ctx, out);
    missing_start_node::check(ctx, out);
    unknown_variable_root::check(ctx, out);
    unknown_method::check(ctx, out);
    constant_condition::check(ctx, out);
    unknown_action::check(ctx, out);
    missing_integration_id::check(ctx, out);
    unknown_integration::check(ctx, out);
    integrations::simulated(ctx, out);
    live_chat_without_open_input::check(ctx, out);
    unhandled_live_chat_status::check(ctx, out);
    unknown_live_chat_status::check(ctx, out);
    extra_info_too_long::check(ctx, out);
    unsupported_parameter::check(ctx, out);
    unreachable_node::check(ctx, out);
    loop_without_input::check(ctx, out);
    variable_maybe_unset::check(ctx, out);
}

/// The statuses a live chat can end with.
pub const CLOSE_STATUSES: &[&str] = &[
    "agent_closed",
    "user_closed",
    "timeout",
    "user_inactivity_timeout",
    "error",
    "out_of_hours",
];

/// A `start_live_chat` action of the flow.
pub struct LiveChat<'a> {
    /// Node index.
    pub node: usize,
    /// Action index within the node.
    pub index: usize,
    /// The action.
    pub action: &'a CAction,
    /// JSON Pointer of the action.
    pub pointer: String,
}

/// Every `start_live_chat` action, in file order.
pub fn live_chats<'a>(ctx: &'a LintContext<'_>) -> impl Iterator<Item = LiveChat<'a>> + 'a {
    ctx.flow.nodes.iter().enumerate().flat_map(|(ni, n)| {
        n.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.name == "start_live_chat")
            .map(move |(ai, a)| LiveChat {
                node: ni,
                index: ai,
                action: a,
                pointer: format!("{}/actions/{ai}", n.pointer),
            })
    })
}

/// The integration a hand-over uses, when the integrations file is given and the id is literal.
pub fn integration_of<'a>(ctx: &LintContext<'a>, action: &CAction) -> Option<&'a Integration> {
    let id = action
        .param("integration_id")?
        .literal()
        .and_then(normalise_id)?;
    ctx.integrations?.find(&id)
}

/// Renders a compiled value with nothing in scope: templates contribute only their literal
/// text, which gives the shortest form the value can take.
pub fn minimal_text(v: &CValue) -> String {
    let mut ev = crate::expr::eval::Evaluator::new(crate::expr::Scope::empty(), Default::default());
    match v.render(&mut ev) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// "did you mean `x`?" when a candidate is close.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    crate::schema::closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}
