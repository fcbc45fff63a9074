//! Asynchronous definition loads: a work id per load and its state
//! (pending, loading, loaded, failed), kept in memory. The most recent
//! [`KEEP`] loads are remembered; older finished ones are forgotten.

use sha2::{Digest, Sha256};
use slipway_core::source::{LoadState, WorkId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many loads are remembered.
pub const KEEP: usize = 1024;

#[derive(Debug, Default)]
pub struct Loads {
    seq: AtomicU64,
    states: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    by_id: HashMap<WorkId, (u64, LoadState)>,
    order: BTreeMap<u64, WorkId>,
}

impl Loads {
    /// A new pending load; its id is hard to guess.
    pub fn insert(&self) -> WorkId {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = format!("{seq}/{nanos}/{}/{:p}", std::process::id(), &self.seq);
        let digest = Sha256::digest(seed.as_bytes());
        let id = WorkId(digest.iter().take(16).map(|b| format!("{b:02x}")).collect());
        let mut table = self.states.lock().unwrap_or_else(|p| p.into_inner());
        table.by_id.insert(id.clone(), (seq, LoadState::Pending));
        table.order.insert(seq, id.clone());
        while table.order.len() > KEEP {
            let Some((&oldest, _)) = table.order.iter().next() else {
                break;
            };
            if let Some(old) = table.order.remove(&oldest) {
                table.by_id.remove(&old);
            }
        }
        id
    }

    /// Sets a load's state (ignored when it was forgotten).
    pub fn set(&self, id: &WorkId, state: LoadState) {
        let mut table = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = table.by_id.get_mut(id) {
            entry.1 = state;
        }
    }

    /// A load's state.
    pub fn get(&self, id: &WorkId) -> Option<LoadState> {
        let table = self.states.lock().unwrap_or_else(|p| p.into_inner());
        table.by_id.get(id).map(|(_, s)| s.clone())
    }
}
