//! The server's catalog: projects, workflows and their versions, API
//! tokens, and the port ([`CatalogStore`]) through which they are kept.

use crate::definition::Format;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::StoreError;

/// A project: a named group of workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Its id.
    pub id: String,
    /// Its name, unique.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A workflow of a project; its definition lives in its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// Its id (also the concurrency key of its runs).
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Its name, unique in the project.
    pub name: String,
    /// The newest version (versions count from 1).
    pub latest_version: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last version was made.
    pub updated_at: DateTime<Utc>,
}

/// One version of a workflow's definition. Versions are never rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    /// The workflow.
    pub workflow_id: String,
    /// The version, from 1.
    pub version: i32,
    /// The validated definition, in its canonical JSON form.
    pub definition: serde_json::Value,
    /// The format the definition was sent in.
    pub format: Format,
    /// The text as it was sent.
    pub source: String,
    /// Who made it (a token's name).
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An API token, without its secret (only a hash of which is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Its id.
    pub id: String,
    /// Its name, for people.
    pub name: String,
    /// The first characters of the secret, so that people can tell tokens
    /// apart.
    pub prefix: String,
    /// Admin tokens may manage tokens.
    pub is_admin: bool,
    /// Which token created it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used, roughly (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token is refused at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

/// Which page of a list, sorted how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The page, from 1.
    pub page: u32,
    /// Items per page, 1 to [`PageRequest::MAX_PER_PAGE`].
    pub per_page: u32,
    /// The field to sort by (each list names the ones it accepts).
    pub sort: String,
    /// The direction.
    pub order: Order,
}

impl PageRequest {
    /// The most items a page holds.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many there are in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

/// Where the catalog is kept (`slipway-store` implements it on SQL).
/// Unique names are enforced by the store, which reports a clash as
/// [`StoreError::Conflict`]-like [`CatalogStoreError::Duplicate`].
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Adds a project.
    async fn insert_project(&self, project: &Project) -> Result<(), CatalogStoreError>;
    /// A project.
    async fn project(&self, id: &str) -> Result<Option<Project>, CatalogStoreError>;
    /// A page of projects, sorted by `name` or `created_at`.
    async fn projects(&self, page: &PageRequest) -> Result<Page<Project>, CatalogStoreError>;
    /// Replaces a project's name and description; false when it is gone.
    async fn update_project(&self, project: &Project) -> Result<bool, CatalogStoreError>;
    /// Deletes a project with its workflows and their versions; false when
    /// it is gone.
    async fn delete_project(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Adds a workflow with its first version, together.
    async fn insert_workflow(
        &self,
        workflow: &Workflow,
        first: &WorkflowVersion,
    ) -> Result<(), CatalogStoreError>;
    /// Adds the next version (`version.version` must be the latest plus
    /// one, else `Duplicate`: somebody else was faster).
    async fn add_version(&self, version: &WorkflowVersion) -> Result<(), CatalogStoreError>;
    /// A workflow.
    async fn workflow(&self, id: &str) -> Result<Option<Workflow>, CatalogStoreError>;
    /// A page of a project's workflows, sorted by `name` or `created_at`.
    async fn workflows(
        &self,
        project_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Workflow>, CatalogStoreError>;
    /// Every workflow id of a project.
    async fn workflow_ids(&self, project_id: &str) -> Result<Vec<String>, CatalogStoreError>;
    /// One version of a workflow.
    async fn version(
        &self,
        workflow_id: &str,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, CatalogStoreError>;
    /// A page of a workflow's versions, newest first.
    async fn versions(
        &self,
        workflow_id: &str,
        page: &PageRequest,
    ) -> Result<Page<WorkflowVersion>, CatalogStoreError>;
    /// Deletes a workflow and its versions; false when it is gone.
    async fn delete_workflow(&self, id: &str) -> Result<bool, CatalogStoreError>;

    /// Adds a token whose secret hashes to `secret_hash`.
    async fn insert_token(
        &self,
        token: &ApiToken,
        secret_hash: &str,
    ) -> Result<(), CatalogStoreError>;
    /// The token whose secret hashes to `secret_hash`, revoked or not.
    async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<(ApiToken, String)>, CatalogStoreError>;
    /// Every token, newest first.
    async fn tokens(&self) -> Result<Vec<ApiToken>, CatalogStoreError>;
    /// Revokes a token; false when there is no such token.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool, CatalogStoreError>;
    /// Records a use of a token.
    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<(), CatalogStoreError>;
    /// How many tokens exist (revoked ones included).
    async fn count_tokens(&self) -> Result<u64, CatalogStoreError>;
}

/// Why the catalog store failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogStoreError {
    /// A unique name or version is taken.
    #[error("{0}")]
    Duplicate(String),
    /// Something it refers to is gone.
    #[error("{0}")]
    Missing(String),
    /// The store itself failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
