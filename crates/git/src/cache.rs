//! The mirror cache on disk: one bare repository per remote under
//! `<data_dir>/mirrors/<name>`, a completion marker written only after a
//! whole clone, a cheap integrity check, leftovers of interrupted work
//! tidied away, and least-recently-used eviction.
//!
//! gix memory-maps pack files, their indices, `packed-refs` and the
//! commit graph. A mapped file that shrinks under the map makes the next
//! read of the lost part a SIGBUS, which kills the whole server. So an
//! opened repository is only handed out while the files it may have
//! mapped are exactly as they were when it was opened (same inode, size
//! and modification time: the [`Fingerprint`]); when any of them changed,
//! the handle is dropped and the mirror checked again before it is
//! reopened. Git and gix never rewrite those files in place (they write a
//! new file and rename it), so a change is damage from outside, or a new
//! pack from our own fetch.

use crate::error::GitError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// The file whose presence says a mirror was completely cloned; its
/// modification time is the mirror's last use.
pub const MARKER: &str = "slipway-mirror.json";

/// One mirror and the locks that guard it.
#[derive(Debug)]
pub struct Mirror {
    /// Its directory (a bare repository).
    pub dir: PathBuf,
    /// Held while fetching or cloning; the number is the tick at which the
    /// last successful fetch started.
    pub fetch: tokio::sync::Mutex<FetchState>,
    /// Read by every operation that uses the mirror, written by whatever
    /// deletes or rebuilds it.
    pub presence: Arc<tokio::sync::RwLock<()>>,
    /// The opened repository, shared between threads, and the state of
    /// the memory-mapped files when it was opened.
    pub repo: std::sync::Mutex<Option<(gix::ThreadSafeRepository, Fingerprint)>>,
}

/// What the fetch lock protects.
#[derive(Debug, Default)]
pub struct FetchState {
    /// The tick at which the last successful fetch started (0: none in
    /// this process).
    pub last_ok_start: u64,
}

impl Mirror {
    /// A mirror at `dir` (nothing is touched yet).
    pub fn new(dir: PathBuf) -> Self {
        Mirror {
            dir,
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            presence: Arc::new(tokio::sync::RwLock::new(())),
            repo: std::sync::Mutex::new(None),
        }
    }

    /// Whether the completion marker is there.
    pub fn is_complete(&self) -> bool {
        self.dir.join(MARKER).is_file()
    }

    /// The shared repository, opened (and checked) on first use, and
    /// reopened (checked again) whenever a file it may have memory-mapped
    /// changed on disk since. Blocking: call it off the async runtime.
    pub fn thread_safe(&self) -> Result<gix::ThreadSafeRepository, GitError> {
        let now = Fingerprint::of(&self.dir);
        let mut slot = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((repo, seen)) = slot.as_ref() {
            if *seen == now {
                return Ok(repo.clone());
            }
            tracing::debug!(dir = %self.dir.display(), "mirror files changed on disk; reopening");
        }
        *slot = None;
        quick_check(&self.dir)?;
        let repo = crate::repo::open(&self.dir)?;
        *slot = Some((repo.clone(), now));
        Ok(repo)
    }

    /// Keeps `repo` (just created or fetched into) as the shared handle.
    pub fn keep(&self, repo: gix::ThreadSafeRepository) {
        let now = Fingerprint::of(&self.dir);
        *self.repo.lock().unwrap_or_else(|p| p.into_inner()) = Some((repo, now));
    }

    /// Forgets the opened repository (before the directory changes).
    pub fn forget(&self) {
        *self.repo.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Records a use (the marker's modification time).
    pub fn touch(&self) {
        if let Ok(file) = std::fs::File::options()
            .write(true)
            .open(self.dir.join(MARKER))
        {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Removes the marker, so the next use rebuilds the mirror.
    pub fn invalidate(&self) {
        self.forget();
        let _ = std::fs::remove_file(self.dir.join(MARKER));
    }
}

/// Writes the completion marker (atomically: temporary file, then rename).
pub fn write_marker(dir: &Path, url: &str) -> Result<(), GitError> {
    let body = serde_json::json!({ "url": url, "format": 1 }).to_string();
    let tmp = dir.join(format!("{MARKER}.tmp"));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| GitError::Io { path, source }
    };
    std::fs::write(&tmp, body).map_err(io(&tmp))?;
    std::fs::rename(&tmp, dir.join(MARKER)).map_err(io(dir))
}

/// A cheap check that a mirror is whole: the marker and `HEAD` exist, and
/// every pack has its index and ends with the checksum its index records
/// (a truncated or half-written pack fails this without being read).
pub fn quick_check(dir: &Path) -> Result<(), GitError> {
    let broken = |reason: String| GitError::Open {
        path: dir.to_owned(),
        reason,
    };
    if !dir.join(MARKER).is_file() {
        return Err(broken("the mirror was not completely cloned".into()));
    }
    if !dir.join("HEAD").is_file() {
        return Err(broken("HEAD is missing".into()));
    }
    let packs = dir.join("objects").join("pack");
    let entries = match std::fs::read_dir(&packs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(GitError::Io {
                path: packs,
                source,
            });
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pack") {
            continue;
        }
        let idx = path.with_extension("idx");
        let pack_tail = tail(&path, 20).map_err(|e| broken(format!("{}: {e}", path.display())))?;
        let idx_tail = tail(&idx, 40).map_err(|e| broken(format!("{}: {e}", idx.display())))?;
        if pack_tail.len() != 20 || idx_tail.len() != 40 || pack_tail[..] != idx_tail[..20] {
            return Err(broken(format!(
                "pack {} is truncated or does not match its index",
                path.display()
            )));
        }
    }
    Ok(())
}

/// What the files gix may memory-map looked like: every file of
/// `objects/pack` and `objects/info`, and `packed-refs`, with inode, size
/// and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(std::ffi::OsString, u64, u64, Option<SystemTime>)>);

impl Fingerprint {
    /// The fingerprint of the mirror at `dir` now.
    pub fn of(dir: &Path) -> Fingerprint {
        use std::os::unix::fs::MetadataExt;
        let mut files = Vec::new();
        let mut add = |name: std::ffi::OsString, meta: std::fs::Metadata| {
            files.push((name, meta.ino(), meta.len(), meta.modified().ok()));
        };
        if let Ok(meta) = std::fs::metadata(dir.join("packed-refs")) {
            add("packed-refs".into(), meta);
        }
        for sub in ["objects/pack", "objects/info", "objects/info/commit-graphs"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata()
                    && meta.is_file()
                {
                    let mut name = std::ffi::OsString::from(sub);
                    name.push("/");
                    name.push(entry.file_name());
                    add(name, meta);
                }
            }
        }
        files.sort();
        Fingerprint(files)
    }
}

/// Removes what an interrupted clone, fetch or ref update leaves behind,
/// so that the next fetch neither trips over it nor mistakes it for
/// damage: stale lock files, temporary files and `.keep` markers in the
/// pack directory, packs without an index and indices without a pack.
/// Only called with the mirror's fetch lock held (nothing else writes a
/// mirror; the data directory belongs to one server process).
pub fn tidy(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut remove = |path: PathBuf| {
        if std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    };
    for name in [
        "packed-refs.lock",
        "HEAD.lock",
        "config.lock",
        "shallow.lock",
        "index.lock",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            remove(path);
        }
    }
    let mut stack = vec![dir.join("refs")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if path.extension().is_some_and(|e| e == "lock") => remove(path),
                _ => {}
            }
        }
    }
    let packs = dir.join("objects").join("pack");
    let Ok(entries) = std::fs::read_dir(&packs) else {
        return removed;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for name in &names {
        let path = packs.join(name);
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
        let has = |other: &str| names.iter().any(|n| *n == format!("{stem}.{other}"));
        let temporary = name.starts_with(".tmp") || name.starts_with("tmp_");
        let stale = temporary
            || stem.starts_with("pack-")
                && match ext {
                    "keep" => true,
                    "pack" => !has("idx"),
                    "idx" | "rev" | "bitmap" | "mtimes" => !has("pack"),
                    _ => false,
                };
        if stale {
            remove(path);
        }
    }
    removed
}

fn tail(path: &Path, n: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len < n {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(len - n))?;
    let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(40));
    file.take(n).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The bytes a directory takes (files only, links not followed).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// A mirror on disk as eviction sees it.
#[derive(Debug)]
pub struct OnDisk {
    /// The directory name.
    pub name: String,
    /// When it was last used (`None`: no marker, a half-written clone).
    pub used: Option<SystemTime>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Every mirror directory under `root`, least recently used first
/// (half-written ones before all others).
pub fn scan(root: &Path) -> Vec<OnDisk> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let used = std::fs::metadata(path.join(MARKER))
            .and_then(|m| m.modified())
            .ok();
        out.push(OnDisk {
            name,
            used,
            bytes: dir_size(&path),
        });
    }
    out.sort_by_key(|d| d.used);
    out
}

/// The mirrors of one process, by directory name.
#[derive(Debug, Default)]
pub struct Mirrors {
    map: std::sync::Mutex<HashMap<String, Arc<Mirror>>>,
}

impl Mirrors {
    /// The mirror named `name` under `root`, created in memory on first use.
    pub fn get(&self, root: &Path, name: &str) -> Arc<Mirror> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            map.entry(name.to_owned())
                .or_insert_with(|| Arc::new(Mirror::new(root.join(name)))),
        )
    }
}
