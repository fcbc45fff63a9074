//! Named repositories.

use super::{ActorView, FlagsView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{Caller, NamedRepository, NamedRepositoryInput, On};
use utoipa::ToSchema;

/// A named repository (the credentials secret by name only, never its
/// value).
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedRepositoryView {
    /// Its id.
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Its name, unique in the server (a DNS label).
    pub name: String,
    /// The clone URL.
    pub url: String,
    /// The branch used when none is given.
    pub default_branch: String,
    /// `github`, `gitlab`, `gitee` or `generic`.
    pub provider: String,
    /// The owner on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub repo: Option<String>,
    /// The name of the project secret holding the credentials.
    pub credentials_secret: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: Option<ActorView>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: Option<ActorView>,
    /// What the caller may do on it.
    pub permissions: FlagsView,
}

impl From<(NamedRepository, &Caller)> for NamedRepositoryView {
    fn from((r, by): (NamedRepository, &Caller)) -> Self {
        NamedRepositoryView {
            permissions: by.flags_on(&r.project_id, On::Repository).into(),
            provider: r.provider.as_str().to_owned(),
            created_by: r.created_by.map(Into::into),
            updated_by: r.updated_by.map(Into::into),
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            url: r.url,
            default_branch: r.default_branch,
            owner: r.owner,
            repo: r.repo,
            credentials_secret: r.credentials_secret,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new named repository.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedRepositoryCreate {
    /// Its name: 1 to 63 lower-case letters, digits and `-` (neither
    /// first nor last), unique in the server.
    pub name: String,
    /// The clone URL (`https://`, `http://`, `git://`, `ssh://` or `file://`).
    pub url: String,
    /// The branch used when none is given (default `main`).
    pub default_branch: Option<String>,
    /// `github`, `gitlab`, `gitee` or `generic` (the default).
    pub provider: Option<String>,
    /// The owner on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub repo: Option<String>,
    /// The name of a secret of the project (set before) holding the
    /// credentials: `user:token`, or a token alone.
    pub credentials_secret: Option<String>,
}

/// Changes to a named repository; absent fields stay as they are, and an
/// empty `owner`, `repo` or `credentials_secret` removes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedRepositoryUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new clone URL.
    pub url: Option<String>,
    /// A new default branch.
    pub default_branch: Option<String>,
    /// A new provider.
    pub provider: Option<String>,
    /// A new owner on the host (`""` removes it).
    pub owner: Option<String>,
    /// A new name on the host (`""` removes it).
    pub repo: Option<String>,
    /// Another project secret holding the credentials (`""`: none).
    pub credentials_secret: Option<String>,
}

moved_fields!(NamedRepositoryCreate as r => NamedRepositoryInput {
    default_branch, provider, owner, repo, credentials_secret;
    name: Some(r.name),
    url: Some(r.url),
});
moved_fields!(NamedRepositoryUpdate as r => NamedRepositoryInput {
    name, url, default_branch, provider, owner, repo, credentials_secret
});
