//! Loads of definitions from git that tests start and then poll.

use slipway_core::source::Remote;
use slipway_domain::workloads::{LoadKind, LoadRequest, Loads, WorkId};

/// Starts two loads at `main` of `remote`: the pipeline under `deploy`
/// (which the fixtures hold) and a manifest under `nowhere` (which they do
/// not); returns their ids in that order.
pub async fn start_found_and_missing(loads: &Loads, remote: &Remote) -> (WorkId, WorkId) {
    let start = |path: &str, kind| {
        loads.start(LoadRequest {
            remote: remote.clone(),
            reference: "main".into(),
            path: path.into(),
            kind,
        })
    };
    let found = start("deploy", LoadKind::Pipeline)
        .await
        .unwrap_or_else(|e| panic!("start the load of deploy: {e}"));
    let missing = start("nowhere", LoadKind::Manifest)
        .await
        .unwrap_or_else(|e| panic!("start the load of nowhere: {e}"));
    (found, missing)
}
