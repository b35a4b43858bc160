//! Integration tests: one binary, with helpers that make tests read like specs.

mod util;

mod corpus;
mod examples;
mod lifecycle;
mod limits;
mod network;
mod schema;
mod up;
