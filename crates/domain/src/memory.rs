//! An in-memory [`CatalogStore`], beside core's in-memory run store and
//! log sink: with them, [`crate::App`] runs with no database at all (use
//! case tests, an API built in process, an embedding tool). It keeps the
//! rules the SQL store keeps: unique names (and logins and e-mails),
//! versions added only on the latest, deletes that take what belongs to the
//! deleted thing along (members, follows), projects that keep an owner,
//! deliveries recorded once, fire times claimed by compare-and-set.
//! Nothing survives the process.

use crate::app::{AuditEntry, AuditFilter};
use crate::applications::detail;
use crate::catalog::{
    Actor, ApiToken, Application, CatalogStore, CatalogStoreError, Identity, LastRun, Member,
    NamedRepository, Order, Page, PageRequest, Project, Role, ScheduleTarget, SecretMeta,
    StoredSchedule, User, Workflow, WorkflowVersion,
};
use crate::secrets::SecretOwner;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use slipway_core::{RunId, RunStore};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// A stored secret: its sealed value, when it was created and updated,
/// and who set it last.
struct SealedSecret {
    value: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    updated_by: Option<Actor>,
}

/// A membership: the role, when it began and when the role last changed.
type Membership = (Role, DateTime<Utc>, DateTime<Utc>);

/// What [`CatalogStoreError::Refused`] says when a change would leave a
/// project without an owner.
const LAST_OWNER: &str = "the project must keep at least one owner";

/// Everything the catalog holds.
#[derive(Default)]
struct Data {
    projects: BTreeMap<String, Project>,
    workflows: BTreeMap<String, Workflow>,
    /// (workflow id, version) → version.
    versions: BTreeMap<(String, i32), WorkflowVersion>,
    /// id → (token, secret hash).
    tokens: BTreeMap<String, (ApiToken, String)>,
    applications: BTreeMap<String, Application>,
    /// application id → its latest run's id.
    last_runs: HashMap<String, String>,
    /// (owner key, name) → its sealed value and times.
    secrets: BTreeMap<(String, String), SealedSecret>,
    users: BTreeMap<String, User>,
    /// (project id, user id) → membership.
    members: BTreeMap<(String, String), Membership>,
    /// (application id, user id).
    follows: BTreeSet<(String, String)>,
    /// (application id, delivery id).
    deliveries: BTreeSet<(String, String)>,
    schedules: BTreeMap<String, StoredSchedule>,
    /// Named repositories, by id.
    repositories: BTreeMap<String, NamedRepository>,
    /// The audit trail, in the order it was recorded.
    audit: Vec<AuditEntry>,
}

/// The catalog in memory. Cheap to clone; clones share their data.
#[derive(Clone, Default)]
pub struct MemoryCatalog {
    data: Arc<Mutex<Data>>,
    /// Where applications' latest runs are read from (none: applications
    /// show no latest run).
    runs: Option<Arc<dyn RunStore>>,
}

impl std::fmt::Debug for MemoryCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCatalog").finish_non_exhaustive()
    }
}

impl MemoryCatalog {
    /// An empty catalog whose applications show no latest run.
    pub fn new() -> Self {
        MemoryCatalog::default()
    }

    /// An empty catalog that reads applications' latest runs from `runs`
    /// (the engine's run store), as the SQL store joins them.
    pub fn with_runs(runs: Arc<dyn RunStore>) -> Self {
        MemoryCatalog {
            data: Arc::default(),
            runs: Some(runs),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `app` with its latest run filled in from the run store.
    async fn with_last_run(&self, mut app: Application) -> Result<Application, CatalogStoreError> {
        let id = self.data().last_runs.get(&app.id).cloned();
        app.last_run = match (id, &self.runs) {
            (Some(id), Some(runs)) => runs.get_run(&RunId(id)).await?.map(|r| LastRun {
                run_id: r.id.to_string(),
                commit: r.trigger.detail.get(detail::COMMIT).cloned(),
                message: r.trigger.detail.get(detail::MESSAGE).cloned(),
                git_ref: r.trigger.detail.get(detail::REF).cloned(),
                status: r.status.as_str().to_owned(),
                completed: r.status.is_terminal(),
                created_at: r.created_at,
            }),
            _ => None,
        };
        Ok(app)
    }
}

/// The page `page` of `items`, already sorted.
fn page_of<T>(items: Vec<T>, page: &PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    Page {
        items: items
            .into_iter()
            .skip(skip)
            .take(page.per_page as usize)
            .collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }
}

/// Sorts by `key`, then by id, in `order`.
fn sort_by<T, K: Ord>(items: &mut [T], order: Order, key: impl Fn(&T) -> (K, String)) {
    items.sort_by(|a, b| {
        let o = key(a).cmp(&key(b));
        if order == Order::Desc { o.reverse() } else { o }
    });
}

fn sort_named<T>(
    items: &mut [T],
    page: &PageRequest,
    name: impl Fn(&T) -> (&str, DateTime<Utc>, &str),
) {
    if page.sort == "created_at" {
        sort_by(items, page.order, |t| {
            let (_, at, id) = name(t);
            (at, id.to_owned())
        });
    } else {
        sort_by(items, page.order, |t| {
            let (n, _, id) = name(t);
            (n.to_owned(), id.to_owned())
        });
    }
}

/// The owner keys of an application's and a project's secrets.
fn owner_of_app(id: &str) -> String {
    SecretOwner::Application(id).key()
}

/// `Duplicate` when `taken`: a project named `name` exists already.
fn unique_project(taken: bool, name: &str) -> Result<(), CatalogStoreError> {
    if taken {
        return Err(CatalogStoreError::Duplicate(format!(
            "a project named `{name}` exists already"
        )));
    }
    Ok(())
}

/// `Duplicate` when `taken`: the project has `what` (`a workflow`, `an
/// application`) named `name` already.
fn unique_in_project(taken: bool, what: &str, name: &str) -> Result<(), CatalogStoreError> {
    if taken {
        return Err(CatalogStoreError::Duplicate(format!(
            "the project has {what} named `{name}` already"
        )));
    }
    Ok(())
}

/// `Duplicate` when another named repository has `repo`'s name.
fn unique_repository(d: &Data, repo: &NamedRepository) -> Result<(), CatalogStoreError> {
    if d.repositories
        .values()
        .any(|r| r.name == repo.name && r.id != repo.id)
    {
        return Err(CatalogStoreError::Duplicate(format!(
            "a repository named `{}` exists already",
            repo.name
        )));
    }
    Ok(())
}

/// Why a named repository cannot be deleted: application `app` points at
/// it (the SQL store says the same).
pub fn repository_in_use(app: &str) -> String {
    format!("application `{app}` uses this repository; point it elsewhere first")
}

impl Data {
    /// `Missing` unless project `id` exists: a workflow or application
    /// is added only to a project that is still there.
    fn project_exists(&self, id: &str) -> Result<(), CatalogStoreError> {
        if !self.projects.contains_key(id) {
            return Err(CatalogStoreError::Missing("the project is gone".into()));
        }
        Ok(())
    }

    /// The ids of project `project_id`'s workflows.
    fn workflow_ids(&self, project_id: &str) -> Vec<String> {
        let of_project = self
            .workflows
            .values()
            .filter(|w| w.project_id == project_id);
        of_project.map(|w| w.id.clone()).collect()
    }

    /// The ids of project `project_id`'s applications.
    fn application_ids(&self, project_id: &str) -> Vec<String> {
        let of_project = self
            .applications
            .values()
            .filter(|a| a.project_id == project_id);
        of_project.map(|a| a.id.clone()).collect()
    }

    fn drop_application(&mut self, id: &str) {
        self.applications.remove(id);
        self.last_runs.remove(id);
        let owner = owner_of_app(id);
        self.secrets.retain(|(o, _), _| *o != owner);
        self.deliveries.retain(|(a, _)| a != id);
        self.follows.retain(|(a, _)| a != id);
        self.schedules
            .retain(|_, s| !(s.target == ScheduleTarget::Application && s.target_id == id));
    }

    /// `Duplicate` naming the field when `user`'s login (when `login`) or
    /// e-mail (compared without case) belongs to another user.
    fn unique_user(&self, user: &User, login: bool) -> Result<(), CatalogStoreError> {
        let others = || self.users.values().filter(|u| u.id != user.id);
        if login && others().any(|u| u.login == user.login) {
            return Err(CatalogStoreError::Duplicate(format!(
                "login `{}` is taken",
                user.login
            )));
        }
        if let Some(email) = &user.email {
            let lower = email.to_lowercase();
            if others().any(|u| u.email.as_ref().is_some_and(|e| e.to_lowercase() == lower)) {
                return Err(CatalogStoreError::Duplicate(format!(
                    "email `{email}` is taken"
                )));
            }
        }
        Ok(())
    }

    /// `user` added, unless its id, login or e-mail is taken.
    fn add_user(&mut self, user: &User) -> Result<(), CatalogStoreError> {
        if self.users.contains_key(&user.id) {
            return Err(CatalogStoreError::Duplicate(
                "that user exists already".into(),
            ));
        }
        self.unique_user(user, true)?;
        self.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    /// `Duplicate` when a token with that id or secret exists.
    fn unique_token(&self, token: &ApiToken, secret_hash: &str) -> Result<(), CatalogStoreError> {
        if self.tokens.values().any(|(_, h)| h == secret_hash)
            || self.tokens.contains_key(&token.id)
        {
            return Err(CatalogStoreError::Duplicate(
                "that token exists already".into(),
            ));
        }
        Ok(())
    }

    /// How many owners project `project_id` has.
    fn owners(&self, project_id: &str) -> usize {
        self.members
            .iter()
            .filter(|((p, _), (role, _, _))| p == project_id && *role == Role::Owner)
            .count()
    }

    fn drop_workflow(&mut self, id: &str) {
        self.workflows.remove(id);
        self.versions.retain(|(w, _), _| w != id);
        self.schedules
            .retain(|_, s| !(s.target == ScheduleTarget::Workflow && s.target_id == id));
    }
}

#[async_trait]
impl CatalogStore for MemoryCatalog {
    async fn insert_project(
        &self,
        project: &Project,
        owner: Option<&str>,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        let taken = d.projects.values().any(|p| p.name == project.name);
        unique_project(taken, &project.name)?;
        if let Some(user) = owner {
            if !d.users.contains_key(user) {
                return Err(CatalogStoreError::Missing("user".into()));
            }
            let at = project.created_at;
            d.members
                .insert((project.id.clone(), user.to_owned()), (Role::Owner, at, at));
        }
        d.projects.insert(project.id.clone(), project.clone());
        Ok(())
    }

    async fn project(&self, id: &str) -> Result<Option<Project>, CatalogStoreError> {
        Ok(self.data().projects.get(id).cloned())
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>, CatalogStoreError> {
        Ok(self
            .data()
            .projects
            .values()
            .find(|p| p.name == name)
            .cloned())
    }

    async fn projects(
        &self,
        page: &PageRequest,
        only: Option<&[String]>,
    ) -> Result<Page<Project>, CatalogStoreError> {
        let mut all: Vec<Project> = self
            .data()
            .projects
            .values()
            .filter(|p| only.is_none_or(|ids| ids.contains(&p.id)))
            .cloned()
            .collect();
        sort_named(&mut all, page, |p| (&p.name, p.created_at, &p.id));
        Ok(page_of(all, page))
    }

    async fn update_project(&self, project: &Project) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        let taken = d
            .projects
            .values()
            .any(|p| p.name == project.name && p.id != project.id);
        unique_project(taken, &project.name)?;
        match d.projects.get_mut(&project.id) {
            Some(p) => {
                p.name = project.name.clone();
                p.description = project.description.clone();
                p.updated_at = project.updated_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_project(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if d.projects.remove(id).is_none() {
            return Ok(false);
        }
        for w in d.workflow_ids(id) {
            d.drop_workflow(&w);
        }
        for a in d.application_ids(id) {
            d.drop_application(&a);
        }
        d.repositories.retain(|_, r| r.project_id != id);
        let owner = SecretOwner::Project(id).key();
        d.secrets.retain(|(o, _), _| *o != owner);
        d.members.retain(|(p, _), _| p != id);
        Ok(true)
    }

    async fn insert_workflow(
        &self,
        workflow: &Workflow,
        first: &WorkflowVersion,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        d.project_exists(&workflow.project_id)?;
        let taken = d
            .workflows
            .values()
            .any(|w| w.project_id == workflow.project_id && w.name == workflow.name);
        unique_in_project(taken, "a workflow", &workflow.name)?;
        d.workflows.insert(workflow.id.clone(), workflow.clone());
        d.versions
            .insert((workflow.id.clone(), first.version), first.clone());
        Ok(())
    }

    async fn add_version(&self, version: &WorkflowVersion) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        let Some(w) = d.workflows.get_mut(&version.workflow_id) else {
            return Err(CatalogStoreError::Missing("the workflow is gone".into()));
        };
        if w.latest_version + 1 != version.version {
            return Err(CatalogStoreError::Duplicate(
                "the workflow changed meanwhile; fetch it and try again".into(),
            ));
        }
        w.latest_version = version.version;
        w.updated_at = version.created_at;
        d.versions.insert(
            (version.workflow_id.clone(), version.version),
            version.clone(),
        );
        Ok(())
    }

    async fn workflow(&self, id: &str) -> Result<Option<Workflow>, CatalogStoreError> {
        Ok(self.data().workflows.get(id).cloned())
    }

    async fn workflows(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>, CatalogStoreError> {
        let mut all: Vec<Workflow> = self
            .data()
            .workflows
            .values()
            .filter(|w| w.project_id == project_id)
            .cloned()
            .collect();
        sort_named(&mut all, page, |w| (&w.name, w.created_at, &w.id));
        Ok(page_of(all, page))
    }

    async fn workflow_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        Ok(self.data().workflow_ids(project_id))
    }

    async fn version(
        &self,
        workflow_id: &str,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, CatalogStoreError> {
        Ok(self
            .data()
            .versions
            .get(&(workflow_id.to_owned(), version))
            .cloned())
    }

    async fn versions(
        &self,
        workflow_id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>, CatalogStoreError> {
        let mut all: Vec<WorkflowVersion> = self
            .data()
            .versions
            .values()
            .filter(|v| v.workflow_id == workflow_id)
            .cloned()
            .collect();
        all.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(page_of(all, page))
    }

    async fn delete_workflow(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if !d.workflows.contains_key(id) {
            return Ok(false);
        }
        d.drop_workflow(id);
        Ok(true)
    }

    async fn insert_token(
        &self,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        d.unique_token(token, secret_hash)?;
        if !d.users.contains_key(&token.user_id) {
            return Err(CatalogStoreError::Missing("user".into()));
        }
        d.tokens
            .insert(token.id.clone(), (token.clone(), secret_hash.to_owned()));
        Ok(())
    }

    async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(ApiToken, String)>, CatalogStoreError> {
        Ok(self
            .data()
            .tokens
            .values()
            .find(|(_, h)| h == secret_hash)
            .cloned())
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, CatalogStoreError> {
        let mut all: Vec<ApiToken> = self
            .data()
            .tokens
            .values()
            .map(|(t, _)| t.clone())
            .collect();
        all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(all)
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, CatalogStoreError> {
        match self.data().tokens.get_mut(id) {
            Some((t, _)) => {
                t.revoked_at.get_or_insert(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), CatalogStoreError> {
        if let Some((t, _)) = self.data().tokens.get_mut(id) {
            t.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn count_tokens(&self) -> Result<u64, CatalogStoreError> {
        Ok(self.data().tokens.len() as u64)
    }

    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        d.unique_token(token, secret_hash)?;
        if token.user_id != user.id && !d.users.contains_key(&token.user_id) {
            return Err(CatalogStoreError::Missing("user".into()));
        }
        d.add_user(user)?;
        d.tokens
            .insert(token.id.clone(), (token.clone(), secret_hash.to_owned()));
        Ok(())
    }

    async fn insert_user(&self, user: &User) -> Result<(), CatalogStoreError> {
        self.data().add_user(user)
    }

    async fn user(&self, id: &str) -> Result<Option<User>, CatalogStoreError> {
        Ok(self.data().users.get(id).cloned())
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>, CatalogStoreError> {
        Ok(self
            .data()
            .users
            .values()
            .find(|u| u.login == login)
            .cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, CatalogStoreError> {
        let lower = email.to_lowercase();
        Ok(self
            .data()
            .users
            .values()
            .find(|u| u.email.as_ref().is_some_and(|e| e.to_lowercase() == lower))
            .cloned())
    }

    async fn users(&self, page: &PageRequest) -> Result<Page<User>, CatalogStoreError> {
        let mut all: Vec<User> = self.data().users.values().cloned().collect();
        sort_named(&mut all, page, |u| (&u.login, u.created_at, &u.id));
        Ok(page_of(all, page))
    }

    async fn update_user(&self, user: &User) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if !d.users.contains_key(&user.id) {
            return Ok(false);
        }
        // Only the e-mail can clash: the login is not changed.
        d.unique_user(user, false)?;
        let Some(u) = d.users.get_mut(&user.id) else {
            return Ok(false);
        };
        u.display_name = user.display_name.clone();
        u.email = user.email.clone();
        u.is_admin = user.is_admin;
        u.disabled_at = user.disabled_at;
        Ok(true)
    }

    async fn identity(&self, user_id: &str) -> Result<Option<Identity>, CatalogStoreError> {
        let d = self.data();
        let Some(user) = d.users.get(user_id).cloned() else {
            return Ok(None);
        };
        let roles = d
            .members
            .iter()
            .filter(|((_, u), _)| u == user_id)
            .map(|((p, _), (role, _, _))| (p.clone(), *role))
            .collect();
        let follows = d
            .follows
            .iter()
            .filter(|(_, u)| u == user_id)
            .map(|(a, _)| a.clone())
            .collect();
        Ok(Some(Identity {
            user,
            roles,
            follows,
        }))
    }

    async fn members(&self, project_id: &str) -> Result<Vec<Member>, CatalogStoreError> {
        let d = self.data();
        let mut all: Vec<Member> = d
            .members
            .iter()
            .filter(|((p, _), _)| p == project_id)
            .filter_map(|((p, u), (role, created_at, updated_at))| {
                let user = d.users.get(u)?;
                Some(Member {
                    project_id: p.clone(),
                    user_id: u.clone(),
                    login: user.login.clone(),
                    display_name: user.display_name.clone(),
                    role: *role,
                    created_at: *created_at,
                    updated_at: *updated_at,
                })
            })
            .collect();
        all.sort_by(|a, b| (&a.login, &a.user_id).cmp(&(&b.login, &b.user_id)));
        Ok(all)
    }

    async fn put_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        if !d.projects.contains_key(project_id) {
            return Err(CatalogStoreError::Missing("project".into()));
        }
        if !d.users.contains_key(user_id) {
            return Err(CatalogStoreError::Missing("user".into()));
        }
        let key = (project_id.to_owned(), user_id.to_owned());
        let was_owner = d
            .members
            .get(&key)
            .is_some_and(|(r, _, _)| *r == Role::Owner);
        if was_owner && role != Role::Owner && d.owners(project_id) == 1 {
            return Err(CatalogStoreError::Refused(LAST_OWNER.into()));
        }
        match d.members.get_mut(&key) {
            Some((r, _, updated)) => {
                *r = role;
                *updated = at;
            }
            None => {
                d.members.insert(key, (role, at, at));
            }
        }
        Ok(())
    }

    async fn remove_member(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        let key = (project_id.to_owned(), user_id.to_owned());
        let Some((role, _, _)) = d.members.get(&key) else {
            return Ok(false);
        };
        if *role == Role::Owner && d.owners(project_id) == 1 {
            return Err(CatalogStoreError::Refused(LAST_OWNER.into()));
        }
        d.members.remove(&key);
        Ok(true)
    }

    async fn set_follow(
        &self,
        app_id: &str,
        user_id: &str,
        follow: bool,
        _at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        if !d.applications.contains_key(app_id) {
            return Err(CatalogStoreError::Missing("application".into()));
        }
        let key = (app_id.to_owned(), user_id.to_owned());
        if follow {
            if !d.users.contains_key(user_id) {
                return Err(CatalogStoreError::Missing("user".into()));
            }
            d.follows.insert(key);
        } else {
            d.follows.remove(&key);
        }
        Ok(())
    }

    async fn insert_application(&self, app: &Application) -> Result<(), CatalogStoreError> {
        self.insert_application_with_secrets(app, &[]).await
    }

    async fn insert_application_with_secrets(
        &self,
        app: &Application,
        sealed: &[(String, String)],
    ) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        d.project_exists(&app.project_id)?;
        let taken = d
            .applications
            .values()
            .any(|a| a.project_id == app.project_id && a.name == app.name);
        unique_in_project(taken, "an application", &app.name)?;
        let mut stored = app.clone();
        stored.last_run = None;
        d.applications.insert(app.id.clone(), stored);
        let owner = crate::secrets::SecretOwner::Application(&app.id).key();
        for (name, value) in sealed {
            let s = SealedSecret {
                value: value.clone(),
                created_at: app.created_at,
                updated_at: app.created_at,
                updated_by: app.created_by.clone(),
            };
            d.secrets.insert((owner.clone(), name.clone()), s);
        }
        Ok(())
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, CatalogStoreError> {
        let found = self.data().applications.get(id).cloned();
        match found {
            Some(app) => Ok(Some(self.with_last_run(app).await?)),
            None => Ok(None),
        }
    }

    async fn applications(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        last_status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Application>, CatalogStoreError> {
        let found: Vec<Application> = self
            .data()
            .applications
            .values()
            .filter(|a| project_id.is_none_or(|p| a.project_id == p))
            .filter(|a| only_projects.is_none_or(|ids| ids.contains(&a.project_id)))
            .cloned()
            .collect();
        let mut all = Vec::with_capacity(found.len());
        for app in found {
            let app = self.with_last_run(app).await?;
            if last_status.is_none_or(|s| app.last_run.as_ref().is_some_and(|r| r.status == s)) {
                all.push(app);
            }
        }
        if page.sort == "last_run_at" {
            sort_by(&mut all, page.order, |a| {
                (a.last_run.as_ref().map(|r| r.created_at), a.id.clone())
            });
        } else {
            sort_named(&mut all, page, |a| (&a.name, a.created_at, &a.id));
        }
        Ok(page_of(all, page))
    }

    async fn update_application(&self, app: &Application) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        let taken = d
            .applications
            .values()
            .any(|a| a.project_id == app.project_id && a.name == app.name && a.id != app.id);
        unique_in_project(taken, "an application", &app.name)?;
        match d.applications.get_mut(&app.id) {
            Some(stored) => {
                let (project_id, created_at) = (stored.project_id.clone(), stored.created_at);
                let created_by = stored.created_by.take();
                *stored = Application {
                    project_id,
                    created_at,
                    created_by,
                    last_run: None,
                    ..app.clone()
                };
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_application(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if !d.applications.contains_key(id) {
            return Ok(false);
        }
        d.drop_application(id);
        Ok(true)
    }

    async fn application_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        Ok(self.data().application_ids(project_id))
    }

    async fn set_last_run(&self, app_id: &str, run_id: &str) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        if !d.applications.contains_key(app_id) {
            return Err(CatalogStoreError::Missing(format!(
                "application {app_id} is gone"
            )));
        }
        d.last_runs.insert(app_id.to_owned(), run_id.to_owned());
        Ok(())
    }

    async fn put_secret(
        &self,
        owner: &str,
        name: &str,
        sealed: &str,
        at: DateTime<Utc>,
        by: Option<&Actor>,
    ) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        let key = (owner.to_owned(), name.to_owned());
        match d.secrets.get_mut(&key) {
            Some(s) => {
                s.value = sealed.to_owned();
                s.updated_at = at;
                s.updated_by = by.cloned();
                Ok(false)
            }
            None => {
                let s = SealedSecret {
                    value: sealed.to_owned(),
                    created_at: at,
                    updated_at: at,
                    updated_by: by.cloned(),
                };
                d.secrets.insert(key, s);
                Ok(true)
            }
        }
    }

    async fn secrets(&self, owner: &str) -> Result<Vec<SecretMeta>, CatalogStoreError> {
        Ok(self
            .data()
            .secrets
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|((_, name), s)| SecretMeta {
                name: name.clone(),
                created_at: s.created_at,
                updated_at: s.updated_at,
                updated_by: s.updated_by.clone(),
            })
            .collect())
    }

    async fn sealed_secrets(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String)>, CatalogStoreError> {
        Ok(self
            .data()
            .secrets
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|((_, name), s)| (name.clone(), s.value.clone()))
            .collect())
    }

    async fn delete_secret(&self, owner: &str, name: &str) -> Result<bool, CatalogStoreError> {
        Ok(self
            .data()
            .secrets
            .remove(&(owner.to_owned(), name.to_owned()))
            .is_some())
    }

    async fn record_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
        _at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if !d.applications.contains_key(app_id) {
            return Err(CatalogStoreError::Missing("the application is gone".into()));
        }
        Ok(d.deliveries
            .insert((app_id.to_owned(), delivery_id.to_owned())))
    }

    async fn forget_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
    ) -> Result<(), CatalogStoreError> {
        self.data()
            .deliveries
            .remove(&(app_id.to_owned(), delivery_id.to_owned()));
        Ok(())
    }

    async fn insert_schedule(&self, schedule: &StoredSchedule) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        if d.schedules.contains_key(&schedule.id) {
            return Err(CatalogStoreError::Duplicate(
                "that schedule exists already".into(),
            ));
        }
        d.schedules.insert(schedule.id.clone(), schedule.clone());
        Ok(())
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, CatalogStoreError> {
        Ok(self.data().schedules.get(id).cloned())
    }

    async fn schedules(
        &self,
        target: Option<(ScheduleTarget, &str)>,
    ) -> Result<Vec<StoredSchedule>, CatalogStoreError> {
        let mut all: Vec<StoredSchedule> = self
            .data()
            .schedules
            .values()
            .filter(|s| target.is_none_or(|(t, id)| s.target == t && s.target_id == id))
            .cloned()
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn update_schedule(&self, schedule: &StoredSchedule) -> Result<bool, CatalogStoreError> {
        match self.data().schedules.get_mut(&schedule.id) {
            Some(s) => {
                s.expression = schedule.expression.clone();
                s.timezone = schedule.timezone.clone();
                s.git_ref = schedule.git_ref.clone();
                s.params = schedule.params.clone();
                s.enabled = schedule.enabled;
                s.updated_at = schedule.updated_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, CatalogStoreError> {
        Ok(self.data().schedules.remove(id).is_some())
    }

    async fn claim_fire(
        &self,
        id: &str,
        previous: Option<DateTime<Utc>>,
        fired_at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        match self.data().schedules.get_mut(id) {
            Some(s) if s.last_fired_at == previous => {
                s.last_fired_at = Some(fired_at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn insert_repository(&self, repo: &NamedRepository) -> Result<(), CatalogStoreError> {
        let mut d = self.data();
        d.project_exists(&repo.project_id)?;
        unique_repository(&d, repo)?;
        d.repositories.insert(repo.id.clone(), repo.clone());
        Ok(())
    }

    async fn repository(&self, id: &str) -> Result<Option<NamedRepository>, CatalogStoreError> {
        Ok(self.data().repositories.get(id).cloned())
    }

    async fn repository_by_name(
        &self,
        name: &str,
    ) -> Result<Option<NamedRepository>, CatalogStoreError> {
        let d = self.data();
        Ok(d.repositories.values().find(|r| r.name == name).cloned())
    }

    async fn repositories(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        page: &PageRequest,
    ) -> Result<Page<NamedRepository>, CatalogStoreError> {
        let mut all: Vec<NamedRepository> = self
            .data()
            .repositories
            .values()
            .filter(|r| project_id.is_none_or(|p| r.project_id == p))
            .filter(|r| only_projects.is_none_or(|ids| ids.contains(&r.project_id)))
            .cloned()
            .collect();
        sort_named(&mut all, page, |r| (&r.name, r.created_at, &r.id));
        Ok(page_of(all, page))
    }

    async fn update_repository(&self, repo: &NamedRepository) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        unique_repository(&d, repo)?;
        match d.repositories.get_mut(&repo.id) {
            Some(stored) => {
                *stored = NamedRepository {
                    project_id: stored.project_id.clone(),
                    created_at: stored.created_at,
                    created_by: stored.created_by.take(),
                    ..repo.clone()
                };
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_repository(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let mut d = self.data();
        if let Some(app) = d
            .applications
            .values()
            .find(|a| a.repository_id.as_deref() == Some(id))
        {
            return Err(CatalogStoreError::Refused(repository_in_use(&app.name)));
        }
        Ok(d.repositories.remove(id).is_some())
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), CatalogStoreError> {
        self.data().audit.push(entry.clone());
        Ok(())
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, CatalogStoreError> {
        let mut found: Vec<AuditEntry> = self
            .data()
            .audit
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        sort_by(&mut found, page.order, |e| (e.at, e.id.clone()));
        Ok(page_of(found, page))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(login: &str, email: Option<&str>) -> User {
        User {
            id: format!("user-{login}"),
            login: login.into(),
            display_name: login.into(),
            email: email.map(str::to_owned),
            is_admin: false,
            created_by: None,
            created_at: Utc::now(),
            disabled_at: None,
        }
    }

    fn project(name: &str) -> Project {
        Project {
            id: format!("project-{name}"),
            name: name.into(),
            description: String::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn page() -> PageRequest {
        PageRequest {
            page: 1,
            per_page: 10,
            sort: "name".into(),
            order: Order::Asc,
        }
    }

    #[tokio::test]
    async fn users_clash_by_login_or_email_whatever_its_case() {
        let cat = MemoryCatalog::new();
        cat.insert_user(&user("ann", Some("Ann@Example.com")))
            .await
            .unwrap();
        let other = User {
            id: "other".into(),
            ..user("ann", None)
        };
        let login = cat.insert_user(&other).await;
        assert!(matches!(login, Err(CatalogStoreError::Duplicate(m)) if m.contains("login")));
        let email = cat.insert_user(&user("bob", Some("ann@example.COM"))).await;
        assert!(matches!(email, Err(CatalogStoreError::Duplicate(m)) if m.contains("email")));
        let found = cat.user_by_email("ANN@example.com").await.unwrap();
        assert_eq!(found.map(|u| u.login).as_deref(), Some("ann"));
    }

    #[tokio::test]
    async fn a_project_keeps_its_last_owner_and_members_go_with_it() {
        let cat = MemoryCatalog::new();
        let (ann, bob) = (user("ann", None), user("bob", None));
        cat.insert_user(&ann).await.unwrap();
        cat.insert_user(&bob).await.unwrap();
        let p = project("shop");
        let missing = cat.insert_project(&p, Some("user-nobody")).await;
        assert!(matches!(missing, Err(CatalogStoreError::Missing(m)) if m == "user"));
        cat.insert_project(&p, Some(&ann.id)).await.unwrap();
        let demote = cat.put_member(&p.id, &ann.id, Role::Viewer, Utc::now());
        assert!(matches!(demote.await, Err(CatalogStoreError::Refused(_))));
        let remove = cat.remove_member(&p.id, &ann.id);
        assert!(matches!(remove.await, Err(CatalogStoreError::Refused(_))));
        cat.put_member(&p.id, &bob.id, Role::Owner, Utc::now())
            .await
            .unwrap();
        assert!(cat.remove_member(&p.id, &ann.id).await.unwrap());
        assert!(!cat.remove_member(&p.id, &ann.id).await.unwrap());
        let gone = cat.put_member("project-none", &bob.id, Role::Viewer, Utc::now());
        assert!(matches!(gone.await, Err(CatalogStoreError::Missing(m)) if m == "project"));
        let members = cat.members(&p.id).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(
            (members[0].login.as_str(), members[0].role),
            ("bob", Role::Owner)
        );
        assert!(cat.delete_project(&p.id).await.unwrap());
        assert!(
            cat.identity(&bob.id)
                .await
                .unwrap()
                .unwrap()
                .roles
                .is_empty()
        );
    }

    #[tokio::test]
    async fn only_filters_projects_and_an_empty_one_gives_nothing() {
        let cat = MemoryCatalog::new();
        for name in ["a", "b", "c"] {
            cat.insert_project(&project(name), None).await.unwrap();
        }
        let only = ["project-c".to_owned(), "project-a".to_owned()];
        let some = cat.projects(&page(), Some(&only)).await.unwrap();
        let names: Vec<_> = some.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!((some.total, names), (2, vec!["a", "c"]));
        assert_eq!(cat.projects(&page(), Some(&[])).await.unwrap().total, 0);
        assert_eq!(cat.projects(&page(), None).await.unwrap().total, 3);
    }
}
