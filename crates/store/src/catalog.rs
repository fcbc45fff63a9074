//! `CatalogStore` on SQL: projects, workflows and their versions, API
//! tokens, applications, secrets, webhook deliveries and schedules. Names
//! are unique by constraint; a clash is reported as `Duplicate`, never as a
//! failure of the store.

use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{
    api_tokens, application_last_run, applications, deliveries, projects, runs, schedules, secrets,
    workflow_versions, workflows,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Nullable, Text};
use slipway_core::{Status, Trigger};
use slipway_domain::applications::detail as keys;
use slipway_domain::catalog::{
    ApiToken, Application, CatalogStore, CatalogStoreError, LastRun, Order, Page, PageRequest,
    Project, Provider, Repository, ScheduleTarget, SecretMeta, StoredSchedule, TriggerRule,
    Workflow, WorkflowVersion,
};
use slipway_domain::definition::Format;
use std::collections::BTreeMap;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: String,
    name: String,
    description: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = workflows)]
struct WorkflowRow {
    id: String,
    project_id: String,
    name: String,
    latest_version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = workflow_versions)]
struct VersionRow {
    workflow_id: String,
    version: i32,
    definition: String,
    format: String,
    source: String,
    created_by: Option<String>,
    created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    secret_hash: String,
    is_admin: bool,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            id: r.id,
            name: r.name,
            description: r.description,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

impl From<&Project> for ProjectRow {
    fn from(p: &Project) -> Self {
        ProjectRow {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            created_at: p.created_at.naive_utc(),
            updated_at: p.updated_at.naive_utc(),
        }
    }
}

impl From<WorkflowRow> for Workflow {
    fn from(r: WorkflowRow) -> Self {
        Workflow {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            latest_version: r.latest_version,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

fn version_row(v: &WorkflowVersion) -> Result<VersionRow, DbError> {
    Ok(VersionRow {
        workflow_id: v.workflow_id.clone(),
        version: v.version,
        definition: serde_json::to_string(&v.definition)
            .map_err(|e| DbError::Corrupt(e.to_string()))?,
        format: match v.format {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
        .to_owned(),
        source: v.source.clone(),
        created_by: v.created_by.clone(),
        created_at: v.created_at.naive_utc(),
    })
}

fn version_of(r: VersionRow) -> Result<WorkflowVersion, DbError> {
    Ok(WorkflowVersion {
        workflow_id: r.workflow_id,
        version: r.version,
        definition: serde_json::from_str(&r.definition)
            .map_err(|e| DbError::Corrupt(format!("workflow definition: {e}")))?,
        format: match r.format.as_str() {
            "json" => Format::Json,
            "yaml" => Format::Yaml,
            other => return Err(DbError::Corrupt(format!("definition format `{other}`"))),
        },
        source: r.source,
        created_by: r.created_by,
        created_at: utc(r.created_at),
    })
}

fn token_of(r: TokenRow) -> (ApiToken, String) {
    (
        ApiToken {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            is_admin: r.is_admin,
            created_by: r.created_by,
            created_at: utc(r.created_at),
            last_used_at: r.last_used_at.map(utc),
            revoked_at: r.revoked_at.map(utc),
        },
        r.secret_hash,
    )
}

/// A failed write: a unique constraint becomes `Duplicate(what)`, a foreign
/// key `Missing(what)`; anything else is the store's failure.
fn classify(e: DbError, duplicate: &str, missing: &str) -> CatalogStoreError {
    match e {
        DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            CatalogStoreError::Duplicate(duplicate.to_owned())
        }
        DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
            CatalogStoreError::Missing(missing.to_owned())
        }
        other => CatalogStoreError::Store(other.into()),
    }
}

fn store(e: DbError) -> CatalogStoreError {
    CatalogStoreError::Store(e.into())
}

fn limits(page: &PageRequest) -> (i64, i64) {
    (
        i64::from(page.per_page.clamp(1, PageRequest::MAX_PER_PAGE)),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
struct ApplicationRow {
    id: String,
    project_id: String,
    name: String,
    description: String,
    provider: String,
    repo_owner: String,
    repo_name: String,
    repo_url: String,
    provider_repo_id: String,
    default_branch: String,
    template_path: String,
    triggers: String,
    cancel_superseded: bool,
    webhook_secret: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// `applications.last_run_id`, which the diesel table leaves out (see
/// schema.rs): fixed SQL, the same on both backends.
const LAST_RUN_ID: &str = "applications.last_run_id";
/// The join of an application's latest run.
const JOIN_LAST_RUN: &str = "applications.last_run_id = runs.id";

/// The latest run's status, creation time and trigger, from the LEFT JOIN
/// of `runs` (none when the application never ran or the run is gone).
type LastRunColumns = Option<(String, NaiveDateTime, String)>;

#[derive(Insertable)]
#[diesel(table_name = secrets)]
struct SecretRow {
    owner: String,
    name: String,
    value: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = secrets)]
struct SecretMetaRow {
    name: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    app_id: String,
    delivery_id: String,
    received_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules)]
struct ScheduleRow {
    id: String,
    target: String,
    target_id: String,
    expression: String,
    timezone: Option<String>,
    git_ref: String,
    params: String,
    enabled: bool,
    last_fired_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Applications LEFT JOINed with their latest run.
macro_rules! apps_with_last_run {
    () => {
        applications::table.left_join(runs::table.on(sql::<Bool>(JOIN_LAST_RUN)))
    };
}

/// What reads of applications select from [`apps_with_last_run`].
macro_rules! app_columns {
    () => {
        (
            ApplicationRow::as_select(),
            sql::<Nullable<Text>>(LAST_RUN_ID),
            (runs::status, runs::created_at, runs::trigger_info).nullable(),
        )
    };
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, DbError> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

fn application_row(a: &Application) -> Result<ApplicationRow, DbError> {
    Ok(ApplicationRow {
        id: a.id.clone(),
        project_id: a.project_id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        provider: a.repository.provider.as_str().to_owned(),
        repo_owner: a.repository.owner.clone(),
        repo_name: a.repository.name.clone(),
        repo_url: a.repository.url.clone(),
        provider_repo_id: a.repository.provider_repo_id.clone(),
        default_branch: a.default_branch.clone(),
        template_path: a.template_path.clone(),
        triggers: to_json(&a.triggers)?,
        cancel_superseded: a.cancel_superseded,
        webhook_secret: a.webhook_secret.clone(),
        created_at: a.created_at.naive_utc(),
        updated_at: a.updated_at.naive_utc(),
    })
}

fn application_of(
    (r, last_run_id, run): (ApplicationRow, Option<String>, LastRunColumns),
) -> Result<Application, DbError> {
    let provider = r
        .provider
        .parse::<Provider>()
        .ok()
        .ok_or_else(|| DbError::Corrupt(format!("application provider `{}`", r.provider)))?;
    let triggers: Vec<TriggerRule> = from_json("application triggers", &r.triggers)?;
    let last_run = match (last_run_id, run) {
        (Some(run_id), Some((status, created_at, trigger))) => {
            Some(last_run_of(run_id, status, created_at, &trigger)?)
        }
        _ => None,
    };
    Ok(Application {
        id: r.id,
        project_id: r.project_id,
        name: r.name,
        description: r.description,
        repository: Repository {
            provider,
            owner: r.repo_owner,
            name: r.repo_name,
            url: r.repo_url,
            provider_repo_id: r.provider_repo_id,
        },
        default_branch: r.default_branch,
        template_path: r.template_path,
        triggers,
        cancel_superseded: r.cancel_superseded,
        webhook_secret: r.webhook_secret,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        last_run,
    })
}

/// A [`LastRun`] from the run's status word, creation time and trigger
/// (a serialized [`Trigger`] whose detail may hold `commit`, `ref` and
/// `message`).
fn last_run_of(
    run_id: String,
    status: String,
    created_at: NaiveDateTime,
    trigger: &str,
) -> Result<LastRun, DbError> {
    let completed = status
        .parse::<Status>()
        .map_err(|e| DbError::Corrupt(e.to_string()))?
        .is_terminal();
    let mut detail = from_json::<Trigger>("run trigger", trigger)?.detail;
    let message = detail
        .remove(keys::MESSAGE)
        .map(|m| m.lines().next().unwrap_or_default().to_owned());
    Ok(LastRun {
        run_id,
        commit: detail.remove(keys::COMMIT),
        message,
        git_ref: detail.remove(keys::REF),
        status,
        completed,
        created_at: utc(created_at),
    })
}

fn schedule_row(s: &StoredSchedule) -> Result<ScheduleRow, DbError> {
    Ok(ScheduleRow {
        id: s.id.clone(),
        target: s.target.as_str().to_owned(),
        target_id: s.target_id.clone(),
        expression: s.expression.clone(),
        timezone: s.timezone.clone(),
        git_ref: s.git_ref.clone(),
        params: to_json(&s.params)?,
        enabled: s.enabled,
        last_fired_at: s.last_fired_at.map(|t| t.naive_utc()),
        created_at: s.created_at.naive_utc(),
        updated_at: s.updated_at.naive_utc(),
    })
}

fn schedule_of(r: ScheduleRow) -> Result<StoredSchedule, DbError> {
    Ok(StoredSchedule {
        target: ScheduleTarget::parse(&r.target)
            .ok_or_else(|| DbError::Corrupt(format!("schedule target `{}`", r.target)))?,
        params: from_json::<BTreeMap<String, String>>("schedule params", &r.params)?,
        id: r.id,
        target_id: r.target_id,
        expression: r.expression,
        timezone: r.timezone,
        git_ref: r.git_ref,
        enabled: r.enabled,
        last_fired_at: r.last_fired_at.map(utc),
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
    })
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

/// The secret owner key of an application.
fn application_owner(id: &str) -> String {
    format!("application/{id}")
}

/// The secret owner key of a project.
fn project_owner(id: &str) -> String {
    format!("project/{id}")
}

/// What one attempt of [`CatalogStore::set_last_run`] found.
enum LastRunWrite {
    /// Recorded (or a newer run was recorded already).
    Done,
    /// No such application.
    Missing,
    /// Another writer changed the latest run meanwhile: read again.
    Raced,
}

/// One compare-and-set attempt at recording `run` as the latest run of
/// `app`, keeping a newer run (a higher `runs.seq`) that is recorded
/// already: two runs started together may record themselves in either
/// order.
fn set_last_run_once(c: &mut AnyConnection, app: &str, run: &str) -> Result<LastRunWrite, DbError> {
    let Some(current) = application_last_run::table
        .filter(application_last_run::id.eq(app))
        .select(application_last_run::last_run_id)
        .first::<Option<String>>(c)
        .optional()?
    else {
        return Ok(LastRunWrite::Missing);
    };
    if let Some(cur) = current.as_deref() {
        if cur == run {
            return Ok(LastRunWrite::Done);
        }
        let seqs: Vec<(String, i64)> = runs::table
            .filter(runs::id.eq_any([cur, run]))
            .select((runs::id, runs::seq))
            .load(c)?;
        let seq = |id: &str| seqs.iter().find(|(i, _)| i == id).map(|(_, s)| *s);
        if let (Some(old), Some(new)) = (seq(cur), seq(run))
            && old > new
        {
            return Ok(LastRunWrite::Done);
        }
    }
    let this = application_last_run::table.filter(application_last_run::id.eq(app));
    let set = application_last_run::last_run_id.eq(Some(run));
    let n = match current.as_deref() {
        Some(cur) => diesel::update(this.filter(application_last_run::last_run_id.eq(cur)))
            .set(set)
            .execute(c)?,
        None => diesel::update(this.filter(application_last_run::last_run_id.is_null()))
            .set(set)
            .execute(c)?,
    };
    Ok(if n == 1 {
        LastRunWrite::Done
    } else {
        LastRunWrite::Raced
    })
}

fn delete_application_rows(c: &mut AnyConnection, id: &str) -> Result<usize, DbError> {
    diesel::delete(secrets::table.filter(secrets::owner.eq(application_owner(id)))).execute(c)?;
    diesel::delete(deliveries::table.filter(deliveries::app_id.eq(id))).execute(c)?;
    delete_schedules_of(c, ScheduleTarget::Application, id)?;
    Ok(diesel::delete(applications::table.filter(applications::id.eq(id))).execute(c)?)
}

fn delete_schedules_of(
    c: &mut AnyConnection,
    target: ScheduleTarget,
    id: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        schedules::table.filter(
            schedules::target
                .eq(target.as_str())
                .and(schedules::target_id.eq(id)),
        ),
    )
    .execute(c)?)
}

/// The SQL catalog.
#[derive(Debug, Clone)]
pub struct SqlCatalog {
    db: Db,
}

impl SqlCatalog {
    /// The catalog on `db`.
    pub fn new(db: Db) -> Self {
        SqlCatalog { db }
    }
}

fn delete_workflow_rows(c: &mut AnyConnection, id: &str) -> Result<usize, DbError> {
    delete_schedules_of(c, ScheduleTarget::Workflow, id)?;
    diesel::delete(workflow_versions::table.filter(workflow_versions::workflow_id.eq(id)))
        .execute(c)?;
    Ok(diesel::delete(workflows::table.filter(workflows::id.eq(id))).execute(c)?)
}

#[async_trait]
impl CatalogStore for SqlCatalog {
    async fn insert_project(&self, project: &Project) -> Result<(), CatalogStoreError> {
        let row = ProjectRow::from(project);
        let name = project.name.clone();
        self.db
            .write_one(move |c| {
                diesel::insert_into(projects::table)
                    .values(&row)
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(|e| classify(e, &format!("a project named `{name}` exists already"), ""))
    }

    async fn project(&self, id: &str) -> Result<Option<Project>, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .read(move |c| {
                Ok(projects::table
                    .filter(projects::id.eq(&id))
                    .select(ProjectRow::as_select())
                    .first(c)
                    .optional()?
                    .map(Project::from))
            })
            .await
            .map_err(store)
    }

    async fn projects(&self, page: &PageRequest) -> Result<Page<Project>, CatalogStoreError> {
        let p = page.clone();
        let (limit, offset) = limits(page);
        self.db
            .read(move |c| {
                let total: i64 = projects::table.count().get_result(c)?;
                let mut q = projects::table.select(ProjectRow::as_select()).into_boxed();
                q = match (p.sort.as_str(), p.order) {
                    ("created_at", Order::Asc) => q.order(projects::created_at.asc()),
                    ("created_at", Order::Desc) => q.order(projects::created_at.desc()),
                    (_, Order::Asc) => q.order(projects::name.asc()),
                    (_, Order::Desc) => q.order(projects::name.desc()),
                };
                let rows = q.limit(limit).offset(offset).load(c)?;
                Ok(Page {
                    items: rows.into_iter().map(Project::from).collect(),
                    total: count(total),
                    page: p.page,
                    per_page: p.per_page,
                })
            })
            .await
            .map_err(store)
    }

    async fn update_project(&self, project: &Project) -> Result<bool, CatalogStoreError> {
        let p = project.clone();
        let name = project.name.clone();
        self.db
            .write_one(move |c| {
                let n = diesel::update(projects::table.filter(projects::id.eq(&p.id)))
                    .set((
                        projects::name.eq(&p.name),
                        projects::description.eq(&p.description),
                        projects::updated_at.eq(p.updated_at.naive_utc()),
                    ))
                    .execute(c)?;
                Ok(n == 1)
            })
            .await
            .map_err(|e| classify(e, &format!("a project named `{name}` exists already"), ""))
    }

    async fn delete_project(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let ids: Vec<String> = workflows::table
                    .filter(workflows::project_id.eq(&id))
                    .select(workflows::id)
                    .load(c)?;
                for w in &ids {
                    delete_workflow_rows(c, w)?;
                }
                let apps: Vec<String> = applications::table
                    .filter(applications::project_id.eq(&id))
                    .select(applications::id)
                    .load(c)?;
                for a in &apps {
                    delete_application_rows(c, a)?;
                }
                diesel::delete(secrets::table.filter(secrets::owner.eq(project_owner(&id))))
                    .execute(c)?;
                Ok(diesel::delete(projects::table.filter(projects::id.eq(&id))).execute(c)? == 1)
            })
            .await
            .map_err(store)
    }

    async fn insert_workflow(
        &self,
        workflow: &Workflow,
        first: &WorkflowVersion,
    ) -> Result<(), CatalogStoreError> {
        let row = WorkflowRow {
            id: workflow.id.clone(),
            project_id: workflow.project_id.clone(),
            name: workflow.name.clone(),
            latest_version: workflow.latest_version,
            created_at: workflow.created_at.naive_utc(),
            updated_at: workflow.updated_at.naive_utc(),
        };
        let version = version_row(first).map_err(store)?;
        let name = workflow.name.clone();
        self.db
            .write(move |c| {
                diesel::insert_into(workflows::table)
                    .values(&row)
                    .execute(c)?;
                diesel::insert_into(workflow_versions::table)
                    .values(&version)
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(|e| {
                classify(
                    e,
                    &format!("the project has a workflow named `{name}` already"),
                    "the project is gone",
                )
            })
    }

    async fn add_version(&self, version: &WorkflowVersion) -> Result<(), CatalogStoreError> {
        let row = version_row(version).map_err(store)?;
        let (id, v, at) = (
            version.workflow_id.clone(),
            version.version,
            version.created_at.naive_utc(),
        );
        let r = self
            .db
            .write(move |c| {
                // Conditional: only the writer that saw `v - 1` moves on.
                let n = diesel::update(
                    workflows::table.filter(
                        workflows::id
                            .eq(&id)
                            .and(workflows::latest_version.eq(v - 1)),
                    ),
                )
                .set((
                    workflows::latest_version.eq(v),
                    workflows::updated_at.eq(at),
                ))
                .execute(c)?;
                if n != 1 {
                    return Ok(false);
                }
                diesel::insert_into(workflow_versions::table)
                    .values(&row)
                    .execute(c)?;
                Ok(true)
            })
            .await
            .map_err(|e| classify(e, "that version exists already", "the workflow is gone"))?;
        if r {
            Ok(())
        } else {
            Err(CatalogStoreError::Duplicate(
                "the workflow changed meanwhile; fetch it and try again".into(),
            ))
        }
    }

    async fn workflow(&self, id: &str) -> Result<Option<Workflow>, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .read(move |c| {
                Ok(workflows::table
                    .filter(workflows::id.eq(&id))
                    .select(WorkflowRow::as_select())
                    .first(c)
                    .optional()?
                    .map(Workflow::from))
            })
            .await
            .map_err(store)
    }

    async fn workflows(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>, CatalogStoreError> {
        let (pid, p) = (project_id.to_owned(), page.clone());
        let (limit, offset) = limits(page);
        self.db
            .read(move |c| {
                let total: i64 = workflows::table
                    .filter(workflows::project_id.eq(&pid))
                    .count()
                    .get_result(c)?;
                let mut q = workflows::table
                    .filter(workflows::project_id.eq(&pid))
                    .select(WorkflowRow::as_select())
                    .into_boxed();
                q = match (p.sort.as_str(), p.order) {
                    ("created_at", Order::Asc) => q.order(workflows::created_at.asc()),
                    ("created_at", Order::Desc) => q.order(workflows::created_at.desc()),
                    (_, Order::Asc) => q.order(workflows::name.asc()),
                    (_, Order::Desc) => q.order(workflows::name.desc()),
                };
                let rows = q.limit(limit).offset(offset).load(c)?;
                Ok(Page {
                    items: rows.into_iter().map(Workflow::from).collect(),
                    total: count(total),
                    page: p.page,
                    per_page: p.per_page,
                })
            })
            .await
            .map_err(store)
    }

    async fn workflow_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        let pid = project_id.to_owned();
        self.db
            .read(move |c| {
                Ok(workflows::table
                    .filter(workflows::project_id.eq(&pid))
                    .select(workflows::id)
                    .load(c)?)
            })
            .await
            .map_err(store)
    }

    async fn version(
        &self,
        workflow_id: &str,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, CatalogStoreError> {
        let id = workflow_id.to_owned();
        self.db
            .read(move |c| {
                workflow_versions::table
                    .filter(
                        workflow_versions::workflow_id
                            .eq(&id)
                            .and(workflow_versions::version.eq(version)),
                    )
                    .select(VersionRow::as_select())
                    .first(c)
                    .optional()?
                    .map(version_of)
                    .transpose()
            })
            .await
            .map_err(store)
    }

    async fn versions(
        &self,
        workflow_id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>, CatalogStoreError> {
        let (id, p) = (workflow_id.to_owned(), page.clone());
        let (limit, offset) = limits(page);
        self.db
            .read(move |c| {
                let total: i64 = workflow_versions::table
                    .filter(workflow_versions::workflow_id.eq(&id))
                    .count()
                    .get_result(c)?;
                let mut q = workflow_versions::table
                    .filter(workflow_versions::workflow_id.eq(&id))
                    .select(VersionRow::as_select())
                    .into_boxed();
                q = match p.order {
                    Order::Asc => q.order(workflow_versions::version.asc()),
                    Order::Desc => q.order(workflow_versions::version.desc()),
                };
                let rows = q.limit(limit).offset(offset).load(c)?;
                Ok(Page {
                    items: rows.into_iter().map(version_of).collect::<Result<_, _>>()?,
                    total: count(total),
                    page: p.page,
                    per_page: p.per_page,
                })
            })
            .await
            .map_err(store)
    }

    async fn delete_workflow(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| Ok(delete_workflow_rows(c, &id)? == 1))
            .await
            .map_err(store)
    }

    async fn insert_token(
        &self,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError> {
        let row = TokenRow {
            id: token.id.clone(),
            name: token.name.clone(),
            prefix: token.prefix.clone(),
            secret_hash: secret_hash.to_owned(),
            is_admin: token.is_admin,
            created_by: token.created_by.clone(),
            created_at: token.created_at.naive_utc(),
            last_used_at: token.last_used_at.map(|t| t.naive_utc()),
            revoked_at: token.revoked_at.map(|t| t.naive_utc()),
        };
        self.db
            .write_one(move |c| {
                diesel::insert_into(api_tokens::table)
                    .values(&row)
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(|e| classify(e, "that token exists already", ""))
    }

    async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(ApiToken, String)>, CatalogStoreError> {
        let hash = secret_hash.to_owned();
        self.db
            .read(move |c| {
                Ok(api_tokens::table
                    .filter(api_tokens::secret_hash.eq(&hash))
                    .select(TokenRow::as_select())
                    .first(c)
                    .optional()?
                    .map(token_of))
            })
            .await
            .map_err(store)
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, CatalogStoreError> {
        self.db
            .read(move |c| {
                Ok(api_tokens::table
                    .order(api_tokens::created_at.desc())
                    .select(TokenRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(|r| token_of(r).0)
                    .collect())
            })
            .await
            .map_err(store)
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write_one(move |c| {
                let exists = diesel::update(
                    api_tokens::table
                        .filter(api_tokens::id.eq(&id).and(api_tokens::revoked_at.is_null())),
                )
                .set(api_tokens::revoked_at.eq(Some(at.naive_utc())))
                .execute(c)?
                    == 1;
                if exists {
                    return Ok(true);
                }
                // Revoking a revoked token is fine; an unknown one is not.
                let n: i64 = api_tokens::table
                    .filter(api_tokens::id.eq(&id))
                    .count()
                    .get_result(c)?;
                Ok(n == 1)
            })
            .await
            .map_err(store)
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write_one(move |c| {
                diesel::update(api_tokens::table.filter(api_tokens::id.eq(&id)))
                    .set(api_tokens::last_used_at.eq(Some(at.naive_utc())))
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(store)
    }

    async fn count_tokens(&self) -> Result<u64, CatalogStoreError> {
        self.db
            .read(move |c| {
                let n: i64 = api_tokens::table.count().get_result(c)?;
                Ok(count(n))
            })
            .await
            .map_err(store)
    }

    async fn insert_application(&self, app: &Application) -> Result<(), CatalogStoreError> {
        let row = application_row(app).map_err(store)?;
        let name = app.name.clone();
        self.db
            .write_one(move |c| {
                diesel::insert_into(applications::table)
                    .values(&row)
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(|e| {
                classify(
                    e,
                    &format!("the project has an application named `{name}` already"),
                    "the project is gone",
                )
            })
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .read(move |c| {
                apps_with_last_run!()
                    .filter(applications::id.eq(&id))
                    .select(app_columns!())
                    .first::<(ApplicationRow, Option<String>, LastRunColumns)>(c)
                    .optional()?
                    .map(application_of)
                    .transpose()
            })
            .await
            .map_err(store)
    }

    async fn applications(
        &self,
        project_id: Option<&str>,
        last_status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Application>, CatalogStoreError> {
        let (pid, status, p) = (
            project_id.map(str::to_owned),
            last_status.map(str::to_owned),
            page.clone(),
        );
        let (limit, offset) = limits(page);
        self.db
            .read(move |c| {
                let mut total_q = apps_with_last_run!()
                    .select(diesel::dsl::count_star())
                    .into_boxed();
                let mut q = apps_with_last_run!().select(app_columns!()).into_boxed();
                if let Some(pid) = &pid {
                    total_q = total_q.filter(applications::project_id.eq(pid.clone()));
                    q = q.filter(applications::project_id.eq(pid.clone()));
                }
                if let Some(status) = &status {
                    total_q = total_q.filter(runs::status.eq(status.clone()));
                    q = q.filter(runs::status.eq(status.clone()));
                }
                let total: i64 = total_q.get_result(c)?;
                // Applications that never ran (no joined run) sort as the
                // oldest: first ascending, last descending, on both
                // backends (whose NULL orders differ).
                q = match (p.sort.as_str(), p.order) {
                    ("created_at", Order::Asc) => q.order(applications::created_at.asc()),
                    ("created_at", Order::Desc) => q.order(applications::created_at.desc()),
                    ("last_run_at", Order::Asc) => {
                        q.order((runs::created_at.is_null().desc(), runs::created_at.asc()))
                    }
                    ("last_run_at", Order::Desc) => {
                        q.order((runs::created_at.is_null().asc(), runs::created_at.desc()))
                    }
                    (_, Order::Asc) => q.order(applications::name.asc()),
                    (_, Order::Desc) => q.order(applications::name.desc()),
                };
                q = match p.order {
                    Order::Asc => q.then_order_by(applications::id.asc()),
                    Order::Desc => q.then_order_by(applications::id.desc()),
                };
                let rows: Vec<(ApplicationRow, Option<String>, LastRunColumns)> =
                    q.limit(limit).offset(offset).load(c)?;
                Ok(Page {
                    items: rows
                        .into_iter()
                        .map(application_of)
                        .collect::<Result<_, _>>()?,
                    total: count(total),
                    page: p.page,
                    per_page: p.per_page,
                })
            })
            .await
            .map_err(store)
    }

    async fn update_application(&self, app: &Application) -> Result<bool, CatalogStoreError> {
        let r = application_row(app).map_err(store)?;
        let name = app.name.clone();
        self.db
            .write_one(move |c| {
                let n = diesel::update(applications::table.filter(applications::id.eq(&r.id)))
                    .set((
                        applications::name.eq(&r.name),
                        applications::description.eq(&r.description),
                        applications::provider.eq(&r.provider),
                        applications::repo_owner.eq(&r.repo_owner),
                        applications::repo_name.eq(&r.repo_name),
                        applications::repo_url.eq(&r.repo_url),
                        applications::provider_repo_id.eq(&r.provider_repo_id),
                        applications::default_branch.eq(&r.default_branch),
                        applications::template_path.eq(&r.template_path),
                        applications::triggers.eq(&r.triggers),
                        applications::cancel_superseded.eq(r.cancel_superseded),
                        applications::webhook_secret.eq(&r.webhook_secret),
                        applications::updated_at.eq(r.updated_at),
                    ))
                    .execute(c)?;
                Ok(n == 1)
            })
            .await
            .map_err(|e| {
                classify(
                    e,
                    &format!("the project has an application named `{name}` already"),
                    "",
                )
            })
    }

    async fn delete_application(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| Ok(delete_application_rows(c, &id)? == 1))
            .await
            .map_err(store)
    }

    async fn application_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError> {
        let pid = project_id.to_owned();
        self.db
            .read(move |c| {
                Ok(applications::table
                    .filter(applications::project_id.eq(&pid))
                    .order(applications::name.asc())
                    .select(applications::id)
                    .load(c)?)
            })
            .await
            .map_err(store)
    }

    async fn set_last_run(&self, app_id: &str, run_id: &str) -> Result<(), CatalogStoreError> {
        // A compare and set on the latest run: on PostgreSQL a plain
        // read-then-write could let an older run overwrite a newer one.
        for _ in 0..16 {
            let (app, run) = (app_id.to_owned(), run_id.to_owned());
            match self
                .db
                .write(move |c| set_last_run_once(c, &app, &run))
                .await
                .map_err(store)?
            {
                LastRunWrite::Done => return Ok(()),
                LastRunWrite::Missing => {
                    return Err(CatalogStoreError::Missing(format!(
                        "application {app_id} is gone"
                    )));
                }
                LastRunWrite::Raced => continue,
            }
        }
        Err(store(DbError::Task(format!(
            "the latest run of application {app_id} kept changing"
        ))))
    }

    async fn put_secret(
        &self,
        owner: &str,
        name: &str,
        sealed: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        // Replace, else add, in one write transaction. On SQLite writers are
        // serialised; on PostgreSQL two first writers of one name may both
        // find nothing to replace, and the one whose insert then clashes
        // tries again (and replaces).
        let mut attempt = 0;
        loop {
            attempt += 1;
            let row = SecretRow {
                owner: owner.to_owned(),
                name: name.to_owned(),
                value: sealed.to_owned(),
                created_at: at.naive_utc(),
                updated_at: at.naive_utc(),
            };
            let r = self
                .db
                .write(move |c| {
                    let n = diesel::update(
                        secrets::table.filter(
                            secrets::owner
                                .eq(&row.owner)
                                .and(secrets::name.eq(&row.name)),
                        ),
                    )
                    .set((
                        secrets::value.eq(&row.value),
                        secrets::updated_at.eq(row.updated_at),
                    ))
                    .execute(c)?;
                    if n == 1 {
                        return Ok(false);
                    }
                    diesel::insert_into(secrets::table)
                        .values(&row)
                        .execute(c)?;
                    Ok(true)
                })
                .await;
            match r {
                Err(e) if attempt < 3 && is_unique_violation(&e) => continue,
                other => return other.map_err(store),
            }
        }
    }

    async fn secrets(&self, owner: &str) -> Result<Vec<SecretMeta>, CatalogStoreError> {
        let owner = owner.to_owned();
        self.db
            .read(move |c| {
                Ok(secrets::table
                    .filter(secrets::owner.eq(&owner))
                    .order(secrets::name.asc())
                    .select(SecretMetaRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(|r| SecretMeta {
                        name: r.name,
                        created_at: utc(r.created_at),
                        updated_at: utc(r.updated_at),
                    })
                    .collect())
            })
            .await
            .map_err(store)
    }

    async fn sealed_secrets(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String)>, CatalogStoreError> {
        let owner = owner.to_owned();
        self.db
            .read(move |c| {
                Ok(secrets::table
                    .filter(secrets::owner.eq(&owner))
                    .order(secrets::name.asc())
                    .select((secrets::name, secrets::value))
                    .load(c)?)
            })
            .await
            .map_err(store)
    }

    async fn delete_secret(&self, owner: &str, name: &str) -> Result<bool, CatalogStoreError> {
        let (owner, name) = (owner.to_owned(), name.to_owned());
        self.db
            .write_one(move |c| {
                Ok(diesel::delete(
                    secrets::table.filter(secrets::owner.eq(&owner).and(secrets::name.eq(&name))),
                )
                .execute(c)?
                    == 1)
            })
            .await
            .map_err(store)
    }

    async fn record_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        // One insert: the primary key lets exactly one of several identical
        // deliveries in, whatever their timing.
        let row = DeliveryRow {
            app_id: app_id.to_owned(),
            delivery_id: delivery_id.to_owned(),
            received_at: at.naive_utc(),
        };
        match self
            .db
            .write_one(move |c| {
                diesel::insert_into(deliveries::table)
                    .values(&row)
                    .execute(c)?;
                Ok(())
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(classify(e, "", "the application is gone")),
        }
    }

    async fn forget_delivery(
        &self,
        app_id: &str,
        delivery_id: &str,
    ) -> Result<(), CatalogStoreError> {
        let (app, delivery) = (app_id.to_owned(), delivery_id.to_owned());
        self.db
            .write_one(move |c| {
                diesel::delete(
                    deliveries::table.filter(
                        deliveries::app_id
                            .eq(&app)
                            .and(deliveries::delivery_id.eq(&delivery)),
                    ),
                )
                .execute(c)?;
                Ok(())
            })
            .await
            .map_err(store)
    }

    async fn insert_schedule(&self, schedule: &StoredSchedule) -> Result<(), CatalogStoreError> {
        let row = schedule_row(schedule).map_err(store)?;
        self.db
            .write_one(move |c| {
                diesel::insert_into(schedules::table)
                    .values(&row)
                    .execute(c)?;
                Ok(())
            })
            .await
            .map_err(|e| classify(e, "that schedule exists already", ""))
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .read(move |c| {
                schedules::table
                    .filter(schedules::id.eq(&id))
                    .select(ScheduleRow::as_select())
                    .first(c)
                    .optional()?
                    .map(schedule_of)
                    .transpose()
            })
            .await
            .map_err(store)
    }

    async fn schedules(
        &self,
        target: Option<(ScheduleTarget, &str)>,
    ) -> Result<Vec<StoredSchedule>, CatalogStoreError> {
        let target = target.map(|(t, id)| (t.as_str(), id.to_owned()));
        self.db
            .read(move |c| {
                let mut q = schedules::table
                    .select(ScheduleRow::as_select())
                    .into_boxed();
                if let Some((kind, id)) = target {
                    q = q.filter(schedules::target.eq(kind).and(schedules::target_id.eq(id)));
                }
                q.order((schedules::created_at.asc(), schedules::id.asc()))
                    .load(c)?
                    .into_iter()
                    .map(schedule_of)
                    .collect()
            })
            .await
            .map_err(store)
    }

    async fn update_schedule(&self, schedule: &StoredSchedule) -> Result<bool, CatalogStoreError> {
        let r = schedule_row(schedule).map_err(store)?;
        self.db
            .write_one(move |c| {
                let n = diesel::update(schedules::table.filter(schedules::id.eq(&r.id)))
                    .set((
                        schedules::expression.eq(&r.expression),
                        schedules::timezone.eq(&r.timezone),
                        schedules::git_ref.eq(&r.git_ref),
                        schedules::params.eq(&r.params),
                        schedules::enabled.eq(r.enabled),
                        schedules::updated_at.eq(r.updated_at),
                    ))
                    .execute(c)?;
                Ok(n == 1)
            })
            .await
            .map_err(store)
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write_one(move |c| {
                Ok(diesel::delete(schedules::table.filter(schedules::id.eq(&id))).execute(c)? == 1)
            })
            .await
            .map_err(store)
    }

    async fn claim_fire(
        &self,
        id: &str,
        previous: Option<DateTime<Utc>>,
        fired_at: DateTime<Utc>,
    ) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write_one(move |c| {
                // Compare and set: only a writer that saw `previous` moves it.
                let this = schedules::table.filter(schedules::id.eq(&id));
                let set = schedules::last_fired_at.eq(Some(fired_at.naive_utc()));
                let n = match previous {
                    Some(p) => {
                        diesel::update(this.filter(schedules::last_fired_at.eq(p.naive_utc())))
                            .set(set)
                            .execute(c)?
                    }
                    None => diesel::update(this.filter(schedules::last_fired_at.is_null()))
                        .set(set)
                        .execute(c)?,
                };
                Ok(n == 1)
            })
            .await
            .map_err(store)
    }
}
