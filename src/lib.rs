//! fluxo: interpreter, linter and test runner for builder flows.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod compile;
pub mod diagnostic;
#[cfg(feature = "drivers")]
pub mod drivers;
pub mod engine;
pub mod expr;
pub mod graph;
pub mod integrations;
pub mod json;
pub mod lint;
pub mod model;
pub mod provider;
pub mod render;
#[cfg(feature = "drivers")]
pub mod runtime;
pub mod schema;
pub mod source;
pub mod testing;
pub mod watson;
