//! Projects (`projects`): unique names by constraint; created with their
//! first owner; deleting one deletes its workflows, applications, secrets
//! and members in the same transaction.

use super::application::{application_ids_of, delete_application_rows};
use super::member::insert_owner;
use super::repository::delete_repositories_of;
use super::secret::project_owner;
use super::workflow::{delete_workflow_rows, workflow_ids_of};
use super::{classify, paged, store, utc};
use crate::db::Db;
use crate::schema::{project_members, projects, secrets};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use slipway_domain::catalog::{CatalogStoreError, Order, Page, PageRequest, Project};

/// A row of `projects`; as a changeset (an update) it leaves the creation
/// time alone.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: String,
    name: String,
    description: String,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
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

pub(super) async fn insert_project(
    db: &Db,
    project: &Project,
    owner: Option<&str>,
) -> Result<(), CatalogStoreError> {
    let row = ProjectRow::from(project);
    let name = project.name.clone();
    let duplicate = |e| {
        classify(
            e,
            &format!("a project named `{name}` exists already"),
            "user",
        )
    };
    let Some(owner) = owner else {
        return db.insert(projects::table, row).await.map_err(duplicate);
    };
    let owner = owner.to_owned();
    db.write(move |c| {
        diesel::insert_into(projects::table)
            .values(&row)
            .execute(c)?;
        insert_owner(c, &row.id, &owner, row.created_at)
    })
    .await
    .map_err(duplicate)
}

pub(super) async fn project(db: &Db, id: &str) -> Result<Option<Project>, CatalogStoreError> {
    let query = projects::table
        .filter(projects::id.eq(id.to_owned()))
        .select(ProjectRow::as_select());
    db.first(query, |r| Ok(Project::from(r)))
        .await
        .map_err(store)
}

pub(super) async fn project_by_name(
    db: &Db,
    name: &str,
) -> Result<Option<Project>, CatalogStoreError> {
    let query = projects::table
        .filter(projects::name.eq(name.to_owned()))
        .select(ProjectRow::as_select());
    db.first(query, |r| Ok(Project::from(r)))
        .await
        .map_err(store)
}

/// A page of projects; only those whose id is in `only` when it is given.
pub(super) async fn projects(
    db: &Db,
    page: &PageRequest,
    only: Option<Vec<String>>,
) -> Result<Page<Project>, CatalogStoreError> {
    paged(db, page, move |c, p| {
        let mut total_q = projects::table.count().into_boxed();
        let mut q = projects::table.select(ProjectRow::as_select()).into_boxed();
        if let Some(ids) = &only {
            total_q = total_q.filter(projects::id.eq_any(ids.clone()));
            q = q.filter(projects::id.eq_any(ids.clone()));
        }
        let total: i64 = total_q.get_result(c)?;
        q = match (p.sort.as_str(), p.order) {
            ("created_at", Order::Asc) => q.order(projects::created_at.asc()),
            ("created_at", Order::Desc) => q.order(projects::created_at.desc()),
            (_, Order::Asc) => q.order(projects::name.asc()),
            (_, Order::Desc) => q.order(projects::name.desc()),
        };
        let rows = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((total, rows.into_iter().map(Project::from).collect()))
    })
    .await
}

pub(super) async fn update_project(db: &Db, project: &Project) -> Result<bool, CatalogStoreError> {
    let row = ProjectRow::from(project);
    let name = project.name.clone();
    let this = projects::table.filter(projects::id.eq(row.id.clone()));
    db.update(this, row)
        .await
        .map(|n| n == 1)
        .map_err(|e| classify(e, &format!("a project named `{name}` exists already"), ""))
}

pub(super) async fn delete_project(db: &Db, id: &str) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write(move |c| {
        for w in workflow_ids_of(c, &id)? {
            delete_workflow_rows(c, &w)?;
        }
        for a in application_ids_of(c, &id)? {
            delete_application_rows(c, &a)?;
        }
        delete_repositories_of(c, &id)?;
        diesel::delete(secrets::table.filter(secrets::owner.eq(project_owner(&id)))).execute(c)?;
        diesel::delete(project_members::table.filter(project_members::project_id.eq(&id)))
            .execute(c)?;
        Ok(diesel::delete(projects::table.filter(projects::id.eq(&id))).execute(c)? == 1)
    })
    .await
    .map_err(store)
}
