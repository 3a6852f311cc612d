//! `json-syntax`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports text that is not strict JSON: missing or trailing commas, comments, single quotes,
    /// unterminated strings, objects or arrays, a byte-order mark, invalid UTF-8, an empty file,
    /// values nested deeper than 512 levels.
    ///
    /// ## Why it matters
    /// The builder and its API read strict JSON; a file with a syntax error is rejected whole.
    /// The builder's own documentation has examples with a trailing comma after
    /// `"result_variable"` and a missing comma after `"skillId"`, so authors copy these defects.
    /// Missing and trailing commas are repaired in memory so every other rule still runs, and
    /// `fluxo lint --fix` writes the repair.
    ///
    /// ## Example
    /// ```json
    /// { "name": "start_live_chat", "result_variable": "response", }
    /// ```
    /// Remove the comma after `"response"`.
    pub struct JsonSyntax => "json-syntax", Error;
}
