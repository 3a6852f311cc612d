//! `unknown-goto-target`

use super::FlowRule;
use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::lint::LintContext;
use crate::text::Suggester;

declare_rule! {
    /// ## What it does
    /// Reports a `next[].goto` that names no node of the flow.
    ///
    /// ## Why it matters
    /// The builder drops the destination: the conversation stops where the author expected it
    /// to move on.
    ///
    /// ## Example
    /// ```json
    /// { "goto": "pesquisa_satisfacao" }
    /// ```
    /// when the node is called `pesquisa`.
    pub struct UnknownGotoTarget => "unknown-goto-target", Error;
}

impl FlowRule for UnknownGotoTarget {
    fn check(ctx: &LintContext<'_>, out: &mut Vec<Diagnostic>) {
        let ids: Vec<&str> = ctx.flow.nodes.iter().map(|n| n.id.as_str()).collect();
        let mut suggester: Option<Suggester<'_>> = None;
        for n in &ctx.flow.nodes {
            for (k, x) in n.next.iter().enumerate() {
                if x.target.is_none() {
                    let mut d = Diagnostic::new::<UnknownGotoTarget>(
                        Location::Value(format!("{}/next/{k}/goto", n.pointer)),
                        format!("no node has the id `{}`", x.goto),
                    );
                    let s = suggester.get_or_insert_with(|| Suggester::new(&ids));
                    if let Some(c) = s.closest(&x.goto) {
                        d = d.help(format!("did you mean `{c}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
}
