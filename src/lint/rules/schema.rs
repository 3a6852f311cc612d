//! `schema`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Checks the file against `schemas/flow.schema.json` or `schemas/integrations.schema.json`:
    /// required fields, value types, unknown fields (with a suggestion for typos), input types
    /// and providers.
    ///
    /// ## Why it matters
    /// A misspelt field (`"condtion"`) is ignored by the builder without a word, so the node
    /// silently loses its entry point.
    ///
    /// ## Example
    /// ```json
    /// { "id": "menu", "condtion": "#menu" }
    /// ```
    /// `unknown field "condtion"` — did you mean `condition`?
    pub struct Schema => "schema", Error;
}
