//! The [`LoadStore`] port: where the states of asynchronous loads are kept,
//! and [`MemoryLoadStore`], its in-memory implementation (one process, lost
//! at exit). `slipway-store` implements it on SQLite and PostgreSQL, so a
//! work id survives a restart and is answered by every server on the same
//! database.

use super::load::{LoadState, WorkId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What a load store can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadStoreError {
    /// The backend failed (connection, query, corrupt row).
    #[error("load store: {0}")]
    Backend(String),
}

/// A load as kept by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLoad {
    /// The id.
    pub id: WorkId,
    /// `manifest`, `pipeline` or `document`.
    pub kind: String,
    /// Where it is.
    pub state: LoadState,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When its state last changed or its lease was renewed.
    pub updated_at: DateTime<Utc>,
    /// Until when the server running it vouches for it. An unfinished load
    /// whose lease ran out was abandoned by a server that stopped.
    pub lease_until: DateTime<Utc>,
}

impl StoredLoad {
    /// Whether the load is unfinished and nobody renewed its lease in time.
    pub fn is_abandoned(&self, now: DateTime<Utc>) -> bool {
        !self.state.is_finished() && self.lease_until < now
    }
}

/// Keeps the states of asynchronous loads. Every change is conditional: a
/// finished load (loaded or failed) never changes again.
#[async_trait]
pub trait LoadStore: Send + Sync + 'static {
    /// Records a new pending load of `kind` (see [`super::LoadKind::word`])
    /// held until `lease_until`, and returns its new random id.
    async fn insert(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<WorkId, LoadStoreError>;

    /// Sets the state of an unfinished load and its lease (setting the same
    /// state again renews the lease). `false` when the load is unknown or
    /// already finished: nothing changed.
    async fn set(
        &self,
        id: &WorkId,
        state: &LoadState,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, LoadStoreError>;

    /// A load, `None` for an unknown (or pruned) id.
    async fn get(&self, id: &WorkId) -> Result<Option<StoredLoad>, LoadStoreError>;

    /// Sets `failed` on every unfinished load whose lease ran out before
    /// `now`; returns how many.
    async fn fail_abandoned(
        &self,
        failed: &LoadState,
        now: DateTime<Utc>,
    ) -> Result<u64, LoadStoreError>;

    /// Forgets finished loads last changed before `before`; returns how
    /// many.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, LoadStoreError>;
}

/// How many loads [`MemoryLoadStore`] remembers; the oldest go first.
pub const MEMORY_KEEP: usize = 1024;

/// [`LoadStore`] in memory: the most recent [`MEMORY_KEEP`] loads.
#[derive(Debug, Default)]
pub struct MemoryLoadStore {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    seq: u64,
    by_id: HashMap<WorkId, (u64, StoredLoad)>,
    order: BTreeMap<u64, WorkId>,
}

impl MemoryLoadStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryLoadStore::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl LoadStore for MemoryLoadStore {
    async fn insert(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<WorkId, LoadStoreError> {
        let id = WorkId::random();
        let mut table = self.table();
        table.seq += 1;
        let seq = table.seq;
        let load = StoredLoad {
            id: id.clone(),
            kind: kind.to_owned(),
            state: LoadState::Pending,
            created_at: now,
            updated_at: now,
            lease_until,
        };
        table.by_id.insert(id.clone(), (seq, load));
        table.order.insert(seq, id.clone());
        while table.order.len() > MEMORY_KEEP {
            let Some((_, old)) = table.order.pop_first() else {
                break;
            };
            table.by_id.remove(&old);
        }
        Ok(id)
    }

    async fn set(
        &self,
        id: &WorkId,
        state: &LoadState,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, LoadStoreError> {
        let mut table = self.table();
        match table.by_id.get_mut(id) {
            Some((_, load)) if !load.state.is_finished() => {
                load.state = state.clone();
                load.updated_at = now;
                load.lease_until = lease_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get(&self, id: &WorkId) -> Result<Option<StoredLoad>, LoadStoreError> {
        Ok(self.table().by_id.get(id).map(|(_, load)| load.clone()))
    }

    async fn fail_abandoned(
        &self,
        failed: &LoadState,
        now: DateTime<Utc>,
    ) -> Result<u64, LoadStoreError> {
        let mut table = self.table();
        let mut n = 0;
        for (_, load) in table.by_id.values_mut() {
            if load.is_abandoned(now) {
                load.state = failed.clone();
                load.updated_at = now;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, LoadStoreError> {
        let mut table = self.table();
        let gone: Vec<(u64, WorkId)> = table
            .by_id
            .iter()
            .filter(|(_, (_, load))| load.state.is_finished() && load.updated_at < before)
            .map(|(id, (seq, _))| (*seq, id.clone()))
            .collect();
        for (seq, id) in &gone {
            table.order.remove(seq);
            table.by_id.remove(id);
        }
        Ok(gone.len() as u64)
    }
}
