//! The errors of this crate, and how they become the port's
//! [`SourceError`]. No variant carries credentials: URLs in here are
//! always the redacted form.

use slipway_core::source::SourceError;
use std::path::PathBuf;

/// What the git work can fail with, before it is told to a caller.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A mirror could not be opened or created.
    #[error("mirror {path}: {reason}")]
    Open {
        /// The mirror's directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The server asked for credentials and none were accepted.
    #[error("{0}")]
    Auth(String),
    /// The connection or the transfer failed.
    #[error("{0}")]
    Transfer(String),
    /// Reading or writing the mirror's objects or refs failed.
    #[error("{0}")]
    Repository(String),
    /// A file of the cache could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(String),
}

impl GitError {
    /// The port's error for an operation on `url` (already redacted),
    /// with any occurrence of `secret` masked.
    pub fn into_source(self, url: &str, secret: Option<&str>) -> SourceError {
        let mask = |s: String| match secret {
            Some(secret) if !secret.is_empty() => s.replace(secret, "***"),
            _ => s,
        };
        match self {
            GitError::Auth(reason) => SourceError::Auth {
                url: url.to_owned(),
                reason: mask(reason),
            },
            GitError::Transfer(reason) => SourceError::Fetch {
                url: url.to_owned(),
                reason: mask(reason),
            },
            other => SourceError::Cache(mask(other.to_string())),
        }
    }
}
