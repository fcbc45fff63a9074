//! `CatalogStore` on SQL: projects, workflows and their versions, API
//! tokens, users, project members and followed applications, the audit
//! trail,
//! applications, secrets, webhook deliveries and schedules, one file per
//! aggregate; this module holds what they share (error mapping,
//! JSON columns, the one paging helper) and the `CatalogStore`
//! implementation, which hands each call to its aggregate's file. Names
//! are unique by constraint; a clash is reported as `Duplicate`, never as a
//! failure of the store.

mod application;
mod audit;
mod delivery;
mod member;
mod project;
mod repository;
mod schedule;
mod secret;
mod token;
mod user;
mod workflow;
mod workload;

use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use slipway_domain::catalog::{
    Actor, ApiToken, Application, CatalogStore, CatalogStoreError, Identity, Member,
    NamedRepository, Order, Page, PageRequest, Project, Role, ScheduleTarget, SecretMeta,
    StoredSchedule, User, Workflow, WorkflowVersion,
};
use slipway_domain::{AuditEntry, AuditFilter};

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A failed write: a unique constraint becomes `Duplicate(what)`, a foreign
/// key `Missing(what)`, a rule the store keeps `Refused`; anything else is
/// the store's failure.
fn classify(e: DbError, duplicate: &str, missing: &str) -> CatalogStoreError {
    match e {
        DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            CatalogStoreError::Duplicate(duplicate.to_owned())
        }
        DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
            CatalogStoreError::Missing(missing.to_owned())
        }
        other => store(other),
    }
}

/// A failed read or write: a rule the store keeps (the transaction was
/// rolled back) is `Refused`; anything else is the store's failure.
fn store(e: DbError) -> CatalogStoreError {
    match e {
        DbError::Rule(why) => CatalogStoreError::Refused(why),
        other => CatalogStoreError::Store(other.into()),
    }
}

/// The ids of `only` for an `IN` filter: `None` when there is no filter,
/// `Some` (possibly empty: nothing matches) otherwise.
fn id_filter(only: Option<&[String]>) -> Option<Vec<String>> {
    only.map(<[String]>::to_vec)
}

/// Where a page's rows start and how many it holds, with what to sort by.
#[derive(Debug, Clone)]
struct Window {
    /// Rows on the page (1 to [`PageRequest::MAX_PER_PAGE`]).
    limit: i64,
    /// Rows before it.
    offset: i64,
    /// The field to sort by.
    sort: String,
    /// The direction.
    order: Order,
}

/// The one paging helper of the catalog: `read` counts every matching row
/// and loads the rows of the page's [`Window`] (converted), on a blocking
/// thread with one pooled connection; this makes the [`Page`].
async fn paged<T, F>(db: &Db, page: &PageRequest, read: F) -> Result<Page<T>, CatalogStoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection, Window) -> Result<(i64, Vec<T>), DbError> + Send + 'static,
{
    let window = Window {
        limit: i64::from(page.per_page.clamp(1, PageRequest::MAX_PER_PAGE)),
        offset: i64::try_from(page.offset()).unwrap_or(i64::MAX),
        sort: page.sort.clone(),
        order: page.order,
    };
    let (total, items) = db.read(move |c| read(c, window)).await.map_err(store)?;
    Ok(Page {
        items,
        total: count(total),
        page: page.page,
        per_page: page.per_page,
    })
}

/// The ids of a project's workflows or applications, as `ids_of` reads
/// them.
async fn project_ids(
    db: &Db,
    project_id: &str,
    ids_of: fn(&mut AnyConnection, &str) -> Result<Vec<String>, DbError>,
) -> Result<Vec<String>, CatalogStoreError> {
    let pid = project_id.to_owned();
    db.read(move |c| ids_of(c, &pid)).await.map_err(store)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, DbError> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

fn is_unique_violation(e: &DbError) -> bool {
    matches!(
        e,
        DbError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

/// The SQL catalog.
#[derive(Debug, Clone)]
pub struct SqlCatalog {
    pub(crate) db: Db,
}

impl SqlCatalog {
    /// The catalog on `db`.
    pub fn new(db: Db) -> Self {
        SqlCatalog { db }
    }
}

#[async_trait]
impl CatalogStore for SqlCatalog {
    async fn insert_project(
        &self,
        project: &Project,
        owner: Option<&str>,
    ) -> Result<(), CatalogStoreError> {
        project::insert_project(&self.db, project, owner).await
    }

    async fn project(&self, id: &str) -> Result<Option<Project>, CatalogStoreError> {
        project::project(&self.db, id).await
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>, CatalogStoreError> {
        project::project_by_name(&self.db, name).await
    }

    async fn projects(
        &self,
        page: &PageRequest,
        only: Option<&[String]>,
    ) -> Result<Page<Project>, CatalogStoreError> {
        project::projects(&self.db, page, id_filter(only)).await
    }

    async fn update_project(&self, project: &Project) -> Result<bool, CatalogStoreError> {
        project::update_project(&self.db, project).await
    }

    async fn delete_project(&self, id: &str) -> Result<bool, CatalogStoreError> {
        project::delete_project(&self.db, id).await
    }

    async fn insert_workflow(
        &self,
        workflow: &Workflow,
        first: &WorkflowVersion,
    ) -> Result<(), CatalogStoreError> {
        workflow::insert_workflow(&self.db, workflow, first).await
    }

    async fn add_version(&self, version: &WorkflowVersion) -> Result<(), CatalogStoreError> {
        workflow::add_version(&self.db, version).await
    }

    async fn workflow(&self, id: &str) -> Result<Option<Workflow>, CatalogStoreError> {
        workflow::workflow(&self.db, id).await
    }

    async fn workflows(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>, CatalogStoreError> {
        workflow::workflows(&self.db, project_id, page).await
    }

    async fn workflow_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        project_ids(&self.db, project_id, workflow::workflow_ids_of).await
    }

    async fn version(
        &self,
        workflow_id: &str,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, CatalogStoreError> {
        workflow::version(&self.db, workflow_id, version).await
    }

    async fn versions(
        &self,
        workflow_id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>, CatalogStoreError> {
        workflow::versions(&self.db, workflow_id, page).await
    }

    async fn delete_workflow(&self, id: &str) -> Result<bool, CatalogStoreError> {
        workflow::delete_workflow(&self.db, id).await
    }

    async fn insert_token(
        &self,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError> {
        token::insert_token(&self.db, token, secret_hash).await
    }

    async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(ApiToken, String)>, CatalogStoreError> {
        token::token_by_hash(&self.db, secret_hash).await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, CatalogStoreError> {
        token::tokens(&self.db).await
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, CatalogStoreError> {
        token::revoke_token(&self.db, id, at).await
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), CatalogStoreError> {
        token::touch_token(&self.db, id, at).await
    }

    async fn count_tokens(&self) -> Result<u64, CatalogStoreError> {
        token::count_tokens(&self.db).await
    }

    async fn insert_user_with_token(
        &self,
        user: &User,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError> {
        token::insert_user_with_token(&self.db, user, token, secret_hash).await
    }

    async fn insert_user(&self, user: &User) -> Result<(), CatalogStoreError> {
        user::insert_user(&self.db, user).await
    }

    async fn user(&self, id: &str) -> Result<Option<User>, CatalogStoreError> {
        user::user(&self.db, id).await
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>, CatalogStoreError> {
        user::user_by_login(&self.db, login).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, CatalogStoreError> {
        user::user_by_email(&self.db, email).await
    }

    async fn users(&self, page: &PageRequest) -> Result<Page<User>, CatalogStoreError> {
        user::users(&self.db, page).await
    }

    async fn update_user(&self, user: &User) -> Result<bool, CatalogStoreError> {
        user::update_user(&self.db, user).await
    }

    async fn identity(&self, user_id: &str) -> Result<Option<Identity>, CatalogStoreError> {
        user::identity(&self.db, user_id).await
    }

    async fn members(&self, project_id: &str) -> Result<Vec<Member>, CatalogStoreError> {
        member::members(&self.db, project_id).await
    }

    async fn put_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError> {
        member::put_member(&self.db, project_id, user_id, role, at).await
    }

    async fn remove_member(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool, CatalogStoreError> {
        member::remove_member(&self.db, project_id, user_id).await
    }

    async fn set_follow(
        &self,
        app_id: &str,
        user_id: &str,
        follow: bool,
        at: DateTime<Utc>,
    ) -> Result<(), CatalogStoreError> {
        member::set_follow(&self.db, app_id, user_id, follow, at).await
    }

    async fn insert_application(&self, app: &Application) -> Result<(), CatalogStoreError> {
        application::insert_application(&self.db, app, &[]).await
    }

    async fn insert_application_with_secrets(
        &self,
        app: &Application,
        sealed: &[(String, String)],
    ) -> Result<(), CatalogStoreError> {
        application::insert_application(&self.db, app, sealed).await
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, CatalogStoreError> {
        application::application(&self.db, id).await
    }

    async fn applications(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        last_status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Application>, CatalogStoreError> {
        let only = id_filter(only_projects);
        application::applications(&self.db, project_id, only, last_status, page).await
    }

    async fn update_application(&self, app: &Application) -> Result<bool, CatalogStoreError> {
        application::update_application(&self.db, app).await
    }

    async fn delete_application(&self, id: &str) -> Result<bool, CatalogStoreError> {
        application::delete_application(&self.db, id).await
    }

    async fn application_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        project_ids(&self.db, project_id, application::application_ids_of).await
    }

    async fn set_last_run(&self, app_id: &str, run_id: &str) -> Result<(), CatalogStoreError> {
        application::set_last_run(&self.db, app_id, run_id).await
    }

    async fn put_secret(
        &self,
        owner: &str,
        name: &str,
        sealed: &str,
        at: DateTime<Utc>,
        by: Option<&Actor>,
    ) -> Result<bool, CatalogStoreError> {
        secret::put_secret(&self.db, owner, name, sealed, at, by).await
    }

    async fn secrets(&self, owner: &str) -> Result<Vec<SecretMeta>, CatalogStoreError> {
        secret::secrets(&self.db, owner).await
    }

    async fn sealed_secrets(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String)>, CatalogStoreError> {
        secret::sealed_secrets(&self.db, owner).await
    }

    async fn delete_secret(&self, owner: &str, name: &str) -> Result<bool, CatalogStoreError> {
        secret::delete_secret(&self.db, owner, name).await
    }

    async fn record_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        delivery::record_delivery(&self.db, app_id, delivery_id, at).await
    }

    async fn forget_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
    ) -> Result<(), CatalogStoreError> {
        delivery::forget_delivery(&self.db, app_id, delivery_id).await
    }

    async fn insert_schedule(&self, schedule: &StoredSchedule) -> Result<(), CatalogStoreError> {
        schedule::insert_schedule(&self.db, schedule).await
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, CatalogStoreError> {
        schedule::schedule(&self.db, id).await
    }

    async fn schedules(
        &self,
        target: Option<(ScheduleTarget, &str)>,
    ) -> Result<Vec<StoredSchedule>, CatalogStoreError> {
        schedule::schedules(&self.db, target).await
    }

    async fn update_schedule(&self, schedule: &StoredSchedule) -> Result<bool, CatalogStoreError> {
        schedule::update_schedule(&self.db, schedule).await
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, CatalogStoreError> {
        schedule::delete_schedule(&self.db, id).await
    }

    async fn claim_fire(
        &self,
        id: &str,
        previous: Option<DateTime<Utc>>,
        fired_at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        schedule::claim_fire(&self.db, id, previous, fired_at).await
    }

    async fn insert_repository(&self, repo: &NamedRepository) -> Result<(), CatalogStoreError> {
        repository::insert_repository(&self.db, repo).await
    }

    async fn repository(&self, id: &str) -> Result<Option<NamedRepository>, CatalogStoreError> {
        repository::repository(&self.db, id).await
    }

    async fn repository_by_name(
        &self,
        name: &str,
    ) -> Result<Option<NamedRepository>, CatalogStoreError> {
        repository::repository_by_name(&self.db, name).await
    }

    async fn repositories(
        &self,
        project_id: Option<&str>,
        only_projects: Option<&[String]>,
        page: &PageRequest,
    ) -> Result<Page<NamedRepository>, CatalogStoreError> {
        repository::repositories(&self.db, project_id, id_filter(only_projects), page).await
    }

    async fn update_repository(&self, repo: &NamedRepository) -> Result<bool, CatalogStoreError> {
        repository::update_repository(&self.db, repo).await
    }

    async fn delete_repository(&self, id: &str) -> Result<bool, CatalogStoreError> {
        repository::delete_repository(&self.db, id).await
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), CatalogStoreError> {
        audit::insert_audit(&self.db, entry).await
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, CatalogStoreError> {
        audit::audit_entries(&self.db, filter, page).await
    }
}
