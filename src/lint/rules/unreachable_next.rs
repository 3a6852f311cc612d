//! `unreachable-next`

use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;

declare_rule! {
    /// ## What it does
    /// Reports a `next` entry written after one without a `condition`.
    ///
    /// ## Why it matters
    /// The first `next` whose condition holds decides, and an entry without a condition always
    /// holds: every entry after it is dead, like code after a `return`. Usually the catch-all
    /// was meant to come last.
    ///
    /// ## Example
    /// ```json
    /// "next": [ { "goto": "menu" }, { "condition": "input.text == 'sair'", "goto": "tchau" } ]
    /// ```
    pub struct UnreachableNext => "unreachable-next", Warning;
}

impl FlowRule for UnreachableNext {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        for n in &ctx.flow.nodes {
            // A condition that did not parse is compiled as none; it was written all the same
            // (`expression-syntax` reports it), so it does not make the entry a catch-all.
            let written = |k: usize| {
                ctx.flow.diagnostics.iter().any(|d| {
                    let at = d.pointer().strip_prefix(n.pointer.as_str());
                    let at = at.and_then(|r| r.strip_prefix("/next/"));
                    let at = at.and_then(|r| r.strip_suffix("/condition"));
                    at.and_then(crate::source::array_index) == Some(k)
                })
            };
            let Some(first) = n
                .next
                .iter()
                .enumerate()
                .position(|(k, x)| x.condition.is_none() && !written(k))
            else {
                continue;
            };
            for k in first + 1..n.next.len() {
                out.push(
                    Diagnostic::new::<UnreachableNext>(
                        Location::Value(format!("{}/next/{k}", n.pointer)),
                        format!(
                            "this `next` of node {} is never taken: `next/{first}` has no condition and always holds",
                            n.label()
                        ),
                    )
                    .also(
                        Location::Value(format!("{}/next/{first}", n.pointer)),
                        "always taken",
                    )
                    .help("move the entry without a condition to the end of the list"),
                );
            }
        }
    }
}
