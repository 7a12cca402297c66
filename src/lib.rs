//! Strata: a BuildKit frontend that turns a short declarative spec into LLB that installs
//! dependencies from the manifests alone (with the package manager's cache mounted), then copies
//! the source, then assembles the image. See ARCHITECTURE.md for the map of this crate.

pub mod caps;
pub mod cli;
pub mod context;
pub mod diag;
pub mod explain;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod image;
pub mod llb;
pub mod lower;
pub mod options;
pub mod pattern;
pub mod plan;
pub mod platform;
pub mod recipe;
pub mod redact;
pub mod reference;
pub mod spec;
