//! Per-key concurrency limits with first-come, first-served hand-over.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

#[derive(Debug, Default)]
struct KeyState {
    running: usize,
    waiting: VecDeque<oneshot::Sender<()>>,
}

/// Slots per key. Entering takes a place in line at once (so arrival order
/// is the order of `enter` calls); a released slot goes straight to the
/// first waiter still waiting.
#[derive(Debug, Default, Clone)]
pub(super) struct Gates {
    keys: Arc<Mutex<HashMap<String, KeyState>>>,
}

/// A place in line, or a slot already held.
#[derive(Debug)]
pub(super) struct Ticket {
    gates: Gates,
    key: String,
    rx: Option<oneshot::Receiver<()>>,
    permit: Option<Permit>,
}

/// A held slot, released on drop.
#[derive(Debug)]
pub(super) struct Permit {
    gates: Gates,
    key: String,
}

impl Gates {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyState>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot if one of `limit` is free, else a place in line.
    pub(super) fn enter(&self, key: &str, limit: usize) -> Ticket {
        let mut keys = self.lock();
        let state = keys.entry(key.to_owned()).or_default();
        if state.running < limit && state.waiting.is_empty() {
            state.running += 1;
            Ticket {
                gates: self.clone(),
                key: key.to_owned(),
                rx: None,
                permit: Some(Permit {
                    gates: self.clone(),
                    key: key.to_owned(),
                }),
            }
        } else {
            let (tx, rx) = oneshot::channel();
            state.waiting.push_back(tx);
            Ticket {
                gates: self.clone(),
                key: key.to_owned(),
                rx: Some(rx),
                permit: None,
            }
        }
    }

    fn release(&self, key: &str) {
        let mut keys = self.lock();
        let Some(state) = keys.get_mut(key) else {
            return;
        };
        while let Some(tx) = state.waiting.pop_front() {
            if tx.send(()).is_ok() {
                // The slot passes to this waiter; `running` is unchanged.
                return;
            }
        }
        state.running = state.running.saturating_sub(1);
        if state.running == 0 {
            keys.remove(key);
        }
    }
}

impl Ticket {
    /// Whether the slot is held already (nothing to wait for).
    pub(super) fn is_held(&self) -> bool {
        self.permit.is_some()
    }

    /// Waits for the slot.
    pub(super) async fn wait(mut self) -> Permit {
        if let Some(p) = self.permit.take() {
            return p;
        }
        if let Some(rx) = self.rx.as_mut() {
            // The sender is only dropped once it has sent or the gates are
            // gone; either way we hold the slot from here on.
            let _ = rx.await;
        }
        self.rx = None;
        Permit {
            gates: self.gates.clone(),
            key: self.key.clone(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Abandoned while in line: if the slot was handed over meanwhile,
        // pass it on.
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.gates.release(&self.key);
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gates.release(&self.key);
    }
}
