//! # slipway-testkit: fixtures the crates' tests and examples share
//!
//! Test support only: `publish = false`, and every crate that uses it has it
//! as a dev-dependency. [`git`] makes fixture repositories with the git CLI
//! and serves them with `git daemon`; [`plan`] builds the one-stage plans
//! most tests run; [`record`] writes status changes; [`webhook`] encodes bodies the way
//! providers send them; [`loads`] starts the loads the git and store tests poll;
//! [`programs`] finds the programs the runtime's tests run (`tiny_http`).
//! Helpers panic with a message saying what failed, as tests do.
//!
//! **Depends on** `slipway-core` and `slipway-domain` for their types; no
//! crate may depend on it outside `[dev-dependencies]`.

#![allow(clippy::missing_panics_doc)]

pub mod git;
pub mod loads;
pub mod plan;
pub mod programs;
pub mod record;
pub mod webhook;
