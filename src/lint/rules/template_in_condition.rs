//! `template-in-condition`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports `<? … ?>` delimiters inside an entry condition, a `next` condition or a
    /// conditional response's condition.
    ///
    /// ## Why it matters
    /// Conditions are written bare; the builder does not strip the delimiters, so the
    /// condition never holds. fluxo reads what is inside so the rest of the flow can be checked.
    ///
    /// ## Example
    /// ```json
    /// { "condition": "<? $vip ?>", "goto": "vip" }
    /// ```
    /// Write `"condition": "$vip"`.
    pub struct TemplateInCondition => "template-in-condition", Error;
}
