//! Images: references, sources (registries, OCI layouts, docker archives), the layer store,
//! unpacking, the layered lookup that preflight uses instead of a mount, and Container.lock.
//!
//! The lead's entry points: [`Reference::parse`], [`pull::pull`] / [`pull::ensure`] (no client
//! and no TLS unless the image must be fetched), [`Store::lookup`], [`Store::layer_paths`],
//! [`Store::config`] (→ [`config::RunConfig`]), [`lookup::LayerStack`], [`lockfile::LockFile`].

pub mod config;
pub mod digest;
pub mod error;
mod fetch;
pub mod lockfile;
pub mod lookup;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod resolve;
pub mod source;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use error::{ErrorKind, ImageError};
pub use platform::Platform;
pub use reference::{Reference, RegistryRef};
pub use store::{ImageRecord, Store, WhiteoutForm};
