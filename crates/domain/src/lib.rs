//! # slipway-domain: the CD product model and its use cases
//!
//! Projects, applications and their triggers, workflow definitions and
//! their compilation into `slipway-core` plans, namespaces and workloads,
//! releases, approvals and tickets, secrets, tokens and permissions. Its use
//! cases (dispatch, redeploy, cancel, approve, ...) are what every HTTP
//! dialect calls.
//!
//! **Depends on** `slipway-core` only. **Must not depend on** HTTP, SQL,
//! git libraries, process execution or any dialect: storage is reached
//! through traits defined here and implemented in `slipway-store`.
//!
//! Empty for now: filled by the issues "The server..." (projects, workflow
//! definitions, tokens) and "Applications and triggers..." (applications,
//! secrets, triggers).
