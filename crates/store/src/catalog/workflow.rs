//! Workflows and their versions (`workflows`, `workflow_versions`): a
//! version is added only by the writer that saw the previous latest one.

use super::schedule::delete_schedules_of;
use super::{classify, from_json, paged, store, to_json, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{workflow_versions, workflows};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use slipway_domain::catalog::{
    CatalogStoreError, Order, Page, PageRequest, ScheduleTarget, Workflow, WorkflowVersion,
};
use slipway_domain::definition::Format;

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
    created_by_id: Option<String>,
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

impl From<&Workflow> for WorkflowRow {
    fn from(w: &Workflow) -> Self {
        WorkflowRow {
            id: w.id.clone(),
            project_id: w.project_id.clone(),
            name: w.name.clone(),
            latest_version: w.latest_version,
            created_at: w.created_at.naive_utc(),
            updated_at: w.updated_at.naive_utc(),
        }
    }
}

fn version_row(v: &WorkflowVersion) -> Result<VersionRow, DbError> {
    Ok(VersionRow {
        workflow_id: v.workflow_id.clone(),
        version: v.version,
        definition: to_json(&v.definition)?,
        format: match v.format {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
        .to_owned(),
        source: v.source.clone(),
        created_by: v.created_by.clone(),
        created_at: v.created_at.naive_utc(),
        created_by_id: v.created_by_id.clone(),
    })
}

fn version_of(r: VersionRow) -> Result<WorkflowVersion, DbError> {
    Ok(WorkflowVersion {
        workflow_id: r.workflow_id,
        version: r.version,
        definition: from_json("workflow definition", &r.definition)?,
        format: match r.format.as_str() {
            "json" => Format::Json,
            "yaml" => Format::Yaml,
            other => return Err(DbError::Corrupt(format!("definition format `{other}`"))),
        },
        source: r.source,
        created_by: r.created_by,
        created_by_id: r.created_by_id,
        created_at: utc(r.created_at),
    })
}

pub(super) fn delete_workflow_rows(c: &mut AnyConnection, id: &str) -> Result<usize, DbError> {
    delete_schedules_of(c, ScheduleTarget::Workflow, id)?;
    diesel::delete(workflow_versions::table.filter(workflow_versions::workflow_id.eq(id)))
        .execute(c)?;
    Ok(diesel::delete(workflows::table.filter(workflows::id.eq(id))).execute(c)?)
}

pub(super) async fn insert_workflow(
    db: &Db,
    workflow: &Workflow,
    first: &WorkflowVersion,
) -> Result<(), CatalogStoreError> {
    let row = WorkflowRow::from(workflow);
    let version = version_row(first).map_err(store)?;
    let name = workflow.name.clone();
    db.write(move |c| {
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

pub(super) async fn add_version(
    db: &Db,
    version: &WorkflowVersion,
) -> Result<(), CatalogStoreError> {
    let row = version_row(version).map_err(store)?;
    let (id, v, at) = (
        version.workflow_id.clone(),
        version.version,
        version.created_at.naive_utc(),
    );
    let r = db
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

pub(super) async fn workflow(db: &Db, id: &str) -> Result<Option<Workflow>, CatalogStoreError> {
    let query = workflows::table
        .filter(workflows::id.eq(id.to_owned()))
        .select(WorkflowRow::as_select());
    db.first(query, |r| Ok(Workflow::from(r)))
        .await
        .map_err(store)
}

pub(super) async fn workflows(
    db: &Db,
    project_id: &str,
    page: &PageRequest,
) -> Result<Page<Workflow>, CatalogStoreError> {
    let pid = project_id.to_owned();
    paged(db, page, move |c, p| {
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
        let rows = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((total, rows.into_iter().map(Workflow::from).collect()))
    })
    .await
}

/// The ids of project `project_id`'s workflows.
pub(super) fn workflow_ids_of(
    c: &mut AnyConnection,
    project_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(workflows::table
        .filter(workflows::project_id.eq(project_id))
        .select(workflows::id)
        .load(c)?)
}

pub(super) async fn version(
    db: &Db,
    workflow_id: &str,
    version: i32,
) -> Result<Option<WorkflowVersion>, CatalogStoreError> {
    let query = workflow_versions::table
        .filter(
            workflow_versions::workflow_id
                .eq(workflow_id.to_owned())
                .and(workflow_versions::version.eq(version)),
        )
        .select(VersionRow::as_select());
    db.first(query, version_of).await.map_err(store)
}

pub(super) async fn versions(
    db: &Db,
    workflow_id: &str,
    page: &PageRequest,
) -> Result<Page<WorkflowVersion>, CatalogStoreError> {
    let id = workflow_id.to_owned();
    paged(db, page, move |c, p| {
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
        let rows = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((
            total,
            rows.into_iter().map(version_of).collect::<Result<_, _>>()?,
        ))
    })
    .await
}

pub(super) async fn delete_workflow(db: &Db, id: &str) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write(move |c| Ok(delete_workflow_rows(c, &id)? == 1))
        .await
        .map_err(store)
}
