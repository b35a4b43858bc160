//! Network tests: the library of `src/network/` against real namespaces (see harness.rs).

mod bridge;
mod harness;
