//! Named repositories: a short name, unique in the server, for a clone URL,
//! its default branch and the credentials to fetch it, kept in a secret of
//! the owning project. Applications may point at one; the remotes the
//! domain builds for them then carry its URL and credentials. See
//! docs/repositories.md.

use super::permissions::On;
use super::{App, Caller, DomainError, Result, new_id};
use crate::access::Permission;
use crate::catalog::{Application, NamedRepository, Page, PageRequest};
use crate::error::OrNotFound;
use crate::secrets::{self, SecretName, SecretOwner};
use crate::webhook::Provider;
use chrono::Utc;
use slipway_core::Problem;
use slipway_core::source::{Credentials, Remote};

/// The longest repository name (a DNS label).
pub const MAX_REPOSITORY_NAME_LEN: usize = 63;

/// The schemes a clone URL may have (as applications' URLs).
pub(crate) const URL_SCHEMES: [&str; 5] = ["https://", "http://", "git://", "ssh://", "file://"];

/// What creating or updating a named repository takes; on update, absent
/// fields keep their value, and an empty `owner`, `repo` or
/// `credentials_secret` removes it.
#[derive(Debug, Clone, Default)]
pub struct NamedRepositoryInput {
    /// A DNS label, unique in the server.
    pub name: Option<String>,
    /// The clone URL.
    pub url: Option<String>,
    /// Default `main`.
    pub default_branch: Option<String>,
    /// `github`, `gitlab`, `gitee` or `generic` (default `generic`).
    pub provider: Option<String>,
    /// The owner on the host.
    pub owner: Option<String>,
    /// The repository's name on the host.
    pub repo: Option<String>,
    /// The name of a secret of the project holding the credentials.
    pub credentials_secret: Option<String>,
}

/// The problem with a repository name, if any: a DNS label of 1 to 63
/// lower-case letters, digits and `-`, neither first nor last, that does
/// not read as an id (ids and names share the routes).
pub fn repository_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("required");
    }
    if name.len() > MAX_REPOSITORY_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Some(
            "must be 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit",
        );
    }
    if uuid::Uuid::parse_str(name).is_ok() {
        return Some("must not have the form of an id");
    }
    None
}

/// The problem with a clone URL, if any (the same rule as applications').
pub(crate) fn url_problem(url: &str) -> Option<&'static str> {
    if url.trim().is_empty() {
        Some("required")
    } else if !URL_SCHEMES.iter().any(|s| url.starts_with(s))
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Some("must be an https://, http://, git://, ssh:// or file:// URL")
    } else {
        None
    }
}

/// A text field that is removed when given empty.
fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

impl App {
    /// Applies `input` to `repo`, checking every field; every problem at
    /// once.
    async fn apply_repository_input(
        &self,
        repo: &mut NamedRepository,
        input: NamedRepositoryInput,
    ) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(name) = input.name {
            repo.name = name;
        }
        if let Some(why) = repository_name_problem(&repo.name) {
            problems.push(Problem::new("name", why));
        }
        if let Some(url) = input.url {
            repo.url = url;
        }
        if let Some(why) = url_problem(&repo.url) {
            problems.push(Problem::new("url", why));
        }
        if let Some(b) = input.default_branch {
            repo.default_branch = b;
        }
        super::applications::check_ref_name(&repo.default_branch, "default_branch", &mut problems);
        match input.provider.map(|p| p.parse::<Provider>()) {
            Some(Ok(p)) => repo.provider = p,
            Some(Err(_)) => problems.push(Problem::new(
                "provider",
                "must be one of github, gitlab, gitee, generic",
            )),
            None => {}
        }
        for (field, given, slot) in [
            ("owner", input.owner, &mut repo.owner),
            ("repo", input.repo, &mut repo.repo),
        ] {
            if let Some(v) = given {
                if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    problems.push(Problem::new(field, "must not contain blanks"));
                }
                *slot = optional(v);
            }
        }
        if let Some(secret) = input.credentials_secret {
            match optional(secret) {
                None => repo.credentials_secret = None,
                Some(name) => {
                    match SecretName::new(&name) {
                        Err(e) => problems.push(Problem::new("credentials_secret", e.to_string())),
                        Ok(_) => {
                            let owner = SecretOwner::Project(&repo.project_id).key();
                            let known = self.catalog.secrets(&owner).await?;
                            if !known.iter().any(|s| s.name == name) {
                                problems.push(Problem::new(
                                    "credentials_secret",
                                    format!(
                                        "the project has no secret named `{name}`; set it first"
                                    ),
                                ));
                            }
                        }
                    }
                    repo.credentials_secret = Some(name);
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(problems))
        }
    }

    /// Creates a named repository in a project, for a caller who may
    /// modify the project; the caller is recorded as its creator.
    pub async fn create_repository(
        &self,
        by: &Caller,
        project_id: &str,
        input: NamedRepositoryInput,
    ) -> Result<NamedRepository> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Modify,
            &project.id,
            On::Project,
            "this project",
        )?;
        let now = Utc::now();
        let mut repo = NamedRepository {
            id: new_id(),
            project_id: project.id,
            name: String::new(),
            url: String::new(),
            default_branch: super::DEFAULT_BRANCH.to_owned(),
            provider: Provider::Generic,
            owner: None,
            repo: None,
            credentials_secret: None,
            created_by: by.actor(),
            updated_by: by.actor(),
            created_at: now,
            updated_at: now,
        };
        self.apply_repository_input(&mut repo, input).await?;
        self.catalog.insert_repository(&repo).await?;
        Ok(repo)
    }

    /// A named repository by id or by name, unchecked.
    pub(crate) async fn find_repository(&self, id_or_name: &str) -> Result<NamedRepository> {
        if let Some(found) = self.catalog.repository(id_or_name).await? {
            return Ok(found);
        }
        self.catalog
            .repository_by_name(id_or_name)
            .await?
            .or_not_found("repository", id_or_name)
    }

    /// A named repository (by id or name), when `by` may do `what` on it.
    async fn repository_for(
        &self,
        by: &Caller,
        what: Permission,
        id_or_name: &str,
    ) -> Result<NamedRepository> {
        let repo = self.find_repository(id_or_name).await?;
        self.check(
            by,
            what,
            &repo.project_id,
            On::Repository,
            "this repository",
        )?;
        Ok(repo)
    }

    /// A named repository, by id or name, for a caller who may view it.
    pub async fn repository(&self, by: &Caller, id_or_name: &str) -> Result<NamedRepository> {
        self.repository_for(by, Permission::View, id_or_name).await
    }

    /// A page of named repositories (of one project, or of every project
    /// the caller may view), sorted by `name` or `created_at`.
    pub async fn repositories(
        &self,
        by: &Caller,
        project_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<NamedRepository>> {
        if let Some(p) = project_id {
            self.project(by, p).await?;
        }
        let only = (!by.is_admin && project_id.is_none()).then(|| by.project_ids());
        Ok(self
            .catalog
            .repositories(project_id, only.as_deref(), page)
            .await?)
    }

    /// Changes a named repository (by id or name), for a caller who may
    /// modify it; absent fields keep their value. The applications that
    /// point at it use the new URL and credentials from their next run.
    pub async fn update_repository(
        &self,
        by: &Caller,
        id_or_name: &str,
        input: NamedRepositoryInput,
    ) -> Result<NamedRepository> {
        let mut repo = self
            .repository_for(by, Permission::Modify, id_or_name)
            .await?;
        self.apply_repository_input(&mut repo, input).await?;
        repo.updated_at = Utc::now();
        repo.updated_by = by.actor();
        self.catalog
            .update_repository(&repo)
            .await?
            .or_not_found("repository", id_or_name)?;
        Ok(repo)
    }

    /// Deletes a named repository (by id or name), for a caller who may
    /// delete it; refused (409) while an application points at it.
    pub async fn delete_repository(&self, by: &Caller, id_or_name: &str) -> Result<()> {
        let repo = self
            .repository_for(by, Permission::Delete, id_or_name)
            .await?;
        self.catalog
            .delete_repository(&repo.id)
            .await?
            .or_not_found("repository", id_or_name)
    }

    /// The named repository an application may point at: `reference` is
    /// its name or id, and it must belong to the application's project
    /// (its credentials are that project's secret). A problem at
    /// `repository_ref` otherwise.
    pub(crate) async fn repository_for_application(
        &self,
        project_id: &str,
        reference: &str,
    ) -> Result<NamedRepository> {
        let refused = |why: String| DomainError::Invalid(vec![Problem::new("repository_ref", why)]);
        match self.find_repository(reference).await {
            Ok(r) if r.project_id == project_id => Ok(r),
            Ok(_) => Err(refused(format!(
                "repository `{reference}` belongs to another project; an application may only use its own project's repositories"
            ))),
            Err(DomainError::NotFound { .. }) => {
                Err(refused(format!("there is no repository `{reference}`")))
            }
            Err(other) => Err(other),
        }
    }

    /// Where an application's code is fetched from: its named repository's
    /// URL with the credentials of that repository's secret when it has
    /// one, else its own URL without credentials; and the named
    /// repository, if any.
    pub(crate) async fn remote_of(
        &self,
        app: &Application,
    ) -> Result<(Remote, Option<NamedRepository>)> {
        let Some(id) = &app.repository_id else {
            return Ok((Remote::new(app.repository.url.clone()), None));
        };
        let repo = self.catalog.repository(id).await?.ok_or_else(|| {
            DomainError::Conflict(format!(
                "the repository application `{}` points at is gone",
                app.name
            ))
        })?;
        let mut remote = Remote::new(repo.url.clone());
        if let Some(name) = &repo.credentials_secret {
            remote = remote.with_credentials(self.repository_credentials(&repo, name).await?);
        }
        Ok((remote, Some(repo)))
    }

    /// The credentials in secret `name` of `repo`'s project. A missing,
    /// unreadable or malformed secret is a conflict naming the repository
    /// and the secret's name, never its value.
    async fn repository_credentials(
        &self,
        repo: &NamedRepository,
        name: &str,
    ) -> Result<Credentials> {
        let unusable = |why: &str| {
            DomainError::Conflict(format!(
                "repository `{}`: its credentials secret `{name}` {why}",
                repo.name
            ))
        };
        let checked = SecretName::new(name).map_err(|_| unusable("is not a valid secret name"))?;
        let owner = SecretOwner::Project(&repo.project_id);
        let sealed = self
            .catalog
            .sealed_secrets(&owner.key())
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| unusable("is not set in its project"))?;
        let value = secrets::open(self.key()?, &sealed, &owner.aad(&checked))
            .map_err(|_| unusable("cannot be opened with this server's key"))?;
        Credentials::from_secret(&value)
            .ok_or_else(|| unusable("is not `user:token` or a token alone"))
    }
}
