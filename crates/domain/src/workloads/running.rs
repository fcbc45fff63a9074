//! What runs: namespaces (each in a project) and the desired state of
//! their long-running workloads, kept behind the [`WorkloadStore`] port
//! (`slipway-store` implements it on SQLite and PostgreSQL). The workload
//! runtime (`slipway_core::WorkloadRuntime`) is told this state by the
//! operations of `App` (docs/runtime.md).

use super::manifest::{Manifest, WorkloadKind};
use crate::catalog::{CatalogStoreError, Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where workloads live: a DNS label unique in the server, in a project
/// whose permissions apply to it and its workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Its id.
    pub id: String,
    /// Its name (a DNS label), unique in the server.
    pub name: String,
    /// The project it belongs to.
    pub project_id: String,
    /// The login of who made it (explicitly or by a first deploy).
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A deployment or service as it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Its id (the concurrency key of its operations' runs).
    pub id: String,
    /// Its namespace's id.
    pub namespace_id: String,
    /// Its name, unique in the namespace.
    pub name: String,
    /// `deployment` or `service`.
    pub kind: WorkloadKind,
    /// The manifest it was deployed from (`instances` is the count a
    /// start brings back).
    pub manifest: Manifest,
    /// The directory it runs in, relative to the runtime's files root.
    pub workdir: String,
    /// How many instances should run now (0: stopped).
    pub instances: u32,
    /// Its service port.
    pub port: Option<u16>,
    /// Grows when what its instances run changes (a rolling replacement).
    pub revision: u32,
    /// The operation run whose log holds the instances' output.
    pub log_run: Option<String>,
    /// Who deployed it first.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: DateTime<Utc>,
}

/// Keeps namespaces and workloads. Names are unique by the store: a
/// clash is [`CatalogStoreError::Duplicate`].
#[async_trait]
pub trait WorkloadStore: Send + Sync + 'static {
    /// Records a namespace.
    async fn insert_namespace(&self, ns: &Namespace) -> Result<(), CatalogStoreError>;
    /// The namespace named `name`.
    async fn namespace_by_name(&self, name: &str) -> Result<Option<Namespace>, CatalogStoreError>;
    /// The namespace `id`.
    async fn namespace(&self, id: &str) -> Result<Option<Namespace>, CatalogStoreError>;
    /// A page of namespaces by name; only those of the projects `only`
    /// when given.
    async fn namespaces(
        &self,
        page: &PageRequest,
        only: Option<&[String]>,
    ) -> Result<Page<Namespace>, CatalogStoreError>;
    /// How many namespaces project `project_id` has.
    async fn count_namespaces(&self, project_id: &str) -> Result<u64, CatalogStoreError>;
    /// Deletes a namespace with its workloads' rows; `false` when unknown.
    async fn delete_namespace(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Records a new workload (its name and port are unique).
    async fn insert_workload(&self, w: &Workload) -> Result<(), CatalogStoreError>;
    /// Replaces a workload's row; `false` when unknown.
    async fn update_workload(&self, w: &Workload) -> Result<bool, CatalogStoreError>;
    /// Sets the run whose log holds a workload's instances' output;
    /// `false` when unknown.
    async fn set_log_run(&self, id: &str, run: &str) -> Result<bool, CatalogStoreError>;
    /// The workload `id`.
    async fn workload(&self, id: &str) -> Result<Option<Workload>, CatalogStoreError>;
    /// The workload `name` of namespace `namespace_id`.
    async fn workload_named(
        &self,
        namespace_id: &str,
        name: &str,
    ) -> Result<Option<Workload>, CatalogStoreError>;
    /// The workload serving `port`, if any.
    async fn workload_on_port(&self, port: u16) -> Result<Option<Workload>, CatalogStoreError>;
    /// A page of a namespace's workloads by name.
    async fn workloads(
        &self,
        namespace_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workload>, CatalogStoreError>;
    /// Every workload of a namespace (`None`: of the server).
    async fn all_workloads(
        &self,
        namespace_id: Option<&str>,
    ) -> Result<Vec<Workload>, CatalogStoreError>;
    /// Deletes a workload's row; `false` when unknown.
    async fn delete_workload(&self, id: &str) -> Result<bool, CatalogStoreError>;
}
