//! `expression-syntax`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a condition or a `<? … ?>` segment that does not parse: unbalanced parentheses,
    /// a single `=`, an unterminated string or segment, an empty `<? ?>`, nesting deeper than
    /// 64 levels.
    ///
    /// ## Why it matters
    /// The builder evaluates a broken condition as false and a broken template as an error at
    /// run time, in front of the user.
    ///
    /// ## Example
    /// ```text
    /// input_text='1001'
    /// ```
    /// A single `=` is an assignment: write `input.text == '1001'`.
    pub struct ExpressionSyntax => "expression-syntax", Error;
}
