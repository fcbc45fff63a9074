//! # slipway-http: the HTTP face of Slipway
//!
//! actix-web handlers for the native REST API (with its OpenAPI document)
//! and the five dialects, token auth, Server-Sent Events for live logs, and
//! the one place where errors become status codes.
//!
//! **Depends on** `slipway-domain` and `slipway-core`. **Must not** hold
//! product logic: a dialect translates paths, field names, status words,
//! time formats and error shapes to and from the domain's use cases.
//!
//! Empty for now: filled by the issue "The server: one binary, the native
//! REST API, tokens, live logs, OpenAPI, metrics" and the dialect issues.
