//! Secrets: names and times, never values.

use super::{ActorView, SecretText};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::SecretMeta;
use utoipa::ToSchema;

/// A stored secret: its name and times, never its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    /// Its name (an environment variable name).
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When its value last changed.
    pub updated_at: DateTime<Utc>,
    /// Who set its value last.
    pub updated_by: Option<ActorView>,
}

moved_fields!(SecretMeta as s => SecretView { name, created_at, updated_at;
    updated_by: s.updated_by.map(Into::into),
});

/// The secrets of a project or application.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// Every secret, by name.
    pub items: Vec<SecretView>,
}

/// A secret's value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretPut {
    /// The value (1 byte to 64 KiB); never shown again.
    #[schema(value_type = String)]
    pub value: SecretText,
}
