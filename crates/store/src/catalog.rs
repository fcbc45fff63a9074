//! `CatalogStore` on SQL: projects, workflows and their versions, API
//! tokens. Names are unique by constraint; a clash is reported as
//! `Duplicate`, never as a failure of the store.

use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{api_tokens, projects, workflow_versions, workflows};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use slipway_domain::catalog::{
    ApiToken, CatalogStore, CatalogStoreError, Order, Page, PageRequest, Project, Workflow,
    WorkflowVersion,
};
use slipway_domain::definition::Format;

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
}
