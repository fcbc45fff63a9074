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
    /// The user (id or login) it is for. Without it, a service account
    /// named after the token is created with it.
    pub user: Option<String>,
    /// Without `user`: whether the new service account is a system admin
    /// (with `user`, the token has that user's rights and this must be
    /// left out or false).
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
    /// The user it belongs to.
    pub user_id: String,
    /// Whether its user was a system admin when it was made.
    pub is_admin: bool,
    /// The login of the user who created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used (roughly).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

moved_fields!(ApiToken as t => TokenView {
    id, name, prefix, user_id, is_admin, created_by, created_at, last_used_at, revoked_at
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
