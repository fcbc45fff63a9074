//! Named repositories (`repositories`). A repository an application points
//! at (`applications.repository_id`) is not deleted: the check and the
//! delete share one transaction, and the foreign key backs them.

use super::application::actor_of;
use super::{classify, paged, store, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{application_repository, applications, repositories};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use slipway_domain::catalog::{
    CatalogStoreError, NamedRepository, Order, Page, PageRequest, Provider,
};

/// A row of `repositories`; as a changeset (an update) it leaves the
/// project, the creator and the creation time alone.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = repositories, treat_none_as_null = true)]
struct RepositoryRow {
    id: String,
    #[diesel(skip_update)]
    project_id: String,
    name: String,
    url: String,
    default_branch: String,
    provider: String,
    owner: Option<String>,
    repo: Option<String>,
    credentials_secret: Option<String>,
    #[diesel(skip_update)]
    created_by_id: Option<String>,
    #[diesel(skip_update)]
    created_by_name: Option<String>,
    updated_by_id: Option<String>,
    updated_by_name: Option<String>,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<&NamedRepository> for RepositoryRow {
    fn from(r: &NamedRepository) -> Self {
        let (created_by_id, created_by_name) = match &r.created_by {
            Some(a) => (Some(a.id.clone()), Some(a.name.clone())),
            None => (None, None),
        };
        let (updated_by_id, updated_by_name) = match &r.updated_by {
            Some(a) => (Some(a.id.clone()), Some(a.name.clone())),
            None => (None, None),
        };
        RepositoryRow {
            id: r.id.clone(),
            project_id: r.project_id.clone(),
            name: r.name.clone(),
            url: r.url.clone(),
            default_branch: r.default_branch.clone(),
            provider: r.provider.as_str().to_owned(),
            owner: r.owner.clone(),
            repo: r.repo.clone(),
            credentials_secret: r.credentials_secret.clone(),
            created_by_id,
            created_by_name,
            updated_by_id,
            updated_by_name,
            created_at: r.created_at.naive_utc(),
            updated_at: r.updated_at.naive_utc(),
        }
    }
}

fn repository_of(r: RepositoryRow) -> Result<NamedRepository, DbError> {
    let provider = r
        .provider
        .parse::<Provider>()
        .ok()
        .ok_or_else(|| DbError::Corrupt(format!("repository provider `{}`", r.provider)))?;
    Ok(NamedRepository {
        id: r.id,
        project_id: r.project_id,
        name: r.name,
        url: r.url,
        default_branch: r.default_branch,
        provider,
        owner: r.owner,
        repo: r.repo,
        credentials_secret: r.credentials_secret,
        created_by: actor_of(r.created_by_id, r.created_by_name),
        updated_by: actor_of(r.updated_by_id, r.updated_by_name),
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
    })
}

fn taken(name: &str) -> String {
    format!("a repository named `{name}` exists already")
}

pub(super) async fn insert_repository(
    db: &Db,
    repo: &NamedRepository,
) -> Result<(), CatalogStoreError> {
    let row = RepositoryRow::from(repo);
    let name = repo.name.clone();
    db.write(move |c| {
        diesel::insert_into(repositories::table)
            .values(&row)
            .execute(c)?;
        Ok(())
    })
    .await
    .map_err(|e| classify(e, &taken(&name), "the project is gone"))
}

pub(super) async fn repository(
    db: &Db,
    id: &str,
) -> Result<Option<NamedRepository>, CatalogStoreError> {
    let query = repositories::table
        .filter(repositories::id.eq(id.to_owned()))
        .select(RepositoryRow::as_select());
    db.first(query, repository_of).await.map_err(store)
}

pub(super) async fn repository_by_name(
    db: &Db,
    name: &str,
) -> Result<Option<NamedRepository>, CatalogStoreError> {
    let query = repositories::table
        .filter(repositories::name.eq(name.to_owned()))
        .select(RepositoryRow::as_select());
    db.first(query, repository_of).await.map_err(store)
}

/// A page of named repositories: of project `project_id` when given, of
/// the projects in `only_projects` when given (none when it is empty).
pub(super) async fn repositories(
    db: &Db,
    project_id: Option<&str>,
    only_projects: Option<Vec<String>>,
    page: &PageRequest,
) -> Result<Page<NamedRepository>, CatalogStoreError> {
    let pid = project_id.map(str::to_owned);
    paged(db, page, move |c, p| {
        let mut total_q = repositories::table.count().into_boxed();
        let mut q = repositories::table
            .select(RepositoryRow::as_select())
            .into_boxed();
        if let Some(pid) = &pid {
            total_q = total_q.filter(repositories::project_id.eq(pid.clone()));
            q = q.filter(repositories::project_id.eq(pid.clone()));
        }
        if let Some(ids) = &only_projects {
            total_q = total_q.filter(repositories::project_id.eq_any(ids.clone()));
            q = q.filter(repositories::project_id.eq_any(ids.clone()));
        }
        let total: i64 = total_q.get_result(c)?;
        q = match (p.sort.as_str(), p.order) {
            ("created_at", Order::Asc) => q.order(repositories::created_at.asc()),
            ("created_at", Order::Desc) => q.order(repositories::created_at.desc()),
            (_, Order::Asc) => q.order(repositories::name.asc()),
            (_, Order::Desc) => q.order(repositories::name.desc()),
        };
        q = match p.order {
            Order::Asc => q.then_order_by(repositories::id.asc()),
            Order::Desc => q.then_order_by(repositories::id.desc()),
        };
        let rows: Vec<RepositoryRow> = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((
            total,
            rows.into_iter()
                .map(repository_of)
                .collect::<Result<_, _>>()?,
        ))
    })
    .await
}

pub(super) async fn update_repository(
    db: &Db,
    repo: &NamedRepository,
) -> Result<bool, CatalogStoreError> {
    let row = RepositoryRow::from(repo);
    let name = repo.name.clone();
    db.write(move |c| {
        let this = repositories::table.filter(repositories::id.eq(&row.id));
        Ok(diesel::update(this).set(&row).execute(c)? == 1)
    })
    .await
    .map_err(|e| classify(e, &taken(&name), ""))
}

/// The name of an application that points at repository `id`, if any.
fn user_of(c: &mut AnyConnection, id: &str) -> Result<Option<String>, DbError> {
    let app: Option<String> = application_repository::table
        .filter(application_repository::repository_id.eq(id))
        .select(application_repository::id)
        .first(c)
        .optional()?;
    let Some(app) = app else {
        return Ok(None);
    };
    Ok(applications::table
        .filter(applications::id.eq(app))
        .select(applications::name)
        .first(c)
        .optional()?)
}

pub(super) async fn delete_repository(db: &Db, id: &str) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write(move |c| {
        if let Some(app) = user_of(c, &id)? {
            return Err(DbError::Rule(slipway_domain::memory::repository_in_use(
                &app,
            )));
        }
        Ok(diesel::delete(repositories::table.filter(repositories::id.eq(&id))).execute(c)? == 1)
    })
    .await
    .map_err(store)
}

/// Deletes project `project_id`'s repositories (its applications are gone
/// already).
pub(super) fn delete_repositories_of(
    c: &mut AnyConnection,
    project_id: &str,
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(repositories::table.filter(repositories::project_id.eq(project_id)))
            .execute(c)?,
    )
}
