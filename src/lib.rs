//! fluxo: interpreter, linter and test runner for builder flows.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod expr;
pub mod json;
pub mod source;
pub mod model;
pub mod integrations;
pub mod compile;
