//! The rules: one unit per file, each a type that carries its stable name, default severity and
//! documentation. [`registry`] lists every rule once — the stage rules (reported by the
//! pipeline stage that detects them) and the semantic rules (run here) — and `fluxo rule`, the
//! SARIF driver and the linter all read it.

use super::LintContext;
use crate::compile::{CAction, CValue, CompiledFlow, Site};
use crate::diagnostic::{Diagnostic, Rule, RuleMeta};
use crate::domain::{BuiltinAction, INTEGRATION_ID};
use crate::expr::Expr;
use crate::model::{normalise_id, Integration};
use serde_json::Value as Json;

mod constant_condition;
mod duplicate_node_id;
mod extra_info_too_long;
mod input_field;
mod integrations;
mod live_chat_status_without_hand_over;
mod live_chat_without_open_input;
mod loop_without_input;
mod missing_integration_id;
mod missing_start_node;
mod output_after_hand_over;
mod unhandled_live_chat_status;
mod unknown_action;
mod unknown_goto_target;
mod unknown_integration;
mod unknown_live_chat_status;
mod unknown_method;
mod unknown_option;
mod unknown_variable_root;
mod unreachable_next;
mod unreachable_node;
mod unsupported_parameter;
pub(crate) mod unused_suppression;
mod variable_maybe_unset;
mod variable_never_assigned;
pub(crate) mod watson;
mod watson_broken_siblings;
mod watson_invalid_value;
mod watson_jump_loop;
mod watson_jump_without_target;
mod watson_parent_cycle;
mod watson_skip_without_children;
pub(crate) mod watson_tree;
mod watson_undefined_entity;
mod watson_undefined_intent;
mod watson_unsupported_regex;

pub(crate) use constant_condition::check_condition as constant_condition;
pub(crate) use unknown_method::{check_expr as unknown_method, table_text as method_table};
pub(crate) use unknown_variable_root::check_expr as unknown_variable_root;

/// Runs `check` on every site whose tree it has not yet found clean. Sites of the same text
/// share one tree, and a rule that looks only at the tree finds the same things at each of
/// them: once a tree has no finding, its other sites are skipped. (A rule whose findings depend
/// on the node or the role must not use this.)
pub(crate) fn each_distinct_tree(
    flow: &CompiledFlow,
    out: &mut Vec<Diagnostic>,
    mut check: impl FnMut(&Site, &Expr, &mut Vec<Diagnostic>),
) {
    let mut clean = vec![false; flow.tree_count()];
    for s in &flow.sites {
        let Some(expr) = flow.expr(s) else { continue };
        if clean.get(s.tree()).copied().unwrap_or(false) {
            continue;
        }
        let before = out.len();
        check(s, expr, out);
        if out.len() == before {
            if let Some(c) = clean.get_mut(s.tree()) {
                *c = true;
            }
        }
    }
}

/// A rule that looks at a compiled flow.
pub(crate) trait FlowRule: Rule {
    /// Adds the rule's findings about `ctx.flow`.
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>);
}

/// A rule that looks at an integrations file.
pub(crate) trait IntegrationsRule: Rule {
    /// Adds the rule's findings about the integrations file `value`.
    fn check(value: &Json, out: &mut Vec<Diagnostic>);
}

/// A rule that looks at the structure of a Watson workspace. (The rules over its expressions
/// run as [`watson`] walks them.)
pub(crate) trait WatsonRule: Rule {
    /// Adds the rule's findings about the workspace `tree`.
    fn check(tree: &watson_tree::Tree<'_>, out: &mut Vec<Diagnostic>);
}

/// Declares every rule once: the stage rules (documentation only, reported by their stage), the
/// rules over flows, over integrations files, and over Watson workspaces.
macro_rules! registry {
    (
        stage: [$($stage:ty),* $(,)?],
        flow: [$($flow:ty),* $(,)?],
        integrations: [$($integ:ty),* $(,)?],
        watson: [$($watson:ty),* $(,)?],
        stage_watson: [$($wexpr:ty),* $(,)?] $(,)?
    ) => {
        /// Every rule, sorted by name.
        pub fn registry() -> Vec<&'static RuleMeta> {
            let mut v: Vec<&'static RuleMeta> = vec![
                $(<$stage as Rule>::meta(),)*
                $(<$flow as Rule>::meta(),)*
                $(<$integ as Rule>::meta(),)*
                $(<$watson as Rule>::meta(),)*
                $(<$wexpr as Rule>::meta(),)*
            ];
            v.sort_by_key(|m| m.code);
            v
        }

        /// Runs every rule over a compiled flow.
        pub(crate) fn run_flow(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
            $(<$flow as FlowRule>::check(ctx, out);)*
        }

        /// Runs every rule over an integrations file.
        pub(crate) fn run_integrations(value: &Json, out: &mut Vec<Diagnostic>) {
            $(<$integ as IntegrationsRule>::check(value, out);)*
        }

        /// Runs every structural rule over a Watson workspace.
        pub(crate) fn run_watson(tree: &watson_tree::Tree<'_>, out: &mut Vec<Diagnostic>) {
            $(<$watson as WatsonRule>::check(tree, out);)*
        }
    };
}

registry! {
    stage: [
        crate::source::json::JsonSyntax,
        crate::source::json::DuplicateKey,
        crate::schema::Schema,
        crate::compile::ExpressionSyntax,
        crate::compile::UnsupportedRegex,
        crate::compile::TemplateInCondition,
        unused_suppression::UnusedSuppression,
    ],
    flow: [
        duplicate_node_id::DuplicateNodeId,
        unknown_goto_target::UnknownGotoTarget,
        missing_start_node::MissingStartNode,
        unknown_variable_root::UnknownVariableRoot,
        input_field::UnknownInputField,
        unknown_method::UnknownMethod,
        constant_condition::ConstantCondition,
        unknown_action::UnknownAction,
        unknown_option::UnknownOption,
        missing_integration_id::MissingIntegrationId,
        unknown_integration::UnknownIntegration,
        integrations::IntegrationsSimulated,
        live_chat_without_open_input::LiveChatWithoutOpenInput,
        unhandled_live_chat_status::UnhandledLiveChatStatus,
        live_chat_status_without_hand_over::LiveChatStatusWithoutHandOver,
        unknown_live_chat_status::UnknownLiveChatStatus,
        output_after_hand_over::OutputAfterHandOver,
        extra_info_too_long::ExtraInfoTooLong,
        unsupported_parameter::UnsupportedParameter,
        unreachable_node::UnreachableNode,
        unreachable_next::UnreachableNext,
        loop_without_input::LoopWithoutInput,
        variable_maybe_unset::VariableMaybeUnset,
        variable_never_assigned::VariableNeverAssigned,
    ],
    integrations: [
        integrations::DuplicateIntegrationId,
        integrations::InlineSecret,
        integrations::ExperimentalProvider,
    ],
    watson: [
        watson_parent_cycle::WatsonParentCycle,
        watson_broken_siblings::WatsonBrokenSiblings,
        watson_invalid_value::WatsonInvalidValue,
        watson_jump_without_target::WatsonJumpWithoutTarget,
        watson_skip_without_children::WatsonSkipWithoutChildren,
        watson_jump_loop::WatsonJumpLoop,
        watson_unsupported_regex::WatsonUnsupportedRegex,
    ],
    // Run as the Watson expressions are walked (`watson::analyse`), listed for `fluxo rule`.
    stage_watson: [
        watson_undefined_intent::WatsonUndefinedIntent,
        watson_undefined_entity::WatsonUndefinedEntity,
    ],
}

/// The rule named `code`.
pub fn find(code: &str) -> Option<&'static RuleMeta> {
    registry().into_iter().find(|m| m.code == code)
}

/// A `start_live_chat` action of the flow.
pub(crate) struct LiveChat<'a> {
    /// Node index.
    pub node: usize,
    /// The action.
    pub action: &'a CAction,
    /// JSON Pointer of the action.
    pub pointer: String,
}

/// Every `start_live_chat` action, in file order.
pub(crate) fn live_chats<'a>(ctx: &'a LintContext<'_>) -> impl Iterator<Item = LiveChat<'a>> + 'a {
    ctx.flow.nodes.iter().enumerate().flat_map(|(ni, n)| {
        n.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| BuiltinAction::parse(&a.name) == Some(BuiltinAction::StartLiveChat))
            .map(move |(ai, a)| LiveChat {
                node: ni,
                action: a,
                pointer: format!("{}/actions/{ai}", n.pointer),
            })
    })
}

/// The integration a hand-over uses, when the integrations file is given and the id is literal.
pub(crate) fn integration_of<'a>(
    ctx: &LintContext<'a>,
    action: &CAction,
) -> Option<&'a Integration> {
    let id = action
        .param(INTEGRATION_ID)?
        .literal()
        .and_then(|id| normalise_id(&id))?;
    ctx.integrations?.find(&id)
}

/// Renders a compiled value with nothing in scope: templates contribute only their literal
/// text, which gives the shortest form the value can take.
pub(crate) fn minimal_text(v: &CValue) -> String {
    let mut ev = crate::expr::Evaluator::new(
        crate::expr::Scope::empty(),
        Default::default(),
        crate::expr::Dialect::Builder,
    );
    match v.render(&mut ev) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub(crate) use crate::text::did_you_mean;
