//! Applications (`applications`) with their latest run LEFT JOINed from
//! `runs`; the latest run is recorded by compare-and-set. The permission
//! matrix and who created and last changed an application are written
//! through `application_access` and read through fixed SQL fragments (see
//! schema.rs for why).

use super::schedule::delete_schedules_of;
use super::secret::application_owner;
use super::{classify, from_json, paged, store, to_json, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{
    application_access, application_follows, application_last_run, application_repository,
    applications, deliveries, runs, secrets,
};
use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};
use slipway_core::{Status, Trigger};
use slipway_domain::applications::detail as keys;
use slipway_domain::catalog::{
    Actor, Application, CatalogStoreError, LastRun, Matrix, Order, Page, PageRequest, Provider,
    Repository, ScheduleTarget, TriggerRule,
};

/// A row of `applications`; as a changeset (an update) it leaves the
/// project and the creation time alone.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = applications, treat_none_as_null = true)]
struct ApplicationRow {
    id: String,
    #[diesel(skip_update)]
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
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// `applications.last_run_id`, which the diesel table leaves out (see
/// schema.rs): fixed SQL, the same on both backends.
const LAST_RUN_ID: &str = "applications.last_run_id";
/// The join of an application's latest run.
const JOIN_LAST_RUN: &str = "applications.last_run_id = runs.id";

/// The access columns, which the diesel table leaves out too.
const PERMISSIONS: &str = "applications.permissions";
const CREATED_BY_ID: &str = "applications.created_by_id";
const CREATED_BY_NAME: &str = "applications.created_by_name";
const UPDATED_BY_ID: &str = "applications.updated_by_id";
const UPDATED_BY_NAME: &str = "applications.updated_by_name";
/// The named repository column, left out of the diesel table too.
const REPOSITORY_ID: &str = "applications.repository_id";

/// The access columns as read: the matrix as JSON, then the creator's and
/// the last changer's id and login.
type AccessColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The access columns as written.
struct AccessRow {
    permissions: Option<String>,
    created_by_id: Option<String>,
    created_by_name: Option<String>,
    updated_by_id: Option<String>,
    updated_by_name: Option<String>,
}

/// The latest run's status, creation time and trigger, from the LEFT JOIN
/// of `runs` (none when the application never ran or the run is gone).
type LastRunColumns = Option<(String, NaiveDateTime, String)>;

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
            (
                sql::<Nullable<Text>>(PERMISSIONS),
                sql::<Nullable<Text>>(CREATED_BY_ID),
                sql::<Nullable<Text>>(CREATED_BY_NAME),
                sql::<Nullable<Text>>(UPDATED_BY_ID),
                sql::<Nullable<Text>>(UPDATED_BY_NAME),
            ),
            sql::<Nullable<Text>>(REPOSITORY_ID),
        )
    };
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

fn access_row(a: &Application) -> Result<AccessRow, DbError> {
    let (created_by_id, created_by_name) = actor_columns(a.created_by.as_ref());
    let (updated_by_id, updated_by_name) = actor_columns(a.updated_by.as_ref());
    Ok(AccessRow {
        permissions: a.permissions.as_ref().map(to_json).transpose()?,
        created_by_id,
        created_by_name,
        updated_by_id,
        updated_by_name,
    })
}

/// An actor's id and login columns.
fn actor_columns(a: Option<&Actor>) -> (Option<String>, Option<String>) {
    match a {
        Some(a) => (Some(a.id.clone()), Some(a.name.clone())),
        None => (None, None),
    }
}

/// The actor of an id and a login column (none unless both are set).
pub(super) fn actor_of(id: Option<String>, name: Option<String>) -> Option<Actor> {
    Some(Actor {
        id: id?,
        name: name?,
    })
}

/// Writes `a` to the access columns of application `id`; the creator's
/// only when `with_creator` (a new application: an update leaves the
/// creator alone).
fn set_access(
    c: &mut AnyConnection,
    id: &str,
    a: &AccessRow,
    with_creator: bool,
) -> Result<usize, DbError> {
    use application_access::dsl as col;
    let this = application_access::table.filter(col::id.eq(id));
    let changes = (
        col::permissions.eq(a.permissions.clone()),
        col::updated_by_id.eq(a.updated_by_id.clone()),
        col::updated_by_name.eq(a.updated_by_name.clone()),
    );
    Ok(if with_creator {
        let creator = (
            col::created_by_id.eq(a.created_by_id.clone()),
            col::created_by_name.eq(a.created_by_name.clone()),
        );
        diesel::update(this).set((changes, creator)).execute(c)?
    } else {
        diesel::update(this).set(changes).execute(c)?
    })
}

/// What reads of applications load: the row, the latest run's id and
/// columns, the access columns.
type AppRead = (
    ApplicationRow,
    Option<String>,
    LastRunColumns,
    AccessColumns,
    Option<String>,
);

fn application_of(
    (r, last_run_id, run, access, repository_id): AppRead,
) -> Result<Application, DbError> {
    let (permissions, created_by_id, created_by_name, updated_by_id, updated_by_name) = access;
    let permissions: Option<Matrix> = permissions
        .as_deref()
        .map(|m| from_json("application permissions", m))
        .transpose()?;
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
        permissions,
        created_by: actor_of(created_by_id, created_by_name),
        updated_by: actor_of(updated_by_id, updated_by_name),
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        last_run,
        repository_id,
    })
}

/// Writes the named repository application `id` clones from.
fn set_repository(
    c: &mut AnyConnection,
    id: &str,
    repository_id: Option<&str>,
) -> Result<usize, DbError> {
    use application_repository::dsl as col;
    Ok(
        diesel::update(application_repository::table.filter(col::id.eq(id)))
            .set(col::repository_id.eq(repository_id))
            .execute(c)?,
    )
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

pub(super) fn delete_application_rows(c: &mut AnyConnection, id: &str) -> Result<usize, DbError> {
    diesel::delete(secrets::table.filter(secrets::owner.eq(application_owner(id)))).execute(c)?;
    diesel::delete(deliveries::table.filter(deliveries::app_id.eq(id))).execute(c)?;
    diesel::delete(application_follows::table.filter(application_follows::application_id.eq(id)))
        .execute(c)?;
    delete_schedules_of(c, ScheduleTarget::Application, id)?;
    Ok(diesel::delete(applications::table.filter(applications::id.eq(id))).execute(c)?)
}

pub(super) async fn insert_application(
    db: &Db,
    app: &Application,
    sealed: &[(String, String)],
) -> Result<(), CatalogStoreError> {
    let row = application_row(app).map_err(store)?;
    let access = access_row(app).map_err(store)?;
    let name = app.name.clone();
    let (owner, at, by) = (
        super::secret::application_owner(&app.id),
        app.created_at,
        app.created_by.clone(),
    );
    let sealed = sealed.to_vec();
    let repository_id = app.repository_id.clone();
    db.write(move |c| {
        diesel::insert_into(applications::table)
            .values(&row)
            .execute(c)?;
        set_access(c, &row.id, &access, true)?;
        set_repository(c, &row.id, repository_id.as_deref())?;
        super::secret::insert_all(c, &owner, &sealed, at, by.as_ref())?;
        Ok(())
    })
    .await
    .map_err(|e| {
        classify(
            e,
            &format!("the project has an application named `{name}` already"),
            "the project or the repository is gone",
        )
    })
}

pub(super) async fn application(
    db: &Db,
    id: &str,
) -> Result<Option<Application>, CatalogStoreError> {
    let query = apps_with_last_run!()
        .filter(applications::id.eq(id.to_owned()))
        .select(app_columns!());
    db.first(query, application_of).await.map_err(store)
}

/// A page of applications: of project `project_id` when given, of the
/// projects in `only_projects` when given (none when it is empty).
pub(super) async fn applications(
    db: &Db,
    project_id: Option<&str>,
    only_projects: Option<Vec<String>>,
    last_status: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Application>, CatalogStoreError> {
    let (pid, status) = (
        project_id.map(str::to_owned),
        last_status.map(str::to_owned),
    );
    paged(db, page, move |c, p| {
        let mut total_q = apps_with_last_run!()
            .select(diesel::dsl::count_star())
            .into_boxed();
        let mut q = apps_with_last_run!().select(app_columns!()).into_boxed();
        if let Some(pid) = &pid {
            total_q = total_q.filter(applications::project_id.eq(pid.clone()));
            q = q.filter(applications::project_id.eq(pid.clone()));
        }
        if let Some(ids) = &only_projects {
            total_q = total_q.filter(applications::project_id.eq_any(ids.clone()));
            q = q.filter(applications::project_id.eq_any(ids.clone()));
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
        let rows: Vec<AppRead> = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((
            total,
            rows.into_iter()
                .map(application_of)
                .collect::<Result<_, _>>()?,
        ))
    })
    .await
}

pub(super) async fn update_application(
    db: &Db,
    app: &Application,
) -> Result<bool, CatalogStoreError> {
    let r = application_row(app).map_err(store)?;
    let access = access_row(app).map_err(store)?;
    let name = app.name.clone();
    let repository_id = app.repository_id.clone();
    db.write(move |c| {
        let this = applications::table.filter(applications::id.eq(&r.id));
        let n = diesel::update(this).set(&r).execute(c)?;
        if n == 1 {
            set_access(c, &r.id, &access, false)?;
            set_repository(c, &r.id, repository_id.as_deref())?;
        }
        Ok(n == 1)
    })
    .await
    .map_err(|e| {
        classify(
            e,
            &format!("the project has an application named `{name}` already"),
            "the repository is gone",
        )
    })
}

pub(super) async fn delete_application(db: &Db, id: &str) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write(move |c| Ok(delete_application_rows(c, &id)? == 1))
        .await
        .map_err(store)
}

/// The ids of project `project_id`'s applications, by name.
pub(super) fn application_ids_of(
    c: &mut AnyConnection,
    project_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(applications::table
        .filter(applications::project_id.eq(project_id))
        .order(applications::name.asc())
        .select(applications::id)
        .load(c)?)
}

pub(super) async fn set_last_run(
    db: &Db,
    app_id: &str,
    run_id: &str,
) -> Result<(), CatalogStoreError> {
    // A compare and set on the latest run: on PostgreSQL a plain
    // read-then-write could let an older run overwrite a newer one.
    for _ in 0..16 {
        let (app, run) = (app_id.to_owned(), run_id.to_owned());
        match db
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
