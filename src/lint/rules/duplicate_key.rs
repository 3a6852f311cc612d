//! `duplicate-key`

use crate::lint::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports an object that has the same key twice.
    ///
    /// ## Why it matters
    /// JSON readers keep only the last value, silently: the first one is lost, usually a
    /// copy-and-paste mistake (two `"condition"` keys, two `"output"` arrays).
    ///
    /// ## Example
    /// ```json
    /// { "id": "menu", "condition": "#menu", "condition": "start" }
    /// ```
    pub struct DuplicateKey => "duplicate-key", Error;
}
