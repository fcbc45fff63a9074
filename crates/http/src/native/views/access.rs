//! Users, members, roles, permission flags and matrices, follows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{Actor, Flags, Matrix, Member, User, UserInput};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What the caller may do on an object: each of the seven permissions
/// (docs/security.md).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct FlagsView {
    /// Read it.
    pub can_view: bool,
    /// Change it.
    pub can_modify: bool,
    /// Delete it.
    pub can_delete: bool,
    /// Start, cancel, retry and redeploy its runs; read their logs.
    pub can_execute: bool,
    /// Copy it.
    pub can_copy: bool,
    /// Manage its permissions (on a project: its members).
    pub can_manage: bool,
    /// Create an environment of it.
    pub can_create_env: bool,
}

moved_fields!(Flags as f => FlagsView {
    can_view, can_modify, can_delete, can_execute, can_copy, can_manage, can_create_env
});

/// Who did something.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActorView {
    /// The user's id.
    pub id: String,
    /// Their login at the time.
    pub name: String,
}

moved_fields!(Actor as a => ActorView { id, name });

/// A user (a person or a service account).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Its id.
    pub id: String,
    /// Its login, unique.
    pub login: String,
    /// The name shown to people.
    pub display_name: String,
    /// Its e-mail address.
    pub email: Option<String>,
    /// Whether it is a system admin.
    pub is_admin: bool,
    /// Whether it is disabled (its tokens and sessions are refused).
    pub disabled: bool,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

moved_fields!(User as u => UserView {
    id, login, display_name, email, is_admin, disabled_at, created_by, created_at;
    disabled: u.disabled_at.is_some(),
});

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// Its login (the rules of names: 1 to 100 characters, letters,
    /// digits, `-`, `_`, `.`), unique; never changes.
    pub login: String,
    /// The name shown to people (default: the login).
    pub display_name: Option<String>,
    /// Its e-mail address, unique when set.
    pub email: Option<String>,
    /// Whether it is a system admin.
    #[serde(default)]
    pub is_admin: bool,
}

impl From<UserCreate> for UserInput {
    fn from(u: UserCreate) -> Self {
        UserInput {
            login: Some(u.login),
            display_name: u.display_name,
            email: u.email,
            is_admin: Some(u.is_admin),
            disabled: None,
        }
    }
}

/// Changes to a user; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The name shown to people.
    pub display_name: Option<String>,
    /// Its e-mail address (`""` removes it).
    pub email: Option<String>,
    /// Whether it is a system admin.
    pub is_admin: Option<bool>,
    /// Whether it is disabled.
    pub disabled: Option<bool>,
}

impl From<UserUpdate> for UserInput {
    fn from(u: UserUpdate) -> Self {
        UserInput {
            login: None,
            display_name: u.display_name,
            email: u.email,
            is_admin: u.is_admin,
            disabled: u.disabled,
        }
    }
}

/// A member of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user's id.
    pub user_id: String,
    /// The user's login.
    pub login: String,
    /// The user's display name.
    pub display_name: String,
    /// Their role: `viewer`, `developer`, `maintainer` or `owner`.
    pub role: String,
    /// When they became a member.
    pub created_at: DateTime<Utc>,
    /// When their role last changed.
    pub updated_at: DateTime<Utc>,
}

moved_fields!(Member as m => MemberView {
    user_id, login, display_name, created_at, updated_at;
    role: m.role.as_str().to_owned(),
});

/// A project's members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// Every member, by login.
    pub items: Vec<MemberView>,
    /// How many.
    pub total: u64,
}

/// A member's role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPut {
    /// `viewer`, `developer`, `maintainer` or `owner`.
    pub role: String,
}

/// An application's permission matrix.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixView {
    /// The application.
    pub application_id: String,
    /// Whether the application has its own matrix (otherwise every role
    /// has its defaults).
    pub custom: bool,
    /// For every role, the permissions in force.
    pub roles: BTreeMap<String, Vec<String>>,
}

impl MatrixView {
    /// The view of `matrix`, in force on application `id`.
    pub fn of(id: String, custom: bool, matrix: &Matrix) -> Self {
        MatrixView {
            application_id: id,
            custom,
            roles: matrix
                .iter()
                .map(|(r, ps)| {
                    (
                        r.as_str().to_owned(),
                        ps.iter().map(|p| p.as_str().to_owned()).collect(),
                    )
                })
                .collect(),
        }
    }
}

/// A new permission matrix for an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixPut {
    /// Role → permissions (`view`, `modify`, `delete`, `execute`, `copy`,
    /// `manage`, `create_env`); roles left out keep their defaults;
    /// owners always keep `view` and `manage`.
    pub roles: BTreeMap<String, Vec<String>>,
}
