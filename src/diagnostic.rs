//! Diagnostics: what `fluxo lint` reports.
//!
//! A [`Diagnostic`] says *what* is wrong and *where* in JSON terms (a JSON Pointer, plus an
//! optional range inside a string value). The loader resolves that to file, line and column
//! ([`Located`]); renderers in [`crate::render`] decide how it looks.

use serde::Serialize;
use std::ops::Range;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A hint that changes nothing at run time.
    Info,
    /// Probably a mistake; the flow still runs.
    Warning,
    /// The flow is wrong or will misbehave.
    Error,
}

impl Severity {
    /// Lower-case name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A text edit that repairs a finding (`fluxo lint --fix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// Byte range in the file to replace.
    pub range: Range<usize>,
    /// Replacement text.
    pub replacement: String,
}

/// A finding, located in JSON terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Stable kebab-case rule name.
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
    /// JSON Pointer of the offending value ("" is the whole document).
    pub pointer: String,
    /// Byte range inside the decoded string value at `pointer`, when the problem is a part of it.
    #[serde(skip)]
    pub inner: Option<Range<usize>>,
    /// Where the finding is in the file, when known directly (syntax errors have no pointer).
    #[serde(skip)]
    pub raw: Option<Range<usize>>,
    /// Label under the caret.
    #[serde(skip)]
    pub label: Option<String>,
    /// A suggestion.
    pub help: Option<String>,
    /// A machine-applicable repair.
    #[serde(skip)]
    pub fix: Option<Edit>,
}

impl Diagnostic {
    /// A finding at a JSON Pointer.
    pub fn new(
        code: &'static str,
        severity: Severity,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            pointer: pointer.into(),
            inner: None,
            raw: None,
            label: None,
            help: None,
            fix: None,
        }
    }

    /// Narrows the finding to a byte range inside the string value at the pointer.
    pub fn inner(mut self, range: Range<usize>) -> Self {
        self.inner = Some(range);
        self
    }

    /// Places the finding at a byte range of the file.
    pub fn raw(mut self, range: Range<usize>) -> Self {
        self.raw = Some(range);
        self
    }

    /// Adds a label shown under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a repair.
    pub fn fix(mut self, edit: Edit) -> Self {
        self.fix = Some(edit);
        self
    }
}

/// A diagnostic resolved to a file position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    /// Stable rule name.
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// File path as given.
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start (characters).
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column just past the end.
    pub end_column: usize,
    /// JSON Pointer of the offending value.
    pub pointer: String,
    /// A suggestion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Byte range in the file.
    #[serde(skip)]
    pub range: Range<usize>,
    /// Label under the caret.
    #[serde(skip)]
    pub label: Option<String>,
    /// A machine-applicable repair.
    #[serde(skip)]
    pub fix: Option<Edit>,
}
