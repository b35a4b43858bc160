//! The OCI runtime front end: an OCI bundle's `config.json` becomes the same [`Spec`] (and
//! the same plan) a Container.toml makes, run by the same runtime, and runc's commands
//! (create, start, state, kill, delete, exec, ...) act on containers kept under a state
//! folder of their own (`--root`). Engines (podman, containerd's shim) drive it as they
//! drive runc.
//!
//! [`Spec`]: crate::plan::Spec

pub mod config;
pub mod control;
pub mod create;
mod error;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod locate;
pub mod spec;
pub mod state;

pub use error::OciError;
