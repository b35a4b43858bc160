//! Integration tests: one binary, with helpers that make tests read like specs.

mod util;

mod corpus;
mod examples;
mod image;
mod lifecycle;
mod limits;
mod schema;
mod up;
