//! The native API (`/api/v1`): its routes, its views (the JSON shapes) and
//! its error shape. It is the first user of the dialect seam
//! ([`crate::dialect`]); the five dialects will sit beside it.

pub mod error;
pub mod routes;
pub mod views;
