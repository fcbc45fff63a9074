//! Sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::Session;
use utoipa::ToSchema;

/// What a session is made with; every field is optional (so is the body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreate {
    /// How long the session lasts, in seconds: 60 up to the server's
    /// `session_max_ttl_secs` (86400 unless configured); the server's
    /// `session_ttl_secs` (3600 unless configured) when left out.
    #[schema(minimum = 60, maximum = 86400)]
    pub ttl_secs: Option<u64>,
}

/// Whose a session is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    /// The user's id.
    pub id: String,
    /// Their login.
    pub login: String,
    /// Their display name.
    pub display_name: String,
    /// Their e-mail, if known.
    pub email: Option<String>,
}

/// A new session: its JWT, also set as the `authtoken` cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session JWT (HS256): send it as `Authorization: Bearer <token>`
    /// or let the browser send the `authtoken` cookie.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whose it is.
    pub user: SessionUser,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            token: s.token,
            expires_at: s.expires_at,
            user: SessionUser {
                id: s.user_id,
                login: s.login,
                display_name: s.display_name,
                email: s.email,
            },
        }
    }
}
