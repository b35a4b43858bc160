//! launcher: Linux containers declared in a Container.toml.
//!
//! The pipeline (see DESIGN.md): [`config::load`] reads the file, [`config::plan`] turns it into a
//! [`plan::Plan`] of ordered steps, [`preflight::check`] checks the host, and
//! [`runtime::up`] applies the steps.

pub mod config;
pub mod diagnostic;
pub mod lifecycle;
pub mod network;
pub mod plan;
pub mod preflight;
pub mod runtime;
pub mod schema;
pub mod state;
