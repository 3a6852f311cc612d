//! `variable-never-assigned`

use super::variable_maybe_unset::var_name;
use super::{each_distinct_tree, FlowRule};
use crate::compile::{CompiledFlow, Role};
use crate::diagnostic::{declare_rule, Diagnostic};
use crate::lint::LintContext;
use std::collections::BTreeSet;

declare_rule! {
    /// ## What it does
    /// Reports a `$variable` (or `context.variable`) that is read somewhere — in a template or
    /// in a condition, guarded or not — and assigned nowhere in the flow: no node's `context`
    /// key, no action's `result_variable`, not listed in `start_context` (what the `start`
    /// event supplies). Each read is reported, with the assigned variable it most likely means.
    ///
    /// ## Why it matters
    /// A variable that nothing assigns is a typo, not an expected unset: a template renders it
    /// empty, a comparison with it is always false, so the branch it guards never fires.
    ///
    /// ## Example
    /// ```json
    /// { "id": "nota", "context": { "nota": "<? input.text ?>" }, "next": [ { "condition": "$nota_cliente >= 4", "goto": "obrigado" } ] }
    /// ```
    /// `$nota_cliente` is assigned nowhere: the flow assigns `$nota`.
    pub struct VariableNeverAssigned => "variable-never-assigned", Error;
}

/// Every variable the flow assigns, or the start event supplies.
pub(super) fn assigned(flow: &CompiledFlow) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = flow.start_context.iter().map(String::as_str).collect();
    for n in &flow.nodes {
        out.extend(n.context.iter().map(|(k, _)| k.as_str()));
        out.extend(
            n.actions
                .iter()
                .filter_map(|a| a.result_variable.as_deref()),
        );
    }
    out
}

/// The assigned variable `name` most likely means: a close spelling, else one that `name`
/// extends or shortens by whole `_` words (`nota_cliente` → `nota`, `cliente_nome` → `nome`).
fn meant<'a>(name: &str, assigned: &[&'a str]) -> Option<&'a str> {
    if let Some(c) = crate::text::closest(name, assigned) {
        return Some(c);
    }
    let words = |s: &str| -> Vec<String> { s.split('_').map(str::to_lowercase).collect() };
    let w = words(name);
    assigned
        .iter()
        .copied()
        .filter(|c| {
            let cw = words(c);
            let (short, long) = if cw.len() < w.len() {
                (&cw, &w)
            } else {
                (&w, &cw)
            };
            short.len() < long.len()
                && !short.iter().all(String::is_empty)
                && (long.starts_with(short) || long.ends_with(short))
        })
        .max_by_key(|c| (c.len(), std::cmp::Reverse(*c)))
}

impl FlowRule for VariableNeverAssigned {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let flow = ctx.flow;
        let assigned = assigned(flow);
        let candidates: Vec<&str> = assigned.iter().copied().collect();
        // Whether a tree reads a variable assigned nowhere does not depend on its site.
        each_distinct_tree(flow, out, |site, expr, out| {
            let mut reads = Vec::new();
            expr.walk(&mut |e| {
                if let Some(name) = var_name(e) {
                    if !assigned.contains(name) {
                        reads.push((name.to_owned(), e.span.clone()));
                    }
                }
            });
            for (name, span) in reads {
                let what = match site.role() {
                    Role::Template => "renders empty",
                    _ => "is always null when this condition is evaluated",
                };
                let mut d = Diagnostic::new::<VariableNeverAssigned>(
                    flow.place(site).at(&span),
                    format!("`${name}` is assigned nowhere in this flow: it {what}"),
                );
                d = match meant(&name, &candidates) {
                    Some(c) => d.help(format!("did you mean `${c}`?")),
                    None => d.help(
                        "assign it in a node's `context` or an action's `result_variable`, or list it in `start_context` if the start event supplies it",
                    ),
                };
                out.push(d);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    /// Sites of one text share one tree, and the rule looks at each distinct tree once when it
    /// is clean: a read of an unassigned variable is still reported at every site, and a clean
    /// tree at none.
    #[test]
    fn every_site_of_a_shared_tree_is_reported() {
        let flow = r#"{"start_context": ["y"], "nodes": [
            {"id": "a", "condition": "start", "next": [{"condition": "$y > 1", "goto": "b"}, {"condition": "$x > 1", "goto": "b"}]},
            {"id": "b", "next": [{"condition": "$y > 1", "goto": "c"}, {"condition": "$x > 1", "goto": "c"}]},
            {"id": "c", "output": [{"default": {"type": "text", "text": "<? $x ?> <? $y ?>"}}]}
        ]}"#;
        let report = crate::lint::lint_bytes("f.json", flow.as_bytes(), &Default::default());
        let at: Vec<&str> = (report.findings.iter())
            .filter(|f| f.code == "variable-never-assigned")
            .map(|f| f.pointer.as_str())
            .collect();
        assert_eq!(
            at,
            [
                "/nodes/0/next/1/condition",
                "/nodes/1/next/1/condition",
                "/nodes/2/output/0/default/text"
            ]
        );
    }
}
