//! Network tests: the library of `src/network/` against real namespaces (see harness.rs), and
//! `[network]` through `launcher up` (up.rs).

mod bridge;
mod cleanup;
mod harness;
mod names;
mod rootless;
mod up;
