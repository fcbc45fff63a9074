//! The mirror cache on disk: one bare repository per remote under
//! `<data_dir>/mirrors/<name>`, a completion marker written only after a
//! whole clone, a cheap integrity check, and least-recently-used eviction.

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
    /// The opened repository, shared between threads.
    pub repo: std::sync::Mutex<Option<gix::ThreadSafeRepository>>,
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

    /// The shared repository, opened (and checked) on first use.
    pub fn thread_safe(&self) -> Result<gix::ThreadSafeRepository, GitError> {
        let mut slot = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(repo) = slot.as_ref() {
            return Ok(repo.clone());
        }
        quick_check(&self.dir)?;
        let repo = crate::repo::open(&self.dir)?;
        *slot = Some(repo.clone());
        Ok(repo)
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
        Err(source) => return Err(GitError::Io { path: packs, source }),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pack") {
            continue;
        }
        let idx = path.with_extension("idx");
        let pack_tail = tail(&path, 20)
            .map_err(|e| broken(format!("{}: {e}", path.display())))?;
        let idx_tail =
            tail(&idx, 40).map_err(|e| broken(format!("{}: {e}", idx.display())))?;
        if pack_tail.len() != 20 || idx_tail.len() != 40 || pack_tail[..] != idx_tail[..20] {
            return Err(broken(format!(
                "pack {} is truncated or does not match its index",
                path.display()
            )));
        }
    }
    Ok(())
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
