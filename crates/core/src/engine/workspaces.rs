//! Run workspaces on disk: pruning old ones and naming job directories.

use super::{Engine, lock};
use crate::error::CoreError;
use crate::record::RunId;
use std::path::Path;
use std::time::Duration;

impl Engine {
    /// Deletes the workspaces of runs that finished more than `age` ago
    /// (and of runs the store no longer has, by the directory's age), so
    /// that failed and cancelled runs, which keep theirs for a retry, do
    /// not fill the disk. Workspaces of runs that are not finished are
    /// never touched; a retry after pruning starts from an empty
    /// workspace. Returns the runs whose workspace was deleted.
    pub async fn prune_workspaces(&self, age: Duration) -> Result<Vec<RunId>, CoreError> {
        let root = self.inner.workspace_root.clone();
        let dirs = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<_>> {
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&root) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                // `.scratch` and anything else that is not a run's.
                if name.starts_with('.') || !entry.file_type()?.is_dir() {
                    continue;
                }
                let modified = entry.metadata()?.modified().ok();
                out.push((name, entry.path(), modified));
            }
            Ok(out)
        })
        .await
        .map_err(|e| CoreError::Workspace {
            path: self.inner.workspace_root.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(|source| CoreError::Workspace {
            path: self.inner.workspace_root.clone(),
            source,
        })?;
        let now = self.inner.clock.now();
        let limit = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let mut pruned = Vec::new();
        for (name, path, modified) in dirs {
            let id = RunId(name);
            if lock(&self.inner.active).contains_key(&id) {
                continue;
            }
            let old = match self.inner.store.get_run(&id).await? {
                Some(run) => {
                    run.status.is_terminal() && run.finished_at.is_some_and(|at| now - at >= limit)
                }
                None => modified
                    .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
                    .is_some_and(|d| d >= age),
            };
            // Checked again: a retry may have started it meanwhile.
            if !old || lock(&self.inner.active).contains_key(&id) {
                continue;
            }
            let gone = path.clone();
            match tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&gone)).await {
                Ok(Ok(())) => pruned.push(id),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Ok(Err(e)) => tracing::warn!(path = %path.display(), "pruning a workspace: {e}"),
                Err(e) => tracing::warn!(path = %path.display(), "pruning a workspace: {e}"),
            }
        }
        Ok(pruned)
    }
}

pub(super) fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
