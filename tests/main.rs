//! Integration tests: one binary, with helpers that make tests read like specs.

mod util;

mod architecture;
mod corpus;
mod examples;
mod image;
mod lifecycle;
mod limits;
mod network;
mod schema;
mod steps;
mod up;
mod userns;
