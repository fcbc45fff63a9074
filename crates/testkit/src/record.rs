//! Pieces of run records the store and engine tests write by hand.

use slipway_core::{Status, StatusChange, Target};

/// A change of `target` from `from` to `to`, now, with no error or exit code.
pub fn change(target: Target, from: Status, to: Status) -> StatusChange {
    StatusChange {
        target,
        from,
        to,
        at: chrono::Utc::now(),
        error: None,
        exit_code: None,
    }
}
