//! API tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{ApiToken, NewToken};
use utoipa::ToSchema;

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// Its name, for people.
    pub name: String,
    /// Whether it may manage tokens.
    #[serde(default)]
    pub admin: bool,
}

/// An API token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The first characters of its secret.
    pub prefix: String,
    /// Whether it may manage tokens.
    pub is_admin: bool,
    /// The token that created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used (roughly).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

moved_fields!(ApiToken as t => TokenView {
    id, name, prefix, is_admin, created_by, created_at, last_used_at, revoked_at
});

/// A token just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenView {
    /// The token.
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret to send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

impl From<NewToken> for NewTokenView {
    fn from(t: NewToken) -> Self {
        NewTokenView {
            token: t.token.into(),
            secret: t.secret,
        }
    }
}

/// The list of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Every token, newest first.
    pub items: Vec<TokenView>,
    /// How many.
    pub total: u64,
}
