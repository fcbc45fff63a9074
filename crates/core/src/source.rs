//! The git-source port: how the engine and the domain reach repositories
//! (refresh a mirror, resolve refs, list branches and tags, read files and
//! directories at a commit, check a commit out into a job workspace).
//! Generic reading only: what the files mean (workflow definitions, the
//! Deploy API's manifests) is the domain's business. Implemented by
//! `slipway-git`; this module knows nothing of any git library.

use crate::plan::Problem;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A user name and a password or token for a remote, taken from the
/// application's secrets. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The user name (for token-only hosts, any non-empty word).
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// The user name sent with a token given alone (GitHub and GitLab
    /// accept any non-empty user name with an access token).
    pub const TOKEN_USER: &'static str = "x-access-token";

    /// Credentials from a user name and a password or token.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Credentials from a secret's value: `user:password-or-token` (split
    /// at the first `:`), or a token alone, sent with the user name
    /// [`Credentials::TOKEN_USER`]. Blanks at either end are ignored (a
    /// pasted token often ends with a newline). `None` when the value is
    /// blank or has an empty user name or password.
    pub fn from_secret(value: &str) -> Option<Credentials> {
        let value = value.trim();
        match value.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Some(Credentials::new(user, password))
            }
            Some(_) => None,
            None if value.is_empty() => None,
            None => Some(Credentials::new(Self::TOKEN_USER, value)),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A remote repository and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `https://…`, `http://…`, `git://…`, or `file://…` when the operator
    /// enables local repositories.
    pub url: String,
    /// Sent only when the server asks for them.
    pub credentials: Option<Credentials>,
}

impl Remote {
    /// A remote without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Remote {
            url: url.into(),
            credentials: None,
        }
    }

    /// The same remote with credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
}

/// Who wrote a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// A commit, as a job and a user see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// The full hexadecimal id.
    pub id: String,
    /// What was asked for (`main`, `v1.2`, `3f2a9c1`, …).
    pub reference: String,
    /// The full ref name it resolved through (`refs/heads/main`), when it
    /// was a ref rather than a commit id.
    pub refname: Option<String>,
    /// The whole message.
    pub message: String,
    /// The author.
    pub author: Person,
    /// When the author made it.
    pub time: DateTime<Utc>,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }

    /// The environment a job gets for this commit: `SLIPWAY_COMMIT`,
    /// `SLIPWAY_REF` and `SLIPWAY_COMMIT_MESSAGE`.
    pub fn env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("SLIPWAY_COMMIT".to_owned(), self.id.clone()),
            (
                "SLIPWAY_REF".to_owned(),
                self.refname
                    .clone()
                    .unwrap_or_else(|| self.reference.clone()),
            ),
            ("SLIPWAY_COMMIT_MESSAGE".to_owned(), self.message.clone()),
        ])
    }
}

/// Branch or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    /// `refs/heads/…`
    Branch,
    /// `refs/tags/…`
    Tag,
}

/// A branch or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefInfo {
    /// The short name (`main`, `v1.2`).
    pub name: String,
    /// The full name (`refs/heads/main`).
    pub full_name: String,
    /// Branch or tag.
    pub kind: RefKind,
    /// The commit it points at (annotated tags peeled).
    pub commit: String,
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file, executable or not (see the mode).
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A submodule (a commit of another repository).
    Submodule,
}

/// One entry of a directory at a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The file name (non-UTF-8 bytes replaced by U+FFFD).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// The git mode (`0o100644`, `0o100755`, `0o120000`, `0o40000`,
    /// `0o160000`).
    pub mode: u32,
    /// The size in bytes of files and symlinks (the target's length).
    pub size: Option<u64>,
}

/// What the shell kind asks for when a job declares a repository.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The repository.
    pub remote: Remote,
    /// Branch, tag, or full or abbreviated commit id.
    pub reference: String,
    /// Only this directory of the repository (its contents land directly
    /// in `dest`).
    pub subdir: Option<String>,
    /// Where the files go; created when missing.
    pub dest: PathBuf,
}

/// What a git source can fail with. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The URL's scheme or form is not accepted.
    #[error("repository URL `{url}` refused: {reason}")]
    UrlRefused {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// A path inside the repository is not acceptable.
    #[error("path `{path}` refused: {reason}")]
    PathRefused {
        /// The path as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// No branch, tag or commit by that name.
    #[error("`{reference}` is not a branch, tag or commit of {url}")]
    RefNotFound {
        /// The URL, without credentials.
        url: String,
        /// What was asked for.
        reference: String,
    },
    /// An abbreviated id matches several objects.
    #[error("`{reference}` is ambiguous in {url}")]
    Ambiguous {
        /// The URL, without credentials.
        url: String,
        /// What was asked for.
        reference: String,
    },
    /// Nothing at that path in that commit.
    #[error("`{path}` does not exist at {commit}")]
    PathNotFound {
        /// The path.
        path: String,
        /// The commit id.
        commit: String,
    },
    /// The path is a directory (or a file) where the other was needed.
    #[error("`{path}` is not a {expected}")]
    WrongKind {
        /// The path.
        path: String,
        /// `file` or `directory`.
        expected: &'static str,
    },
    /// The server asked for credentials and none were accepted.
    #[error("authentication to {url} failed: {reason}")]
    Auth {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// The remote could not be reached or the transfer failed.
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// Writing a checkout failed.
    #[error("checkout into {dest} failed: {reason}")]
    Checkout {
        /// The destination.
        dest: PathBuf,
        /// Why.
        reason: String,
    },
    /// A definition file is not valid JSON / YAML.
    #[error("`{path}` cannot be parsed: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A definition parsed but breaks the format's rules.
    #[error("`{path}` is invalid: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: String,
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// The local mirror or the data directory failed.
    #[error("git cache: {0}")]
    Cache(String),
}

/// Access to git repositories: mirrors, refs, files, directories and
/// checkouts. Operations other than [`GitSource::refresh`] and
/// [`GitSource::prepare_workspace`] work on the local mirror, creating it
/// when missing and refreshing it once when a reference is not found.
#[async_trait]
pub trait GitSource: Send + Sync + 'static {
    /// Brings the local mirror up to date with the remote (clone or fetch,
    /// deleted refs pruned).
    async fn refresh(&self, remote: &Remote) -> Result<(), SourceError>;

    /// The commit a branch, tag (peeled) or full or abbreviated id names.
    async fn resolve(&self, remote: &Remote, reference: &str) -> Result<CommitInfo, SourceError>;

    /// Every branch, sorted by name.
    async fn branches(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError>;

    /// Every tag, sorted by name.
    async fn tags(&self, remote: &Remote) -> Result<Vec<RefInfo>, SourceError>;

    /// The bytes of the file at `path` in the commit `reference` names.
    async fn read_file(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<u8>, SourceError>;

    /// The entries of the directory at `path` (`""` for the root), sorted
    /// by name.
    async fn list_dir(
        &self,
        remote: &Remote,
        reference: &str,
        path: &str,
    ) -> Result<Vec<DirEntry>, SourceError>;

    /// Writes the tree of the commit `reference` names (or only its
    /// `subdir`) into `dest` from the local mirror, exec bits and symlinks
    /// kept.
    async fn checkout(
        &self,
        remote: &Remote,
        reference: &str,
        subdir: Option<&str>,
        dest: &Path,
    ) -> Result<CommitInfo, SourceError>;

    /// What a job that declares a repository needs: refresh the mirror,
    /// resolve the reference, check it out into the workspace. The result
    /// gives the job its `SLIPWAY_*` commit variables ([`CommitInfo::env`]).
    async fn prepare_workspace(&self, request: &CheckoutRequest)
    -> Result<CommitInfo, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::Credentials;

    #[test]
    fn a_secret_gives_user_and_token_or_a_token_alone() {
        assert_eq!(
            Credentials::from_secret("bot:s3cret:with-colon\n"),
            Some(Credentials::new("bot", "s3cret:with-colon"))
        );
        assert_eq!(
            Credentials::from_secret("ghp_abc"),
            Some(Credentials::new(Credentials::TOKEN_USER, "ghp_abc"))
        );
        for bad in ["", "  ", ":token", "user:"] {
            assert_eq!(Credentials::from_secret(bad), None, "{bad:?}");
        }
    }
}
