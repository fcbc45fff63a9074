//! # slipway-git: git sourcing with gix
//!
//! [`GixSource`] implements the git-source port of `slipway-core`
//! ([`slipway_core::source::GitSource`]): a cache of bare mirrors (one per
//! remote URL, cloned once, refreshed by fetch with deleted refs pruned,
//! rebuilt when found half-written or corrupt, evicted least recently
//! used), resolution of branches, tags and commit ids, files and
//! directories read at a commit without a checkout, checkouts of a commit
//! (or one directory of it) into a job's workspace. What the files mean
//! (workflow definitions, the Deploy API's manifests and pipelines) is the
//! domain's business: it reads them through the same port.
//!
//! Transports: https and http (smart protocol), git://, and file:// only
//! when the operator enables local repositories ([`GitConfig::allow_local`]).
//! Credentials reach gix only through its credentials callback, never a
//! URL, a config file, a log line or an error. All gix work runs on
//! blocking threads. `docs/git.md` has the cache layout and the rules.
//!
//! **Depends on** `slipway-core` only (among Slipway crates). **Must not
//! depend on** HTTP frameworks, SQL or the domain (its tests use the
//! domain's loads, as a dev-dependency, to read definitions through the
//! real `GixSource`).

mod cache;
mod error;
mod repo;
pub mod url;

pub use error::GitError;

use cache::{Mirror, Mirrors};
use slipway_core::source::{
    CheckoutRequest, CommitInfo, Credentials, DirEntry, GitSource, RefInfo, RefKind, Remote,
    SourceError,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How the git source is set up by the operator.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// The data directory; mirrors live in `<data_dir>/mirrors`.
    pub data_dir: PathBuf,
    /// Whether `file://` URLs and absolute paths are accepted (off by
    /// default: a request could otherwise read any repository on the
    /// server's disk).
    pub allow_local: bool,
    /// The most bytes the mirrors may take together; least recently used
    /// mirrors are deleted past it (`None`: no limit).
    pub max_cache_bytes: Option<u64>,
}

impl GitConfig {
    /// Defaults: local repositories refused, no size limit.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        GitConfig {
            data_dir: data_dir.into(),
            allow_local: false,
            max_cache_bytes: None,
        }
    }
}

/// Whether `reference` can only be a commit id (4 to 64 hex digits).
fn looks_like_commit(reference: &str) -> bool {
    (4..=64).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The gix implementation of the git-source port. Cheap to clone; clones
/// share the cache and its locks.
#[derive(Debug, Clone)]
pub struct GixSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GitConfig,
    root: PathBuf,
    mirrors: Mirrors,
    tick: AtomicU64,
}

/// A remote after the URL policy: where to connect, what to show, what to
/// send.
struct Target {
    url: String,
    name: String,
    credentials: Option<Credentials>,
}

impl Target {
    fn secret(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.password.as_str())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SourceError::Cache(GitError::Task(e.to_string()).to_string()))
}

impl GixSource {
    /// A source keeping its mirrors under `config.data_dir/mirrors`
    /// (created when missing).
    pub fn new(config: GitConfig) -> Result<Self, GitError> {
        let root = config.data_dir.join("mirrors");
        std::fs::create_dir_all(&root).map_err(|source| GitError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(GixSource {
            inner: Arc::new(Inner {
                config,
                root,
                mirrors: Mirrors::default(),
                tick: AtomicU64::new(1),
            }),
        })
    }

    /// The directory holding the mirror of `url` (whether or not it exists
    /// yet).
    pub fn mirror_dir(&self, url: &str) -> Result<PathBuf, SourceError> {
        let parsed = url::parse(url, self.inner.config.allow_local)?;
        Ok(self.inner.root.join(url::dir_name(&parsed.key)))
    }

    fn tick(&self) -> u64 {
        self.inner.tick.fetch_add(1, Ordering::SeqCst)
    }

    fn target(&self, remote: &Remote) -> Result<(Target, Arc<Mirror>), SourceError> {
        let parsed = url::parse(&remote.url, self.inner.config.allow_local)?;
        let name = url::dir_name(&parsed.key);
        let mirror = self.inner.mirrors.get(&self.inner.root, &name);
        let credentials = remote.credentials.clone().or(parsed.embedded);
        Ok((
            Target {
                url: parsed.url,
                name,
                credentials,
            },
            mirror,
        ))
    }

    /// Clones or fetches; concurrent callers share a fetch that started
    /// after they asked. Leftovers of interrupted work are tidied first; a
    /// mirror that is incomplete or fails its check is deleted and cloned
    /// again. `reviews` also fetches pull and merge request heads
    /// ([`repo::REVIEW_REFSPECS`]).
    async fn refresh_mirror(
        &self,
        target: &Target,
        mirror: &Arc<Mirror>,
        reviews: bool,
    ) -> Result<(), SourceError> {
        let arrival = self.tick();
        let mut state = mirror.fetch.lock().await;
        if !reviews && state.last_ok_start > arrival && mirror.is_complete() {
            return Ok(());
        }
        let started = self.tick();
        let url = target.url.clone();
        let credentials = target.credentials.clone();
        let checked = Arc::clone(mirror);
        let healthy = blocking(move || {
            if !checked.is_complete() {
                return None;
            }
            let removed = cache::tidy(&checked.dir);
            if !removed.is_empty() {
                tracing::warn!(dir = %checked.dir.display(), removed = ?removed, "removed leftovers of interrupted work");
            }
            match checked.thread_safe() {
                Ok(repo) => Some(repo),
                Err(e) => {
                    tracing::warn!(error = %e, "mirror failed its check");
                    None
                }
            }
        })
        .await?;
        if let Some(repo) = healthy {
            let _present = Arc::clone(&mirror.presence).read_owned().await;
            let fetched = Arc::clone(mirror);
            let report = blocking(move || {
                let report =
                    repo::fetch(&repo.to_thread_local(), &url, credentials.as_ref(), reviews)?;
                // The new pack is ours: the handle stays valid.
                fetched.keep(repo);
                Ok::<_, GitError>(report)
            })
            .await?
            .map_err(|e| e.into_source(&target.url, target.secret()))?;
            if !report.pruned.is_empty() {
                tracing::info!(url = %target.url, pruned = ?report.pruned, "pruned refs deleted upstream");
            }
            tracing::debug!(url = %target.url, head = ?report.head, "mirror fetched");
        } else {
            let _exclusive = Arc::clone(&mirror.presence).write_owned().await;
            mirror.forget();
            let marker_url = target.url.clone();
            let built = Arc::clone(mirror);
            blocking(move || -> Result<(), GitError> {
                let dir = &built.dir;
                if dir.exists() {
                    tracing::warn!(dir = %dir.display(), "rebuilding a half-written or corrupt mirror");
                    std::fs::remove_dir_all(dir).map_err(|source| GitError::Io {
                        path: dir.clone(),
                        source,
                    })?;
                }
                let ts = repo::init(dir)?;
                let result = repo::fetch(&ts.to_thread_local(), &url, credentials.as_ref(), reviews);
                if let Err(e) = result {
                    let _ = std::fs::remove_dir_all(dir);
                    return Err(e);
                }
                cache::write_marker(dir, &marker_url)?;
                built.keep(ts);
                Ok(())
            })
            .await?
            .map_err(|e| e.into_source(&target.url, target.secret()))?;
            tracing::info!(url = %target.url, "mirror cloned");
        }
        state.last_ok_start = started;
        drop(state);
        mirror.touch();
        self.evict(&target.name).await;
        Ok(())
    }

    /// Deletes least recently used mirrors until the cache fits its limit;
    /// mirrors in use and `keep` are skipped.
    async fn evict(&self, keep: &str) {
        let Some(limit) = self.inner.config.max_cache_bytes else {
            return;
        };
        let root = self.inner.root.clone();
        let Ok(on_disk) = blocking(move || cache::scan(&root)).await else {
            return;
        };
        let mut total: u64 = on_disk.iter().map(|d| d.bytes).sum();
        for candidate in on_disk {
            if total <= limit {
                break;
            }
            if candidate.name == keep {
                continue;
            }
            let mirror = self.inner.mirrors.get(&self.inner.root, &candidate.name);
            let Ok(_fetching) = mirror.fetch.try_lock() else {
                continue;
            };
            let Ok(_exclusive) = Arc::clone(&mirror.presence).try_write_owned() else {
                continue;
            };
            mirror.forget();
            let dir = mirror.dir.clone();
            let removed = blocking(move || std::fs::remove_dir_all(&dir)).await;
            if matches!(removed, Ok(Ok(()))) {
                tracing::info!(mirror = %candidate.name, bytes = candidate.bytes, "evicted mirror");
                total = total.saturating_sub(candidate.bytes);
            }
        }
    }

    /// Runs `f` on the mirror (cloned first when missing), on a blocking
    /// thread, while the mirror cannot be deleted. A mirror that fails its
    /// check, or whose objects cannot be read (`f` fails with
    /// [`SourceError::Cache`]), is rebuilt and `f` tried again.
    async fn with_repo<T, F>(
        &self,
        target: &Target,
        mirror: &Arc<Mirror>,
        f: F,
    ) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: Fn(&gix::Repository) -> Result<T, SourceError> + Send + Sync + 'static,
    {
        enum Attempt<T> {
            Done(Result<T, SourceError>),
            Broken(String),
        }
        let f = Arc::new(f);
        let mut last_problem = String::new();
        for attempt in 0..3 {
            if !mirror.is_complete() {
                self.refresh_mirror(target, mirror, false).await?;
            }
            let present = Arc::clone(&mirror.presence).read_owned().await;
            if !mirror.is_complete() {
                continue;
            }
            let f = Arc::clone(&f);
            let m = Arc::clone(mirror);
            let retry_allowed = attempt < 2;
            let outcome = blocking(move || {
                let _present = present;
                let ts = match m.thread_safe() {
                    Ok(ts) => ts,
                    Err(e) => return Attempt::Broken(e.to_string()),
                };
                match f(&ts.to_thread_local()) {
                    Err(SourceError::Cache(reason)) if retry_allowed => Attempt::Broken(reason),
                    other => Attempt::Done(other),
                }
            })
            .await?;
            match outcome {
                Attempt::Done(result) => {
                    mirror.touch();
                    return result;
                }
                Attempt::Broken(reason) => {
                    tracing::warn!(url = %target.url, error = %reason, "mirror is damaged; rebuilding");
                    let _exclusive = Arc::clone(&mirror.presence).write_owned().await;
                    mirror.invalidate();
                    last_problem = reason;
                }
            }
        }
        Err(SourceError::Cache(format!(
            "the mirror of {} could not be prepared: {last_problem}",
            target.url
        )))
    }

    /// [`GixSource::at_ref`] for work on the commit's objects: `f` gets
    /// the commit's object id too.
    async fn at_commit<T, F>(
        &self,
        remote: &Remote,
        reference: &str,
        f: F,
    ) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: Fn(&gix::Repository, gix::ObjectId, CommitInfo) -> Result<T, SourceError>
            + Send
            + Sync
            + 'static,
    {
        self.at_ref(remote, reference, move |repo, info| {
            let id = gix::ObjectId::from_hex(info.id.as_bytes())
                .map_err(|e| SourceError::Cache(e.to_string()))?;
            f(repo, id, info)
        })
        .await
    }

    /// Resolves `reference` and runs `f` with the commit, refreshing the
    /// mirror once when the reference is not found in it.
    async fn at_ref<T, F>(&self, remote: &Remote, reference: &str, f: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: Fn(&gix::Repository, CommitInfo) -> Result<T, SourceError> + Send + Sync + 'static,
    {
        let (target, mirror) = self.target(remote)?;
        let f = Arc::new(f);
        let mut refreshed = false;
        loop {
            let reference_owned = reference.to_owned();
            let f = Arc::clone(&f);
            let url = target.url.clone();
            let outcome = self
                .with_repo(&target, &mirror, move |repo| {
                    match repo::resolve(repo, &reference_owned) {
                        Ok(resolved) => {
                            let info = repo::commit_info(repo, &resolved, &reference_owned)
                                .map_err(|e| e.into_source(&url, None))?;
                            f(repo, info).map(Some)
                        }
                        Err(repo::Unresolved::NotFound) => Ok(None),
                        Err(repo::Unresolved::Ambiguous) => Err(SourceError::Ambiguous {
                            url: url.clone(),
                            reference: reference_owned.clone(),
                        }),
                        Err(repo::Unresolved::Failed(e)) => Err(e.into_source(&url, None)),
                    }
                })
                .await?;
            match outcome {
                Some(value) => return Ok(value),
                None if !refreshed => {
                    refreshed = true;
                    // A commit id found on no branch or tag may be the head
                    // of a pull request from a fork.
                    let reviews = looks_like_commit(reference);
                    self.refresh_mirror(&target, &mirror, reviews).await?;
                }
                None => {
                    return Err(SourceError::RefNotFound {
                        url: target.url.clone(),
                        reference: reference.to_owned(),
                    });
                }
            }
        }
    }

    async fn refs(&self, remote: &Remote, kind: RefKind) -> Result<Vec<RefInfo>, SourceError> {
        let (target, mirror) = self.target(remote)?;
        let url = target.url.clone();
        self.with_repo(&target, &mirror, move |repo| {
            repo::list_refs(repo, kind).map_err(|e| e.into_source(&url, None))
        })
        .await
    }
}

#[async_trait::async_trait]
impl GitSource for GixSource {
    async fn refresh(&self, remote: &Remote) -> Result<(), SourceError> {
        let (target, mirror) = self.target(remote)?;
        self.refresh_mirror(&target, &mirror, false).await
    }

    async fn resolve(&self, remote: &Remote, reference: &str) -> Result<CommitInfo, SourceError> {
        self.at_ref(remote, reference, |_, info| Ok(info)).await
    }

    async fn branches(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError> {
        self.refs(remote, RefKind::Branch).await
    }

    async fn tags(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError> {
        self.refs(remote, RefKind::Tag).await
    }

    async fn read_file(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<u8>, SourceError> {
        repo::split_path(path)?;
        let path = path.to_owned();
        self.at_commit(remote, reference, move |repo, id, _| {
            repo::read_file(repo, id, &path)
        })
        .await
    }

    async fn list_dir(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<DirEntry>, SourceError> {
        repo::split_path(path)?;
        let path = path.to_owned();
        self.at_commit(remote, reference, move |repo, id, _| {
            repo::list_dir(repo, id, &path)
        })
        .await
    }

    async fn checkout(
        &self,
        remote: &Remote,
        reference: &str,
        subdir: Option<&str>,
        dest: &Path,
    ) -> Result<CommitInfo, SourceError> {
        if let Some(dir) = subdir {
            repo::split_path(dir)?;
        }
        let subdir = subdir.map(str::to_owned);
        let dest = dest.to_owned();
        self.at_commit(remote, reference, move |repo, id, info| {
            repo::checkout(repo, id, subdir.as_deref(), &dest)?;
            Ok(info)
        })
        .await
    }

    async fn prepare_workspace(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CommitInfo, SourceError> {
        let full_id = request.reference.len() == 40
            && request.reference.bytes().all(|b| b.is_ascii_hexdigit());
        // A full commit id already in the mirror needs no fetch; anything
        // else (a branch moves) is fetched first.
        if !full_id {
            self.refresh(&request.remote).await?;
        }
        self.checkout(
            &request.remote,
            &request.reference,
            request.subdir.as_deref(),
            &request.dest,
        )
        .await
    }
}
