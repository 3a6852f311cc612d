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
mod golden;
mod runner;

// The test file's format is a shape the linter reads too, so it lives in the model.
use crate::model::{mocks, test_file as format};

pub use crate::conversation::Coverage;
pub use coverage::{CoverageReport, HandoverCoverage};
pub use discover::discover;
pub use format::{
    conversation_from_events, parse_duration, Conversation, Expect, Start, Step, TestFile,
    STEP_KINDS,
};
pub use golden::{Bubble, DiffRow, GoldenDiff};
pub use runner::{
    load, run_conversation, run_file, ConversationResult, FileResult, RunOptions, Target,
    DEFAULT_CLOCK,
};
