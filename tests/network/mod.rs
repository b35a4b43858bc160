//! Network tests: the library of `src/network/` against real namespaces (see harness.rs).

mod bridge;
mod cleanup;
mod harness;
mod names;
mod rootless;
