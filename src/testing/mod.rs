//! Conversation tests: the format flow authors (and this project) write, the runner behind
//! `fluxo test`, golden transcripts, and coverage.
//!
//! A test file (`*.test.json`, schema in `schemas/test.schema.json`) names a flow and holds
//! conversations. Each conversation is a list of steps: what the user, the agent, the provider
//! and the clock do, and `expect` steps that check what the bot did in answer to the step
//! before. A golden transcript (`golden`) pins everything the bot did, and shows a diff that
//! names the line when it changes; `fluxo test --bless` rewrites it.
//!
//! The runner is written once on [`crate::conversation::Dialog`], so a test file runs on a
//! builder flow or a Watson workspace alike.

mod coverage;
mod discover;
mod format;
mod golden;
mod mocks;
mod runner;

pub use crate::conversation::Coverage;
pub use coverage::{CoverageReport, HandoverCoverage};
pub use discover::discover;
pub use format::{
    conversation_from_events, parse_duration, Conversation, Expect, Start, Step, TestFile,
    STEP_KINDS,
};
pub use runner::{
    load, run_conversation, run_file, ConversationResult, FileResult, RunOptions, Target,
    DEFAULT_CLOCK,
};

use crate::diagnostic::{Diagnostic, Location};
use crate::schema::Schema;
use serde_json::Value as Json;

/// The linter's findings for a test file: the same sentences `fluxo test` prints for it.
pub(crate) fn lint_test_value(value: &Json) -> Vec<Diagnostic> {
    match TestFile::check(value) {
        Ok(()) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|(pointer, message)| Diagnostic::new::<Schema>(Location::Value(pointer), message))
            .collect(),
    }
}
