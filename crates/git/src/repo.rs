//! Blocking work on one mirror with gix: fetch (with pruning), resolve,
//! list refs, walk trees, read files, check out. Everything here runs on a
//! blocking thread; the async side lives in `cache` and `source`.

use crate::error::GitError;
use chrono::{DateTime, Utc};
use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind as GixKind;
use gix::remote::Direction;
use slipway_core::source::{
    CommitInfo, Credentials, DirEntry, EntryKind, Person, RefInfo, RefKind, SourceError,
};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The refspecs a mirror fetches: every branch and every tag, forced.
pub const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// The heads of pull and merge requests (GitHub and Gitee `refs/pull/N/head`,
/// GitLab `refs/merge-requests/N/head`), fetched only when a commit is not
/// found otherwise: a request from a fork has its commits nowhere else.
pub const REVIEW_REFSPECS: [&str; 2] = [
    "+refs/pull/*/head:refs/pull/*/head",
    "+refs/merge-requests/*/head:refs/merge-requests/*/head",
];

/// How many symbolic links one path may go through.
const MAX_LINK_HOPS: usize = 40;

/// Options every mirror is opened with: no system, global or environment
/// configuration (so no credential helpers, proxies or URL rewrites of the
/// host leak in).
pub fn open_options() -> gix::open::Options {
    gix::open::Options::isolated()
}

/// Opens the mirror at `dir`.
pub fn open(dir: &Path) -> Result<gix::ThreadSafeRepository, GitError> {
    gix::ThreadSafeRepository::open_opts(dir, open_options()).map_err(|e| GitError::Open {
        path: dir.to_owned(),
        reason: chain(&e),
    })
}

/// Creates an empty bare repository at `dir`.
pub fn init(dir: &Path) -> Result<gix::ThreadSafeRepository, GitError> {
    gix::ThreadSafeRepository::init_opts(
        dir,
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        open_options(),
    )
    .map_err(|e| GitError::Open {
        path: dir.to_owned(),
        reason: chain(&e),
    })
}

/// An error and its causes on one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// What a fetch did.
#[derive(Debug, Default)]
pub struct FetchReport {
    /// Local refs deleted because the remote no longer has them.
    pub pruned: Vec<String>,
    /// The remote's default branch, when it advertised one.
    pub head: Option<String>,
}

/// Fetches every branch and tag of `url` into `repo`, then deletes local
/// branches and tags the remote no longer advertises. `credentials` are
/// handed to gix only when the server asks for them.
pub fn fetch(
    repo: &gix::Repository,
    url: &str,
    credentials: Option<&Credentials>,
    reviews: bool,
) -> Result<FetchReport, GitError> {
    let refspecs: Vec<&str> = if reviews {
        REFSPECS
            .iter()
            .chain(REVIEW_REFSPECS.iter())
            .copied()
            .collect()
    } else {
        REFSPECS.to_vec()
    };
    let asked = Arc::new(AtomicBool::new(false));
    let remote = repo
        .remote_at(url)
        .map_err(|e| GitError::Transfer(chain(&e)))?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(refspecs, Direction::Fetch)
        .map_err(|e| GitError::Transfer(chain(&e)))?;
    let connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| GitError::Transfer(chain(&e)))?;
    let given = credentials.cloned();
    let asked_in = Arc::clone(&asked);
    let connection = connection.with_credentials(move |action| {
        use gix::credentials::helper::Action;
        match action {
            Action::Get(ctx) => {
                asked_in.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(given.as_ref().map(|c| gix::credentials::protocol::Outcome {
                    identity: gix::sec::identity::Account {
                        username: c.username.clone(),
                        password: c.password.clone(),
                        oauth_refresh_token: None,
                    },
                    next: ctx.into(),
                }))
            }
            Action::Store(_) | Action::Erase(_) => Ok(None),
        }
    });
    let interrupt = AtomicBool::new(false);
    let outcome = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .and_then(|prepared| prepared.receive(gix::progress::Discard, &interrupt));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let reason = chain(&e);
            return Err(if asked.load(std::sync::atomic::Ordering::SeqCst) {
                GitError::Auth(if credentials.is_some() {
                    format!(
                        "the server refused the credentials or they could not be sent ({reason})"
                    )
                } else {
                    "the server asks for credentials and none are configured".to_owned()
                })
            } else {
                GitError::Transfer(reason)
            });
        }
    };
    let mut advertised = HashSet::new();
    let mut head = None;
    for r in &outcome.ref_map.remote_refs {
        use gix::protocol::handshake::Ref;
        match r {
            Ref::Direct { full_ref_name, .. }
            | Ref::Peeled { full_ref_name, .. }
            | Ref::Unborn { full_ref_name, .. } => {
                advertised.insert(full_ref_name.to_string());
            }
            Ref::Symbolic {
                full_ref_name,
                target,
                ..
            } => {
                if full_ref_name == "HEAD" {
                    head = Some(target.to_string());
                }
                advertised.insert(full_ref_name.to_string());
            }
        }
    }
    let mut pruned = Vec::new();
    for prefix in ["refs/heads/", "refs/tags/"] {
        for r in refs_under(repo, prefix)? {
            let name = r.name().as_bstr().to_string();
            if !advertised.contains(&name) {
                r.delete().map_err(|e| GitError::Repository(chain(&e)))?;
                pruned.push(name);
            }
        }
    }
    if let Some(target) = &head
        && target.starts_with("refs/heads/")
    {
        set_head(repo, target)?;
    }
    Ok(FetchReport { pruned, head })
}

fn set_head(repo: &gix::Repository, target: &str) -> Result<(), GitError> {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
    let target: gix::refs::FullName = target
        .try_into()
        .map_err(|e: gix::validate::reference::name::Error| GitError::Repository(e.to_string()))?;
    repo.edit_reference(RefEdit {
        change: Change::Update {
            log: LogChange::default(),
            expected: PreviousValue::Any,
            new: gix::refs::Target::Symbolic(target),
        },
        name: "HEAD"
            .try_into()
            .map_err(|e: gix::validate::reference::name::Error| {
                GitError::Repository(e.to_string())
            })?,
        deref: false,
    })
    .map_err(|e| GitError::Repository(chain(&e)))?;
    Ok(())
}

/// What a reference resolved to.
#[derive(Debug)]
pub struct Resolved {
    /// The commit.
    pub id: gix::ObjectId,
    /// The full ref name, when it was a ref.
    pub refname: Option<String>,
}

/// Why a reference did not resolve.
#[derive(Debug)]
pub enum Unresolved {
    /// Nothing by that name.
    NotFound,
    /// An abbreviated id with several matches.
    Ambiguous,
    /// Something else failed.
    Failed(GitError),
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves a branch, tag, `HEAD`, full ref name, or full or abbreviated
/// commit id to a commit, in the order git uses: `HEAD`, `refs/…` as
/// given, `refs/tags/<r>`, `refs/heads/<r>`, then ids. Revision syntax
/// (`main~1`, `:/text`, `@{…}`) is not accepted.
pub fn resolve(repo: &gix::Repository, reference: &str) -> Result<Resolved, Unresolved> {
    let r = reference.trim();
    if r.is_empty()
        || r.len() > 255
        || r.contains(['~', '^', ':', '@', '\\', '?', '*', '[', ' '])
        || r.contains("..")
        || r.chars().any(char::is_control)
    {
        return Err(Unresolved::NotFound);
    }
    let mut candidates = Vec::new();
    if r == "HEAD" {
        candidates.push("HEAD".to_owned());
    } else if r.starts_with("refs/") {
        candidates.push(r.to_owned());
    } else {
        candidates.push(format!("refs/tags/{r}"));
        candidates.push(format!("refs/heads/{r}"));
    }
    for name in candidates {
        let found = repo.try_find_reference(name.as_str());
        let Ok(Some(mut reference)) = found else {
            continue;
        };
        let commit = reference
            .peel_to_commit()
            .map_err(|e| Unresolved::Failed(GitError::Repository(chain(&e))))?;
        let refname = reference.name().as_bstr().to_string();
        return Ok(Resolved {
            id: commit.id,
            refname: Some(refname),
        });
    }
    if is_hex(r) && r.len() >= 4 && r.len() <= 40 {
        let id = match repo.rev_parse_single(r) {
            Ok(id) => id,
            Err(e) => {
                let text = chain(&e);
                return Err(
                    if text.contains("ambiguous") || text.contains("Ambiguous") {
                        Unresolved::Ambiguous
                    } else {
                        Unresolved::NotFound
                    },
                );
            }
        };
        let object = id.object().map_err(|_| Unresolved::NotFound)?;
        let commit = object.peel_to_commit().map_err(|_| Unresolved::NotFound)?;
        return Ok(Resolved {
            id: commit.id,
            refname: None,
        });
    }
    Err(Unresolved::NotFound)
}

/// The facts of a commit.
pub fn commit_info(
    repo: &gix::Repository,
    resolved: &Resolved,
    reference: &str,
) -> Result<CommitInfo, GitError> {
    let commit = repo
        .find_commit(resolved.id)
        .map_err(|e| GitError::Repository(chain(&e)))?;
    let message = commit
        .message_raw()
        .map_err(|e| GitError::Repository(chain(&e)))?
        .to_str_lossy()
        .into_owned();
    let author = commit
        .author()
        .map_err(|e| GitError::Repository(chain(&e)))?
        .trim();
    let seconds = author.seconds();
    let time = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default();
    Ok(CommitInfo {
        id: resolved.id.to_string(),
        reference: reference.to_owned(),
        refname: resolved.refname.clone(),
        message,
        author: Person {
            name: author.name.to_str_lossy().into_owned(),
            email: author.email.to_str_lossy().into_owned(),
        },
        time,
    })
}

/// The references whose full names start with `prefix` (unreadable ones
/// are skipped).
fn refs_under<'r>(
    repo: &'r gix::Repository,
    prefix: &str,
) -> Result<Vec<gix::Reference<'r>>, GitError> {
    let platform = repo
        .references()
        .map_err(|e| GitError::Repository(chain(&e)))?;
    let iter = platform
        .prefixed(prefix)
        .map_err(|e| GitError::Repository(chain(&e)))?;
    Ok(iter.flatten().collect())
}

/// Branches or tags, sorted by name, each peeled to its commit (refs that
/// do not lead to a commit are left out).
pub fn list_refs(repo: &gix::Repository, kind: RefKind) -> Result<Vec<RefInfo>, GitError> {
    let prefix = match kind {
        RefKind::Branch => "refs/heads/",
        RefKind::Tag => "refs/tags/",
    };
    let mut out = Vec::new();
    for mut r in refs_under(repo, prefix)? {
        let full_name = r.name().as_bstr().to_string();
        let Ok(commit) = r.peel_to_commit() else {
            continue;
        };
        out.push(RefInfo {
            name: full_name
                .strip_prefix(prefix)
                .unwrap_or(&full_name)
                .to_owned(),
            full_name,
            kind,
            commit: commit.id.to_string(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A path of the repository, checked: relative, no `..`, no NUL. Returns
/// its components (`.` and empty ones dropped).
pub fn split_path(path: &str) -> Result<Vec<Vec<u8>>, SourceError> {
    let refuse = |reason: &str| SourceError::PathRefused {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if path.starts_with('/') {
        return Err(refuse("absolute paths are not allowed"));
    }
    if path.contains('\0') {
        return Err(refuse("NUL is not allowed"));
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(refuse("`..` is not allowed")),
            _ => out.push(c.as_bytes().to_vec()),
        }
    }
    Ok(out)
}

/// One entry found by [`lookup`].
#[derive(Debug, Clone)]
pub struct Found {
    /// Its mode.
    pub kind: GixKind,
    /// Its object.
    pub id: gix::ObjectId,
}

/// Walks `path` from the tree of `commit`, following symbolic links that
/// stay inside the tree (relative targets resolved against the link's
/// directory). A link that leaves the tree, an absolute target, or a path
/// into a submodule is refused. The last component's link is followed
/// only when `follow_last`.
pub fn lookup(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
    follow_last: bool,
) -> Result<Found, SourceError> {
    let repo_err = |e: &(dyn std::error::Error + 'static)| SourceError::Cache(chain(e));
    let refuse = |reason: String| SourceError::PathRefused {
        path: path.to_owned(),
        reason,
    };
    let not_found = || SourceError::PathNotFound {
        path: path.to_owned(),
        commit: commit.to_string(),
    };
    let root = repo
        .find_commit(commit)
        .map_err(|e| repo_err(&e))?
        .tree_id()
        .map_err(|e| repo_err(&e))?
        .detach();
    let mut remaining: std::collections::VecDeque<Vec<u8>> = split_path(path)?.into();
    // The directories walked so far: (tree id) from the root down.
    let mut trees: Vec<gix::ObjectId> = vec![root];
    let mut hops = 0;
    let mut current = Found {
        kind: GixKind::Tree,
        id: root,
    };
    while let Some(component) = remaining.pop_front() {
        if component.is_empty() || component == b"." {
            continue;
        }
        if component == b".." {
            if trees.len() <= 1 {
                return Err(refuse(
                    "a symbolic link on the path leaves the repository".into(),
                ));
            }
            trees.pop();
            let id = *trees.last().unwrap_or(&root);
            current = Found {
                kind: GixKind::Tree,
                id,
            };
            continue;
        }
        if current.kind != GixKind::Tree {
            return Err(match current.kind {
                GixKind::Commit => refuse("the path goes into a submodule".into()),
                _ => SourceError::WrongKind {
                    path: path.to_owned(),
                    expected: "directory",
                },
            });
        }
        let tree = repo.find_tree(current.id).map_err(|e| repo_err(&e))?;
        let decoded = tree.decode().map_err(|e| repo_err(&e))?;
        let Some(entry) = decoded
            .entries
            .iter()
            .find(|e| e.filename.as_bytes() == component.as_slice())
        else {
            return Err(not_found());
        };
        let kind = entry.mode.kind();
        let id = entry.oid.to_owned();
        if kind == GixKind::Link && (follow_last || !remaining.is_empty()) {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(refuse("too many symbolic links".into()));
            }
            let blob = repo.find_blob(id).map_err(|e| repo_err(&e))?;
            let target = blob.data.clone();
            if target.starts_with(b"/") {
                return Err(refuse(
                    "a symbolic link on the path points outside the repository".into(),
                ));
            }
            for part in target.split(|b| *b == b'/').rev() {
                remaining.push_front(part.to_vec());
            }
            current = Found {
                kind: GixKind::Tree,
                id: *trees.last().unwrap_or(&root),
            };
            continue;
        }
        if kind == GixKind::Tree {
            trees.push(id);
        }
        current = Found { kind, id };
    }
    Ok(current)
}

/// The bytes of the file at `path` (symbolic links inside the tree
/// followed).
pub fn read_file(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
) -> Result<Vec<u8>, SourceError> {
    let found = lookup(repo, commit, path, true)?;
    match found.kind {
        GixKind::Blob | GixKind::BlobExecutable => {
            let mut blob = repo
                .find_blob(found.id)
                .map_err(|e| SourceError::Cache(chain(&e)))?;
            Ok(blob.take_data())
        }
        _ => Err(SourceError::WrongKind {
            path: path.to_owned(),
            expected: "file",
        }),
    }
}

/// The entries of the directory at `path`, sorted by name.
pub fn list_dir(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
) -> Result<Vec<DirEntry>, SourceError> {
    let found = lookup(repo, commit, path, true)?;
    if found.kind != GixKind::Tree {
        return Err(SourceError::WrongKind {
            path: path.to_owned(),
            expected: "directory",
        });
    }
    let tree = repo
        .find_tree(found.id)
        .map_err(|e| SourceError::Cache(chain(&e)))?;
    let decoded = tree.decode().map_err(|e| SourceError::Cache(chain(&e)))?;
    let mut out = Vec::with_capacity(decoded.entries.len());
    for entry in &decoded.entries {
        let (kind, size) = match entry.mode.kind() {
            GixKind::Tree => (EntryKind::Dir, None),
            GixKind::Commit => (EntryKind::Submodule, None),
            GixKind::Link => (EntryKind::Symlink, header_size(repo, entry.oid)),
            GixKind::Blob | GixKind::BlobExecutable => {
                (EntryKind::File, header_size(repo, entry.oid))
            }
        };
        out.push(DirEntry {
            name: entry.filename.to_str_lossy().into_owned(),
            kind,
            mode: u32::from(entry.mode.value()),
            size,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn header_size(repo: &gix::Repository, id: &gix::oid) -> Option<u64> {
    repo.find_header(id).ok().map(|h| h.size())
}

/// Writes the tree of `commit` (or of its `subdir`) into `dest`.
pub fn checkout(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    subdir: Option<&str>,
    dest: &Path,
) -> Result<(), SourceError> {
    let fail = |reason: String| SourceError::Checkout {
        dest: dest.to_owned(),
        reason,
    };
    let tree_id = match subdir {
        Some(dir) if !split_path(dir)?.is_empty() => {
            let found = lookup(repo, commit, dir, true)?;
            if found.kind != GixKind::Tree {
                return Err(SourceError::WrongKind {
                    path: dir.to_owned(),
                    expected: "directory",
                });
            }
            found.id
        }
        _ => repo
            .find_commit(commit)
            .map_err(|e| SourceError::Cache(chain(&e)))?
            .tree_id()
            .map_err(|e| SourceError::Cache(chain(&e)))?
            .detach(),
    };
    std::fs::create_dir_all(dest).map_err(|e| fail(e.to_string()))?;
    let empty = std::fs::read_dir(dest)
        .map_err(|e| fail(e.to_string()))?
        .next()
        .is_none();
    let mut index = repo
        .index_from_tree(&tree_id)
        .map_err(|e| fail(chain(&e)))?;
    let mut options = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .map_err(|e| fail(chain(&e)))?;
    options.destination_is_initially_empty = empty;
    options.overwrite_existing = true;
    let objects = repo
        .objects
        .clone()
        .into_arc()
        .map_err(|e| fail(chain(&e)))?;
    let interrupt = AtomicBool::new(false);
    let outcome = gix::worktree::state::checkout(
        &mut index,
        dest,
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        &interrupt,
        options,
    )
    .map_err(|e| fail(chain(&e)))?;
    if let Some(first) = outcome.errors.first() {
        return Err(fail(format!(
            "{} file(s) could not be written, first `{}`: {}",
            outcome.errors.len(),
            first.path,
            chain(&first.error)
        )));
    }
    Ok(())
}
