//! launcher: Linux containers declared in a Container.toml.
//!
//! The pipeline (ARCHITECTURE.md has the map): [`config::load`] reads the file and
//! [`config::spec`] validates it into a [`plan::Spec`]; [`preflight::check`] learns the host
//! [`plan::Facts`]; [`plan::Plan::build`] orders both into steps; [`runtime::up`] runs them.
//! [`sys`] is the one layer over the kernel.

pub mod config;
pub mod diagnostic;
pub mod image;
pub mod lifecycle;
pub mod network;
pub mod oci;
pub mod plan;
pub mod preflight;
pub mod runtime;
pub mod schema;
pub mod state;
pub mod sys;
