//! # slipway-git: git sourcing with gix
//!
//! Implements `slipway_core::source::GitSource`: a mirror cache of bare
//! repositories in the data directory, refs, files at a ref, checkouts into
//! job workspaces and workflow definitions loaded from git.
//!
//! **Depends on** `slipway-core` and `gix`. **Must not depend on** HTTP,
//! SQL, process execution or any dialect.
//!
//! Empty for now: filled by the issue "Git sourcing with gix...".
