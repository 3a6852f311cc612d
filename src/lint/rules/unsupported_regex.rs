//! `unsupported-regex`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a regex (a `/…/` literal, or the pattern string given to `matches`) that the
    /// linear-time regex engine cannot run: backreferences, look-around, unknown flags.
    ///
    /// ## Why it matters
    /// fluxo never runs a pattern that can take exponential time on hostile input; such a
    /// pattern fails at run time instead of hanging the conversation.
    ///
    /// ## Example
    /// ```text
    /// /(\d)\1/.test(input.text)
    /// ```
    pub struct UnsupportedRegex => "unsupported-regex", Error;
}
