//! fluxo: interpreter, linter and test runner for builder flows.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod expr;
pub mod json;
pub mod source;
pub mod model;
pub mod render;
pub mod integrations;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compile;
pub mod lint;
pub mod schema;
pub mod watson;
