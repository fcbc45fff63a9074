//! The store's errors.

/// What opening or using a database can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend we speak.
    #[error("unsupported database URL `{0}`: use postgres://..., sqlite://PATH or a file path")]
    UnsupportedUrl(String),
    /// Connecting failed; the message is the backend's own reason
    /// (connection refused, authentication failed, unknown database, ...).
    #[error("cannot connect to {backend} database: {reason}")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's message.
        reason: String,
    },
    /// No pooled connection could be had.
    #[error("database pool: {0}")]
    Pool(String),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Preparing the database file's directory failed.
    #[error("database directory {path}: {source}")]
    Io {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store refused the operation (a conflict found inside a
    /// transaction, which is then rolled back).
    #[error(transparent)]
    Refused(slipway_core::StoreError),
    /// The change would break a rule the store keeps (a project's last
    /// owner); the transaction was rolled back.
    #[error("{0}")]
    Rule(String),
    /// A blocking task was cancelled or panicked.
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<DbError> for slipway_core::StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Refused(e) => e,
            other => slipway_core::StoreError::Backend(other.to_string()),
        }
    }
}
