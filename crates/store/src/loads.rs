//! `LoadStore` on SQL (`load_requests`): the states of asynchronous loads
//! of definitions, so a `work_id` survives a restart and every server on
//! the same database answers it. Every change is one conditional `UPDATE`
//! (`WHERE state IN ('pending', 'loading')`): a finished load never changes
//! again, whoever writes last.

use crate::db::Db;
use crate::error::DbError;
use crate::schema::load_requests;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::workloads::{LoadState, LoadStore, LoadStoreError, StoredLoad, WorkId};

/// The states of a load that may still change.
const UNFINISHED: [&str; 2] = ["pending", "loading"];

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = load_requests)]
struct LoadRow {
    id: String,
    kind: String,
    state: String,
    body: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    lease_until: NaiveDateTime,
}

impl TryFrom<LoadRow> for StoredLoad {
    type Error = DbError;

    fn try_from(r: LoadRow) -> Result<Self, DbError> {
        let state: LoadState = serde_json::from_str(&r.body)
            .map_err(|e| DbError::Corrupt(format!("load {}: {e}", r.id)))?;
        Ok(StoredLoad {
            id: WorkId(r.id),
            kind: r.kind,
            state,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
            lease_until: r.lease_until.and_utc(),
        })
    }
}

fn body(state: &LoadState) -> Result<String, LoadStoreError> {
    serde_json::to_string(state).map_err(|e| LoadStoreError::Backend(e.to_string()))
}

fn backend(e: DbError) -> LoadStoreError {
    LoadStoreError::Backend(e.to_string())
}

/// The domain's [`LoadStore`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlLoadStore {
    db: Db,
}

impl SqlLoadStore {
    /// Load states kept in `db`.
    pub fn new(db: Db) -> Self {
        SqlLoadStore { db }
    }
}

#[async_trait]
impl LoadStore for SqlLoadStore {
    async fn insert(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<WorkId, LoadStoreError> {
        let id = WorkId::random();
        let row = LoadRow {
            id: id.0.clone(),
            kind: kind.to_owned(),
            state: LoadState::Pending.word().to_owned(),
            body: body(&LoadState::Pending)?,
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
            lease_until: lease_until.naive_utc(),
        };
        self.db
            .insert(load_requests::table, row)
            .await
            .map_err(backend)?;
        Ok(id)
    }

    async fn set(
        &self,
        id: &WorkId,
        state: &LoadState,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, LoadStoreError> {
        let unfinished = load_requests::table
            .filter(load_requests::id.eq(id.0.clone()))
            .filter(load_requests::state.eq_any(UNFINISHED));
        let changes = (
            load_requests::state.eq(state.word()),
            load_requests::body.eq(body(state)?),
            load_requests::updated_at.eq(now.naive_utc()),
            load_requests::lease_until.eq(lease_until.naive_utc()),
        );
        self.db
            .update(unfinished, changes)
            .await
            .map(|n| n == 1)
            .map_err(backend)
    }

    async fn get(&self, id: &WorkId) -> Result<Option<StoredLoad>, LoadStoreError> {
        let query = load_requests::table
            .filter(load_requests::id.eq(id.0.clone()))
            .select(LoadRow::as_select());
        self.db
            .first(query, StoredLoad::try_from)
            .await
            .map_err(backend)
    }

    async fn fail_abandoned(
        &self,
        failed: &LoadState,
        now: DateTime<Utc>,
    ) -> Result<u64, LoadStoreError> {
        let abandoned = load_requests::table
            .filter(load_requests::state.eq_any(UNFINISHED))
            .filter(load_requests::lease_until.lt(now.naive_utc()));
        let changes = (
            load_requests::state.eq(failed.word()),
            load_requests::body.eq(body(failed)?),
            load_requests::updated_at.eq(now.naive_utc()),
        );
        self.db
            .update(abandoned, changes)
            .await
            .map(|n| n as u64)
            .map_err(backend)
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, LoadStoreError> {
        let finished = load_requests::table
            .filter(load_requests::state.ne_all(UNFINISHED))
            .filter(load_requests::updated_at.lt(before.naive_utc()));
        self.db
            .delete(finished)
            .await
            .map(|n| n as u64)
            .map_err(backend)
    }
}
