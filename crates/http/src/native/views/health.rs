//! The health checks.

use serde::Serialize;
use utoipa::ToSchema;

/// The answer of the health checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable`.
    pub status: String,
    /// What failed, when something did.
    pub error: Option<String>,
}
