//! Namespaces (`namespaces`) and the desired state of their workloads
//! (`workloads`): the domain's `WorkloadStore` on the SQL catalog. Names
//! (a namespace's in the server, a workload's in its namespace) and
//! service ports are unique by constraint; deleting a namespace deletes
//! its workloads' rows in the same statement (`ON DELETE CASCADE`, and
//! explicitly for SQLite connections without foreign keys).

use super::{SqlCatalog, classify, count, from_json, id_filter, paged, store, to_json, utc};
use crate::error::DbError;
use crate::schema::{namespaces, workloads};
use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use slipway_domain::catalog::{CatalogStoreError, Order, Page, PageRequest};
use slipway_domain::workloads::{Namespace, Workload, WorkloadKind, WorkloadStore};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = namespaces)]
struct NamespaceRow {
    id: String,
    name: String,
    project_id: String,
    created_by: Option<String>,
    created_at: NaiveDateTime,
}

impl From<NamespaceRow> for Namespace {
    fn from(r: NamespaceRow) -> Self {
        Namespace {
            id: r.id,
            name: r.name,
            project_id: r.project_id,
            created_by: r.created_by,
            created_at: utc(r.created_at),
        }
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = workloads, treat_none_as_null = true)]
struct WorkloadRow {
    id: String,
    namespace_id: String,
    name: String,
    kind: String,
    manifest: String,
    workdir: String,
    instances: i32,
    port: Option<i32>,
    revision: i32,
    log_run: Option<String>,
    #[diesel(skip_update)]
    created_by: Option<String>,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    updated_by: Option<String>,
    updated_at: NaiveDateTime,
}

fn kind_word(k: WorkloadKind) -> &'static str {
    match k {
        WorkloadKind::Job => "job",
        WorkloadKind::Cronjob => "cronjob",
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::Service => "service",
    }
}

fn row_of(w: &Workload) -> Result<WorkloadRow, DbError> {
    Ok(WorkloadRow {
        id: w.id.clone(),
        namespace_id: w.namespace_id.clone(),
        name: w.name.clone(),
        kind: kind_word(w.kind).to_owned(),
        manifest: to_json(&w.manifest)?,
        workdir: w.workdir.clone(),
        instances: i32::try_from(w.instances).unwrap_or(i32::MAX),
        port: w.port.map(i32::from),
        revision: i32::try_from(w.revision).unwrap_or(i32::MAX),
        log_run: w.log_run.clone(),
        created_by: w.created_by.clone(),
        created_at: w.created_at.naive_utc(),
        updated_by: w.updated_by.clone(),
        updated_at: w.updated_at.naive_utc(),
    })
}

fn workload_of(r: WorkloadRow) -> Result<Workload, DbError> {
    let what = format!("workload {}", r.id);
    Ok(Workload {
        kind: from_json(&what, &format!("\"{}\"", r.kind))?,
        manifest: from_json(&what, &r.manifest)?,
        instances: u32::try_from(r.instances).unwrap_or(0),
        port: r.port.and_then(|p| u16::try_from(p).ok()),
        revision: u32::try_from(r.revision).unwrap_or(0),
        id: r.id,
        namespace_id: r.namespace_id,
        name: r.name,
        workdir: r.workdir,
        log_run: r.log_run,
        created_by: r.created_by,
        created_at: utc(r.created_at),
        updated_by: r.updated_by,
        updated_at: utc(r.updated_at),
    })
}

fn taken(w: &Workload) -> String {
    match w.port {
        Some(port) => format!(
            "a workload named `{}` exists already in the namespace, or port {port} is served by another workload",
            w.name
        ),
        None => format!(
            "a workload named `{}` exists already in the namespace",
            w.name
        ),
    }
}

#[async_trait]
impl WorkloadStore for SqlCatalog {
    async fn insert_namespace(&self, ns: &Namespace) -> Result<(), CatalogStoreError> {
        let row = NamespaceRow {
            id: ns.id.clone(),
            name: ns.name.clone(),
            project_id: ns.project_id.clone(),
            created_by: ns.created_by.clone(),
            created_at: ns.created_at.naive_utc(),
        };
        let name = ns.name.clone();
        self.db.insert(namespaces::table, row).await.map_err(|e| {
            classify(
                e,
                &format!("a namespace named `{name}` exists already"),
                "the project is gone",
            )
        })
    }

    async fn namespace_by_name(&self, name: &str) -> Result<Option<Namespace>, CatalogStoreError> {
        let q = namespaces::table
            .filter(namespaces::name.eq(name.to_owned()))
            .select(NamespaceRow::as_select());
        self.db
            .first(q, |r| Ok(Namespace::from(r)))
            .await
            .map_err(store)
    }

    async fn namespace(&self, id: &str) -> Result<Option<Namespace>, CatalogStoreError> {
        let q = namespaces::table
            .filter(namespaces::id.eq(id.to_owned()))
            .select(NamespaceRow::as_select());
        self.db
            .first(q, |r| Ok(Namespace::from(r)))
            .await
            .map_err(store)
    }

    async fn namespaces(
        &self,
        page: &PageRequest,
        only: Option<&[String]>,
    ) -> Result<Page<Namespace>, CatalogStoreError> {
        let only = id_filter(only);
        paged(&self.db, page, move |c, p| {
            let mut total_q = namespaces::table.count().into_boxed();
            let mut q = namespaces::table
                .select(NamespaceRow::as_select())
                .into_boxed();
            if let Some(ids) = &only {
                total_q = total_q.filter(namespaces::project_id.eq_any(ids.clone()));
                q = q.filter(namespaces::project_id.eq_any(ids.clone()));
            }
            let total: i64 = total_q.get_result(c)?;
            q = match (p.sort.as_str(), p.order) {
                ("created_at", Order::Asc) => q.order(namespaces::created_at.asc()),
                ("created_at", Order::Desc) => q.order(namespaces::created_at.desc()),
                (_, Order::Asc) => q.order(namespaces::name.asc()),
                (_, Order::Desc) => q.order(namespaces::name.desc()),
            };
            let rows = q.limit(p.limit).offset(p.offset).load(c)?;
            Ok((total, rows.into_iter().map(Namespace::from).collect()))
        })
        .await
    }

    async fn count_namespaces(&self, project_id: &str) -> Result<u64, CatalogStoreError> {
        let pid = project_id.to_owned();
        let n: i64 = self
            .db
            .read(move |c| {
                Ok(namespaces::table
                    .filter(namespaces::project_id.eq(pid))
                    .count()
                    .get_result(c)?)
            })
            .await
            .map_err(store)?;
        Ok(count(n))
    }

    async fn delete_namespace(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                diesel::delete(workloads::table.filter(workloads::namespace_id.eq(&id)))
                    .execute(c)?;
                Ok(
                    diesel::delete(namespaces::table.filter(namespaces::id.eq(&id))).execute(c)?
                        == 1,
                )
            })
            .await
            .map_err(store)
    }

    async fn insert_workload(&self, w: &Workload) -> Result<(), CatalogStoreError> {
        let row = row_of(w).map_err(store)?;
        let what = taken(w);
        self.db
            .insert(workloads::table, row)
            .await
            .map_err(|e| classify(e, &what, "the namespace is gone"))
    }

    async fn update_workload(&self, w: &Workload) -> Result<bool, CatalogStoreError> {
        let row = row_of(w).map_err(store)?;
        let what = taken(w);
        let this = workloads::table.filter(workloads::id.eq(w.id.clone()));
        self.db
            .update(this, row)
            .await
            .map(|n| n == 1)
            .map_err(|e| classify(e, &what, "the namespace is gone"))
    }

    async fn set_log_run(&self, id: &str, run: &str) -> Result<bool, CatalogStoreError> {
        let this = workloads::table.filter(workloads::id.eq(id.to_owned()));
        self.db
            .update(this, workloads::log_run.eq(Some(run.to_owned())))
            .await
            .map(|n| n == 1)
            .map_err(store)
    }

    async fn workload(&self, id: &str) -> Result<Option<Workload>, CatalogStoreError> {
        let q = workloads::table
            .filter(workloads::id.eq(id.to_owned()))
            .select(WorkloadRow::as_select());
        self.db.first(q, workload_of).await.map_err(store)
    }

    async fn workload_named(
        &self,
        namespace_id: &str,
        name: &str,
    ) -> Result<Option<Workload>, CatalogStoreError> {
        let q = workloads::table
            .filter(workloads::namespace_id.eq(namespace_id.to_owned()))
            .filter(workloads::name.eq(name.to_owned()))
            .select(WorkloadRow::as_select());
        self.db.first(q, workload_of).await.map_err(store)
    }

    async fn workload_on_port(&self, port: u16) -> Result<Option<Workload>, CatalogStoreError> {
        let q = workloads::table
            .filter(workloads::port.eq(i32::from(port)))
            .select(WorkloadRow::as_select());
        self.db.first(q, workload_of).await.map_err(store)
    }

    async fn workloads(
        &self,
        namespace_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workload>, CatalogStoreError> {
        let ns = namespace_id.to_owned();
        paged(&self.db, page, move |c, p| {
            let total: i64 = workloads::table
                .filter(workloads::namespace_id.eq(&ns))
                .count()
                .get_result(c)?;
            let mut q = workloads::table
                .filter(workloads::namespace_id.eq(&ns))
                .select(WorkloadRow::as_select())
                .into_boxed();
            q = match (p.sort.as_str(), p.order) {
                ("created_at", Order::Asc) => q.order(workloads::created_at.asc()),
                ("created_at", Order::Desc) => q.order(workloads::created_at.desc()),
                (_, Order::Asc) => q.order(workloads::name.asc()),
                (_, Order::Desc) => q.order(workloads::name.desc()),
            };
            let rows = q.limit(p.limit).offset(p.offset).load(c)?;
            let items = rows
                .into_iter()
                .map(workload_of)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((total, items))
        })
        .await
    }

    async fn all_workloads(
        &self,
        namespace_id: Option<&str>,
    ) -> Result<Vec<Workload>, CatalogStoreError> {
        let ns = namespace_id.map(str::to_owned);
        self.db
            .read(move |c| {
                let mut q = workloads::table
                    .select(WorkloadRow::as_select())
                    .order(workloads::created_at.asc())
                    .into_boxed();
                if let Some(ns) = ns {
                    q = q.filter(workloads::namespace_id.eq(ns));
                }
                q.load(c)?.into_iter().map(workload_of).collect()
            })
            .await
            .map_err(store)
    }

    async fn delete_workload(&self, id: &str) -> Result<bool, CatalogStoreError> {
        let this = workloads::table.filter(workloads::id.eq(id.to_owned()));
        self.db.delete(this).await.map(|n| n == 1).map_err(store)
    }
}
