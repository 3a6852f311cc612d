//! Diagnostics: what `fluxo lint` reports, in one model every stage and rule shares.
//!
//! A [`Diagnostic`] says *what* is wrong (its rule, a message, a help) and *where* in JSON terms
//! (a typed [`Location`]: a value, a key, a range inside a string, or raw bytes), with optional
//! secondary labels. The source stage resolves locations to file, line and column
//! ([`Located`]); renderers decide how a finding looks, never what it says.
//!
//! A rule is a type that carries its code, default severity and documentation ([`Rule`]);
//! stages and semantic rules build diagnostics from the type, so codes and severities are
//! written once, in the rule's declaration.

use serde::Serialize;
use std::ops::Range;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
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

    /// The severity named `name` (`info`, `warning`, `error`).
    pub fn parse(name: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Error]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// What a rule is: its stable name, default severity, and documentation.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case name.
    pub code: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Documentation: *What it does / Why it matters / Example*.
    pub docs: &'static str,
}

/// A rule type: its code, default severity and documentation, declared once.
pub trait Rule {
    /// The rule's name, severity and documentation.
    fn meta() -> &'static RuleMeta;
}

/// Declares a rule type whose rustdoc is also what `fluxo rule NAME` prints.
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])+ pub struct $name:ident => $code:literal, $sev:ident;) => {
        $(#[doc = $doc])+
        pub struct $name;
        impl $crate::diagnostic::Rule for $name {
            fn meta() -> &'static $crate::diagnostic::RuleMeta {
                static META: $crate::diagnostic::RuleMeta = $crate::diagnostic::RuleMeta {
                    code: $code,
                    severity: $crate::diagnostic::Severity::$sev,
                    docs: concat!($($doc, "\n"),+),
                };
                &META
            }
        }
    };
}
pub(crate) use declare_rule;

/// Where a finding is, in JSON terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// The value at a JSON Pointer (`""` is the whole document).
    Value(String),
    /// The key of the member at a JSON Pointer (an unknown or duplicate field).
    Key(String),
    /// A byte range inside the decoded string value at a JSON Pointer (a part of an expression).
    InString(String, Range<usize>),
    /// A byte range of the file (syntax errors, which have no pointer).
    Raw(Range<usize>),
    /// A byte range of the file that is also known by a JSON Pointer (a duplicate key).
    Exact(String, Range<usize>),
}

impl Location {
    /// The JSON Pointer, when the location has one.
    pub fn pointer(&self) -> &str {
        match self {
            Location::Value(p)
            | Location::Key(p)
            | Location::InString(p, _)
            | Location::Exact(p, _) => p,
            Location::Raw(_) => "",
        }
    }

    /// The same location narrowed to a range inside its string (a value location only).
    pub fn narrow(self, range: Range<usize>) -> Location {
        match self {
            Location::Value(p) => Location::InString(p, range),
            other => other,
        }
    }
}

/// A caret and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Where.
    pub location: Location,
    /// Text under the caret.
    pub message: Option<String>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The rule that reports it.
    pub rule: &'static RuleMeta,
    /// Severity (the rule's default unless configured otherwise).
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
    /// Where: the primary caret.
    pub primary: Label,
    /// Other places that explain the finding (the first of two duplicates, …).
    pub secondary: Vec<Label>,
    /// A suggestion.
    pub help: Option<String>,
    /// A machine-applicable repair.
    pub fix: Option<Edit>,
    /// The flow node the finding is in, when it is in one.
    pub node: Option<NodeRef>,
}

/// A flow node as findings name it: its id, and its `name` when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    /// The node's `id`.
    pub id: String,
    /// The node's `name`, as the builder's canvas shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for NodeRef {
    /// `` `menu` (Menu) ``, or `` `menu` `` without a name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "`{}` ({name})", self.id),
            None => write!(f, "`{}`", self.id),
        }
    }
}

impl Diagnostic {
    /// A finding of rule `R` at `location`.
    pub fn new<R: Rule>(location: Location, message: impl Into<String>) -> Self {
        Self::of(R::meta(), location, message)
    }

    /// A finding of the rule described by `rule` at `location`.
    pub fn of(rule: &'static RuleMeta, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            rule,
            severity: rule.severity,
            message: message.into(),
            primary: Label {
                location,
                message: None,
            },
            secondary: Vec::new(),
            help: None,
            fix: None,
            node: None,
        }
    }

    /// The rule's code.
    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    /// The JSON Pointer of the primary location.
    pub fn pointer(&self) -> &str {
        self.primary.location.pointer()
    }

    /// Narrows the primary location to a byte range inside its string value.
    pub fn inner(mut self, range: Range<usize>) -> Self {
        self.primary.location = self.primary.location.narrow(range);
        self
    }

    /// Points the primary caret at the key of the member, not its value.
    pub fn at_key(mut self) -> Self {
        if let Location::Value(p) = &self.primary.location {
            self.primary.location = Location::Key(p.clone());
        }
        self
    }

    /// Adds a label under the primary caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.primary.message = Some(label.into());
        self
    }

    /// Adds a secondary caret at `location`.
    pub fn also(mut self, location: Location, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            location,
            message: Some(label.into()),
        });
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

    /// Overrides the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// A secondary caret resolved to a file position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocatedLabel {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (Unicode scalar values).
    pub column: usize,
    /// JSON Pointer, when the label has one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pointer: String,
    /// Text of the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Byte range in the file.
    #[serde(skip)]
    pub range: Range<usize>,
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
    /// 1-based column of the start (Unicode scalar values).
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
    /// Other places that explain the finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<LocatedLabel>,
    /// Byte range in the file.
    #[serde(skip)]
    pub range: Range<usize>,
    /// Label under the caret.
    #[serde(skip)]
    pub label: Option<String>,
    /// A machine-applicable repair.
    #[serde(skip)]
    pub fix: Option<Edit>,
    /// The flow node the finding is in (its id and name), when it is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeRef>,
}
